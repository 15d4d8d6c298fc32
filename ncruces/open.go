package ncruces

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"github.com/litedir/litedir/internal/fileuri"
	"github.com/litedir/litedir/internal/observe"
)

// Config says which database [Open] opens and how. The zero value of each
// field is a usable default, except Path.
type Config struct {
	// Path is the database file. Required. Relative paths are made absolute
	// when the database is opened.
	Path string

	// ReadOnly opens the file with mode=ro and query_only: the database file
	// is never created or written, and its journal mode is left as it is
	// (the journal_mode and page_size pragmas are skipped). It is for
	// inspecting a database another process owns, which works while that
	// process has it open in WAL mode. Reading a WAL database may create its
	// -wal and -shm files, as any reader does, and a read-only connection
	// leaves them behind for the next writer. PRAGMA optimize is not run on
	// close.
	//
	// On profiles with LockingExclusive the file is opened read-write
	// instead (mode=rw), because a read-only file cannot hold the exclusive
	// lock; only query_only refuses writes then, and closing the connection
	// may checkpoint the WAL into the database file. Such a profile also
	// means no other process can read while the owner has the database open:
	// Open fails with ErrBusy.
	ReadOnly bool

	// QueryOnly opens the file read-write but sets PRAGMA query_only=1 on
	// every connection: statements that write fail with ErrReadOnly. For
	// read pools beside a writer pool. PRAGMA optimize is not run on close.
	QueryOnly bool

	// NoCreate opens with mode=rw instead of mode=rwc: a missing file is
	// ErrCantOpen instead of a new empty database.
	NoCreate bool

	// Immediate starts transactions with BEGIN IMMEDIATE (_txlock=immediate).
	// For writer pools: the write lock is taken when the transaction begins,
	// so the busy timeout applies there, and a transaction that read first
	// never fails with SQLITE_BUSY when it writes. false means BEGIN
	// DEFERRED, whatever the driver version's own default.
	Immediate bool

	// Pragmas are run in order on every new connection, before it is used.
	// nil means DefaultPragmas(). They are validated and ordered as by
	// MergePragmas, and the profile adds what it needs (locking_mode,
	// journal_mode=DELETE; on darwin checkpoint_fullfsync and fullfsync
	// before journal_mode unless set, see Profile.FullFsync), as do ReadOnly
	// and QueryOnly (query_only=1).
	// Without a busy_timeout pragma the driver's default of one minute holds.
	// A journal_mode pragma that finds the database busy is retried for as
	// long as the busy timeout, since SQLite does not wait there itself.
	Pragmas []Pragma

	// MaxConns is the size of the connection pool, open and idle. 0 means 1.
	// A profile with SingleConnection forces 1.
	MaxConns int

	// Profile is the platform profile to apply. nil means Platform().
	Profile *Profile

	// Key, when not nil, opens the database encrypted with it (see [Key]):
	// a new database is created encrypted, an existing one must have been
	// encrypted with the same key. Open checks that first and fails, with
	// nothing changed, with ErrWrongKey, or ErrNotEncrypted for a plaintext
	// database. The Key must stay open until the DB is closed. nil means a
	// plaintext database; an encrypted one then fails with ErrEncrypted.
	Key *Key

	// Init, if not nil, runs on every new connection after the pragmas,
	// for what SQL cannot set: hooks, authorizers, functions. An error
	// fails the connection. nil means nothing more.
	Init func(*sqlite3.Conn) error

	// Term, if not nil, runs on every connection as it closes, while it is
	// still open and before anything else Open arranged for then (PRAGMA
	// optimize): the place to finalize statements kept prepared on it,
	// which would otherwise keep SQLite from closing it. Its error is
	// logged at debug level. nil means nothing more.
	Term func(*sqlite3.Conn) error

	// Logger receives warnings (a journal mode SQLite did not grant) and
	// debug details. nil discards.
	Logger *slog.Logger
}

// Open opens the database cfg.Path as a pool of connections.
//
// After checking cfg it calls [Initialize]. Every new connection runs the
// pragmas (see [Config].Pragmas) in order, in the driver's init callback, and
// runs PRAGMA optimize, best effort, before it closes. Open takes one connection
// at once and reads the database header, so that a file that cannot be opened
// (ErrCantOpen), is not a database (ErrNotADatabase), or rejects a pragma
// fails Open rather than the first query; a file that is not a database is
// left as it was, with no -wal, -shm or -journal file beside it.
//
// Open then compares the journal mode in force with the one asked for. WAL
// can silently stay "delete" (no shared memory, some network file systems);
// Open logs a warning and goes on; PRAGMA journal_mode tells the truth.
//
// Errors are [*fs.PathError] values with Op "ncruces: open" and cfg.Path,
// wrapping the driver's error, which [ErrBusy] and the other classes match;
// a file SQLite needs that a sandbox keeps it from creating is a
// [*DeniedError] in the chain.
// On error, everything Open opened is closed. The caller closes the returned
// DB.
func Open(ctx context.Context, cfg Config) (*sql.DB, error) {
	return open(ctx, cfg, nil)
}

// open is Open with extra URI parameters, for tests (vfs=...).
func open(ctx context.Context, cfg Config, extra url.Values) (_ *sql.DB, err error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("ncruces: open: %w: empty Path", ErrInvalidConfig)
	}
	fail := func(err error) error {
		return &fs.PathError{Op: "ncruces: open", Path: cfg.Path, Err: err}
	}
	if cfg.MaxConns < 0 {
		return nil, fail(fmt.Errorf("%w: MaxConns %d < 0", ErrInvalidConfig, cfg.MaxConns))
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	prof := Platform()
	if cfg.Profile != nil {
		prof = *cfg.Profile
	}

	pragmas, err := connPragmas(cfg, prof)
	if err != nil {
		return nil, fail(err)
	}
	// The transaction mode is always explicit: the driver's default for
	// "BEGIN" was deferred up to v0.36 and is immediate from v0.37.0 on
	// (for connections that are not query_only).
	params := url.Values{"mode": {"rwc"}, "_txlock": {"deferred"}}
	switch {
	case cfg.ReadOnly && prof.LockingExclusive:
		// EXCLUSIVE locking mode takes a write lock on the database file to
		// read a WAL database, and a file opened read-only cannot hold one
		// (fcntl fails with EBADF, SQLite reports an I/O error). Open it
		// read-write without creating it; query_only refuses SQL writes.
		params.Set("mode", "rw")
	case cfg.ReadOnly:
		params.Set("mode", "ro")
	case cfg.NoCreate:
		params.Set("mode", "rw")
	}
	if prof.NoLock {
		params.Set("nolock", "1")
	}
	if cfg.Immediate {
		params.Set("_txlock", "immediate")
	}
	// The default VFS, reporting a full disk as SQLITE_FULL (see fullVFS);
	// with a key, the Adiantum VFS on top of it (see crypt.go).
	cfg.Key.URIParams(params)
	if shmIsFile(prof, pragmas) {
		params.Set(shmFileParam, "1")
	}
	for k, v := range extra {
		params[k] = v
	}
	dsn, err := fileuri.Format(cfg.Path, params)
	if errors.Is(err, fileuri.ErrInvalidPath) {
		return nil, fail(fmt.Errorf("%w: %w", ErrInvalidConfig, fileuri.ErrInvalidPath))
	}
	if err != nil {
		return nil, fail(err)
	}
	conns := max(cfg.MaxConns, 1)
	if prof.SingleConnection {
		conns = 1
	}

	if err := Initialize(logger); err != nil {
		return nil, fail(err)
	}
	// Before SQLite reads a byte: the wrong key, or none, loses a WAL.
	if err := checkKey(cfg.Path, cfg.Key); err != nil {
		return nil, fail(err)
	}
	// The DSN has no _pragma parameter, so the driver keeps its default busy
	// timeout until the pragmas replace it.
	optimize := !cfg.ReadOnly && !cfg.QueryOnly
	init := cfg.Init
	if cfg.ReadOnly {
		// SQLite checkpoints the WAL, and deletes it, when the last
		// connection to a database closes. A read-only handle must change
		// no byte: where the profile opens it read-write
		// (LockingExclusive), nothing else would stop it.
		init = noCheckpointOnClose(cfg.Init)
	}
	db, err := driver.Open(dsn, initConn(pragmas, init), termConn(cfg.Term, optimize, cfg.Path, logger))
	if err != nil {
		return nil, fail(err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)

	mode, err := checkConn(ctx, db)
	if err != nil {
		err = readOnlyFSError(cfg.Path, err)
		return nil, fail(deniedError(cfg.Path, wantJournalMode(pragmas), prof.LockingExclusive, err))
	}
	if want := wantJournalMode(pragmas); want != "" && mode != want {
		logger.Warn("ncruces: SQLite did not grant the journal mode; WAL needs shared memory and a local file system",
			"path", cfg.Path, "want", want, "got", mode)
	}
	logger.Debug("ncruces: opened", "path", cfg.Path, "journal_mode", mode, "conns", conns,
		"locking", prof.Locking, "pragmas", pragmas)
	return db, nil
}

// connPragmas returns the pragmas every connection runs: cfg.Pragmas (or the
// defaults) with the profile's and the mode's requirements applied.
func connPragmas(cfg Config, prof Profile) ([]Pragma, error) {
	base := cfg.Pragmas
	if base == nil {
		base = DefaultPragmas()
	}
	var adjust []Pragma
	if prof.LockingExclusive {
		// Before WAL is entered, so that SQLite keeps the WAL index in heap
		// memory instead of shared memory; MergePragmas orders it.
		adjust = append(adjust, Pragma{"locking_mode", "EXCLUSIVE"})
	}
	if prof.NoLock || prof.JournalMode == "delete" {
		// Without locks, WAL's shared-memory index has no protection at all.
		adjust = append(adjust, Pragma{"journal_mode", "DELETE"})
	}
	if cfg.ReadOnly || cfg.QueryOnly {
		// The driver reads query_only after init and then also starts
		// read-only transactions without toggling it.
		adjust = append(adjust, Pragma{"query_only", "1"})
	}
	if prof.FullFsync {
		// darwin: F_FULLFSYNC where SQLite's durability needs it.
		adjust = append(adjust, fullFsyncPragmas(base)...)
	}
	merged, err := MergePragmas(base, adjust...)
	if err != nil || !cfg.ReadOnly {
		return merged, err
	}
	// A read-only connection cannot change the file's journal mode or page
	// size: journal_mode=WAL on a rollback-journal database fails with
	// SQLITE_READONLY. It reads the database in whatever mode it is.
	kept := merged[:0]
	for _, p := range merged {
		if !p.is("journal_mode") && !p.is("page_size") {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// noCheckpointOnClose returns an init callback that turns off the
// checkpoint SQLite runs when the last connection closes, then runs init.
func noCheckpointOnClose(init func(*sqlite3.Conn) error) func(*sqlite3.Conn) error {
	return func(c *sqlite3.Conn) error {
		if _, err := c.Config(sqlite3.DBCONFIG_NO_CKPT_ON_CLOSE, true); err != nil {
			return err
		}
		if init != nil {
			return init(c)
		}
		return nil
	}
}

// initConn returns the driver's init callback: the pragmas, in order, then
// init.
func initConn(pragmas []Pragma, init func(*sqlite3.Conn) error) func(*sqlite3.Conn) error {
	timeout := busyTimeout(pragmas)
	return func(c *sqlite3.Conn) error {
		observe.Conn(c) // tests: see what SQLite runs from here on
		for _, p := range pragmas {
			var err error
			if p.is("journal_mode") {
				err = execJournalMode(c, p, timeout)
			} else {
				err = c.Exec(p.String())
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		if init != nil {
			return init(c)
		}
		return nil
	}
}

// execJournalMode runs a journal_mode pragma, retrying while the database is
// busy for up to timeout. Changing the journal mode needs an exclusive lock
// while already holding a shared one, and SQLite never calls the busy
// handler there (waiting could deadlock): two connections that open the same
// new database at the same moment would otherwise fail one of them at once
// with SQLITE_BUSY. Once the mode is set, the pragma takes no lock.
func execJournalMode(c *sqlite3.Conn, p Pragma, timeout time.Duration) error {
	ctx := c.GetInterrupt()
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		err := c.Exec(p.String())
		if !errors.Is(err, sqlite3.BUSY) || time.Now().Add(delay).After(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// termConn returns the driver's callback for a closing connection. PRAGMA
// optimize there is what SQLite recommends for short-lived connections; it
// is cheap unless statistics are stale. A read-only connection cannot store
// its results, so it skips it.
func termConn(term func(*sqlite3.Conn) error, optimize bool, path string, logger *slog.Logger) func(*sqlite3.Conn) error {
	return func(c *sqlite3.Conn) error {
		if term != nil {
			if err := term(c); err != nil {
				logger.Debug("ncruces: Term on close", "path", path, "err", err)
			}
		}
		if optimize {
			if err := c.Exec("PRAGMA optimize"); err != nil {
				logger.Debug("ncruces: PRAGMA optimize on close", "path", path, "err", err)
			}
		}
		return nil
	}
}

// checkConn opens one connection (running the pragmas), reads the database
// header, and returns the journal mode in force.
func checkConn(ctx context.Context, db *sql.DB) (mode string, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer func() { err = errors.Join(err, conn.Close()) }()

	// The pragmas may not have touched the file (page_size and journal_mode
	// are absent from custom lists); schema_version always reads page 1.
	var version int64
	if err := conn.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&version); err != nil {
		return "", err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return "", err
	}
	return strings.ToLower(mode), nil
}

// wantJournalMode returns the journal mode the pragmas ask for, lower case,
// or "" if they do not set one.
func wantJournalMode(pragmas []Pragma) string {
	want := ""
	for _, p := range pragmas {
		if p.is("journal_mode") {
			want = strings.ToLower(p.Value)
		}
	}
	return want
}
