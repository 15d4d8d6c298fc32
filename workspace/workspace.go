// Package workspace gives a Go program one safe SQLite data directory in one call.
//
// [Open] creates the directory if needed, takes an exclusive process lock on it
// (with an owner record naming the process), opens the database on the
// CGO-free ncruces/go-sqlite3 driver with ordered per-connection pragmas,
// applies goose migrations, and returns a [*Workspace]:
//
//	ws, err := workspace.Open(ctx, dir, &workspace.Options{
//		Program:    "myagent/1.4.2",
//		Migrations: migrations.Builtin,
//	})
//	if err != nil {
//		return err // *lock.LockedError names the process that holds dir
//	}
//	defer ws.Close()
//
//	err = ws.Write(ctx, func(q workspace.Querier) error {
//		_, err := q.ExecContext(ctx, `INSERT INTO sessions(title) VALUES (?)`, "hello")
//		return err
//	})
//
// # Connections
//
// A workspace has a writer pool of exactly one connection, whose transactions
// begin IMMEDIATE, so concurrent writers queue in the process instead of
// failing with SQLITE_BUSY, and a separate read-only pool ([Workspace.ReadDB])
// so that reads never queue behind writes. [Workspace.Write] gathers the
// writes of many goroutines into one transaction (group commit); it is the
// fastest safe way to write. [Workspace.DB] gives the writer pool itself, for
// code that wants database/sql directly.
//
// # Sharing in one process
//
// Opening the same directory twice in one process — through another path, a
// symbolic link, or after a chdir — returns two handles on one shared entry:
// one lock, one pool, one group committer. Each handle's Close releases one
// reference; the last one closes the database and releases the lock.
//
// # Sharing between processes
//
// By default a workspace is exclusive: a second process gets a
// [*lock.LockedError] (errors.Is(err, lock.ErrLocked)) naming the owner's pid,
// program and start time. With [Options.Sharing] set to [lock.Shared] many
// processes may open it at once; SQLite's own locking then arbitrates writes
// and exactly one process applies migrations. [OpenReadOnly] takes no lock
// and works while another process owns the workspace.
//
// # Filesystems
//
// Open detects the workspace's filesystem. On a network or FUSE filesystem
// (NFS, SMB, 9p, sshfs...) the workspace uses one connection in EXCLUSIVE
// locking mode, so that no WAL index is ever shared through it; when SQLite
// refuses a profile for the filesystem's sake, Open falls back to a safer
// one and logs why; a directory whose lock file cannot be locked is refused
// with [ErrFilesystem] unless [Options.InProcessLock] accepts a lock that
// excludes only this process. [Options.Filesystem] overrides the detection,
// and [Status] reports what the workspace got.
//
// # Encryption at rest
//
// With [Options.Key] a workspace is encrypted: its database, WAL and journal,
// and every copy [Workspace.Backup] and [Workspace.VacuumInto] write. A wrong
// key, or none, fails Open with [ErrWrongKey] or [ErrEncrypted] and changes
// nothing. [Rekey] encrypts, decrypts or changes the key of a closed
// workspace in place.
package workspace

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
)

// EnvSkipLock is the environment variable that, set to "1" or "true", makes
// every Open behave as if [Options.SkipLock] were set. It is meant for
// filesystems without advisory locks, where taking the lock fails.
const EnvSkipLock = "LITEDIR_SKIP_LOCK"

// EnvFilesystem is the environment variable that sets [Options.Filesystem]
// for every Open whose Options leave it at ncruces.FilesystemAuto: "auto",
// "local" or "network" (see ncruces.ParseFilesystemMode). Any other value
// fails Open with ErrInvalidOptions.
const EnvFilesystem = "LITEDIR_FILESYSTEM"

// EnvInProcessLock is the environment variable that, set to "1" or "true",
// makes every Open behave as if [Options.InProcessLock] were set.
const EnvInProcessLock = "LITEDIR_IN_PROCESS_LOCK"

// maxFileNameLen is the longest file name, in bytes, that the common file
// systems hold: ext4, XFS, Btrfs, APFS and ZFS allow 255 bytes, NTFS 255
// UTF-16 units.
const maxFileNameLen = 255

// MaxNameLen is the longest [Options.Name], in bytes: the longest file name a
// workspace makes, its migration lock <Name>.migrate.lock, then still fits in
// the 255 bytes that common file systems allow. A longer Name is refused with
// ErrInvalidOptions before anything is created.
const MaxNameLen = maxFileNameLen - len(migrateSuffix+".lock")

// DefaultName is the [Options.Name] of a workspace when none is given: its
// files are litedir.db and litedir.lock.
const DefaultName = lock.DefaultName

// CheckName returns nil if name can be [Options.Name], and otherwise the
// error, matching ErrInvalidOptions, that Open would return for it: name
// must be "" (DefaultName) or a plain file name (see [lock.CheckName]) of at
// most [MaxNameLen] bytes that does not end in ".migrate". It touches no
// file, so a program can check a name from its users before it opens
// anything.
func CheckName(name string) error {
	if name == "" {
		return nil
	}
	if lock.CheckName(name) != nil {
		return fmt.Errorf("%w: name %q is not a plain file name", ErrInvalidOptions, name)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: name of %d bytes is longer than MaxNameLen (%d): its files would not fit the file system's %d-byte names",
			ErrInvalidOptions, len(name), MaxNameLen, maxFileNameLen)
	}
	if strings.HasSuffix(strings.ToLower(name), migrateSuffix) {
		// <x>.migrate.lock is the migration lock of the shared workspace x
		// (see entry.migrate): a workspace named x.migrate would lock the
		// same file, and while one is open the other could not migrate.
		return fmt.Errorf("%w: name %q ends in %q, which is reserved for migration locks", ErrInvalidOptions, name, migrateSuffix)
	}
	return nil
}

// Options configures [Open] and [OpenReadOnly]. The zero value (or a nil
// *Options) is ready to use; each field documents its zero-value default.
type Options struct {
	// Name is the base name of the workspace's files: the database
	// <Name>.db and the lock file <Name>.lock. It must be a plain file name
	// of at most [MaxNameLen] bytes, and must not end in ".migrate" (in any
	// case): <Name>.migrate.lock is the migration lock of a shared
	// workspace. Zero means "litedir".
	Name string

	// Migrations holds goose SQL migrations (NNNNN_name.sql at its root),
	// applied by Open, each in its own transaction. Zero means none.
	// [migrations.Builtin] is an example schema for agent workspaces.
	Migrations fs.FS

	// Program names the program in the owner record, such as "myapp/1.4.2".
	// Zero means the base name of os.Args[0].
	Program string

	// Meta is caller metadata stored in the owner record, such as an address
	// that a second instance can connect to instead of failing. Zero means
	// none.
	Meta map[string]string

	// LockWait is how long Open waits for a workspace that another process
	// holds. Zero means fail at once with a *lock.LockedError.
	LockWait time.Duration

	// Sharing is the lock mode: lock.Exclusive (the zero value) lets one
	// process open the workspace; lock.Shared lets many processes open it at
	// once, and migrations then run under a short exclusive section so that
	// exactly one process applies them. Shared is refused on platforms whose
	// profile allows a single connection (see ncruces.Profile), where SQLite
	// cannot arbitrate between processes.
	Sharing lock.Mode

	// SkipLock opens the workspace without the directory lock, for
	// filesystems without advisory locks. The environment variable
	// LITEDIR_SKIP_LOCK=1 has the same effect. Zero means the lock is taken.
	SkipLock bool

	// InProcessLock accepts, where the directory's filesystem cannot lock
	// files (an error matching lock.ErrUnsupported), a directory lock that
	// excludes only the other Opens of this process: Open then runs, says
	// so in the log and in Status (LockInProcess), and other processes are
	// not kept out, so set it only when no other process ever opens the
	// workspace. The environment variable LITEDIR_IN_PROCESS_LOCK=1 has the
	// same effect. Zero means such a directory is refused with an error
	// matching ErrFilesystem and lock.ErrUnsupported. On plan9, js and
	// wasip1, which have no file locks at all, the platform implies it.
	InProcessLock bool

	// Filesystem says how the filesystem of the workspace decides its
	// profile (see ncruces.FilesystemMode). Zero (ncruces.FilesystemAuto)
	// detects it at Open: on a network or FUSE filesystem (NFS, SMB, 9p,
	// sshfs...) the workspace uses one connection in EXCLUSIVE locking
	// mode, so that no WAL index is ever shared through the filesystem;
	// elsewhere the platform's profile. ncruces.FilesystemNetwork forces
	// that everywhere; ncruces.FilesystemLocal forces the platform's
	// profile even on a network filesystem, and logs a warning naming the
	// risk. Whatever the mode, an Open that SQLite refuses for the
	// filesystem's sake (shared memory or locks) falls back to the safer
	// profile and logs why. The environment variable LITEDIR_FILESYSTEM
	// sets it when this is zero.
	Filesystem ncruces.FilesystemMode

	// Readers is the number of connections in the read pool. Zero means
	// max(2, GOMAXPROCS). On platforms where litedir uses a single
	// connection (see ncruces.Profile), it is ignored.
	Readers int

	// Pragmas override or extend ncruces.DefaultPragmas, by name; they are
	// applied in order on every new connection. Zero means the defaults:
	// busy_timeout=10000, page_size=4096, journal_mode=WAL,
	// synchronous=NORMAL, foreign_keys=ON, temp_store=MEMORY,
	// cache_size=-8000, journal_size_limit=67108864, secure_delete=FAST.
	Pragmas []ncruces.Pragma

	// ExternalCheckpoints means another program checkpoints the WAL, as
	// Litestream and other WAL replicators ask: litedir then runs no
	// checkpoint at all — none after commits, none at Close. A
	// wal_autocheckpoint pragma of 0 or less (SQLite's "off") means the
	// same. Zero means litedir checkpoints (see WriteStats).
	ExternalCheckpoints bool

	// CloseWait bounds how long the last Close waits for a transaction or
	// a *sql.Conn still open on DB or SQL; after it, Close rolls the
	// transaction back, releases the lock and returns an error matching
	// ErrLeaseRevoked. Zero means 5 seconds.
	CloseWait time.Duration

	// Logger receives diagnostics, such as a journal mode that SQLite
	// refused or an engine cache that could not be used. Zero means they
	// are discarded.
	Logger *slog.Logger

	// OnCorrupt says what Open does when SQLite reports the database as not
	// a database or corrupt, on opening it or reading its schema.
	// RecoverOnCorrupt moves the damaged files, under the lock, to
	// <dir>/quarantine/<UTC time>/, recovers them (see Recover) into a
	// fresh database in their place, applies the migrations, logs what was
	// lost and reports it in Status.LastRecovery: the program starts again
	// without anyone deleting a file. It needs the exclusive lock. Zero
	// (FailOnCorrupt) means Open fails with the error and touches nothing.
	OnCorrupt CorruptPolicy

	// Key gives the 32-byte key of an encrypted workspace (see KeySource,
	// and README.md for what the encryption protects): a new workspace is
	// created encrypted with it, and an existing one must have been
	// encrypted with it, or Open fails with ErrWrongKey (ErrNotEncrypted
	// for a plaintext workspace) and changes nothing. The database, its WAL
	// and journal, and every copy Backup and VacuumInto write are
	// encrypted; Rekey changes the key. Zero means a plaintext workspace;
	// an encrypted one then fails with ErrEncrypted.
	Key KeySource
}

// config is Options with the defaults filled in and the input validated.
type config struct {
	name       string
	migrations fs.FS
	program    string
	meta       map[string]string
	lockWait   time.Duration
	sharing    lock.Mode
	skipLock   bool
	readers    int // connections of the read pool on profile; 0: none
	askReaders int // Options.Readers, or its default: what compatible compares
	pragmas    []ncruces.Pragma
	logger     *slog.Logger
	profile    ncruces.Profile

	externalCheckpoints bool
	closeWait           time.Duration
	settings            ncruces.Settings // what pragmas come to on profile
	onCorrupt           CorruptPolicy

	inProcessLock bool
	fsMode        ncruces.FilesystemMode

	// key is the workspace's key (nil: plaintext), opened by openConfig
	// and closed by whoever holds the config last: the entry, or the Open
	// that joined another's entry. keySource is where it came from, for
	// the workspace a quarantine-on-open recovers into.
	key       *ncruces.Key
	keySource KeySource
}

func (o *Options) config() (config, error) { return o.configFor(ncruces.Platform()) }

// configFor is config on the platform profile p.
func (o *Options) configFor(p ncruces.Profile) (config, error) {
	if o == nil {
		o = &Options{}
	}
	c := config{
		name:       o.Name,
		migrations: o.Migrations,
		program:    o.Program,
		meta:       o.Meta,
		lockWait:   o.LockWait,
		sharing:    o.Sharing,
		skipLock:   o.SkipLock || envTrue(os.Getenv(EnvSkipLock)),
		readers:    o.Readers,
		logger:     o.Logger,

		externalCheckpoints: o.ExternalCheckpoints,
		closeWait:           o.CloseWait,
		onCorrupt:           o.OnCorrupt,

		inProcessLock: o.InProcessLock || envTrue(os.Getenv(EnvInProcessLock)),
		fsMode:        o.Filesystem,
		keySource:     o.Key,
	}
	if err := CheckName(c.name); err != nil {
		return c, err
	}
	if c.name == "" {
		c.name = DefaultName
	}
	if c.sharing != lock.Exclusive && c.sharing != lock.Shared {
		return c, fmt.Errorf("%w: unknown sharing mode %d", ErrInvalidOptions, c.sharing)
	}
	if c.fsMode == ncruces.FilesystemAuto {
		mode, err := ncruces.ParseFilesystemMode(os.Getenv(EnvFilesystem))
		if err != nil {
			return c, fmt.Errorf("%w: %s: %w", ErrInvalidOptions, EnvFilesystem, err)
		}
		c.fsMode = mode
	}
	if c.fsMode < ncruces.FilesystemAuto || c.fsMode > ncruces.FilesystemNetwork {
		return c, fmt.Errorf("%w: Filesystem = %v: %w", ErrInvalidOptions, c.fsMode, ncruces.ErrInvalidFilesystemMode)
	}
	if c.readers < 0 {
		return c, fmt.Errorf("%w: Readers = %d", ErrInvalidOptions, c.readers)
	}
	if c.closeWait < 0 {
		return c, fmt.Errorf("%w: CloseWait = %v", ErrInvalidOptions, c.closeWait)
	}
	if c.lockWait < 0 {
		return c, fmt.Errorf("%w: LockWait = %v", ErrInvalidOptions, c.lockWait)
	}
	if c.onCorrupt != FailOnCorrupt && c.onCorrupt != RecoverOnCorrupt {
		return c, fmt.Errorf("%w: OnCorrupt = %v", ErrInvalidOptions, c.onCorrupt)
	}
	if c.readers == 0 {
		c.readers = max(2, runtime.GOMAXPROCS(0))
	}
	c.askReaders = c.readers
	if c.program == "" {
		c.program = filepath.Base(os.Args[0])
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	pragmas, err := ncruces.MergePragmas(ncruces.DefaultPragmas(), o.Pragmas...)
	if err != nil {
		return c, err
	}
	c.pragmas = pragmas
	return c, c.useProfile(p)
}

// useProfile makes p the profile of c and derives what depends on it: the
// read pool and the settings the pragmas come to. Open calls it again once
// it knows the workspace's filesystem, and when it falls back to a safer
// profile.
func (c *config) useProfile(p ncruces.Profile) error {
	if c.sharing == lock.Shared && p.SingleConnection {
		// Without shared memory or file locks, SQLite cannot arbitrate
		// between processes: one of them would hold the database for as
		// long as it is open (locking_mode=EXCLUSIVE), or none would lock
		// it at all (nolock=1) and they could corrupt it.
		return fmt.Errorf("%w: Sharing %v needs SQLite's locks and shared memory across processes, which are not to be had on %s",
			ErrInvalidOptions, c.sharing, profilePlace(p))
	}
	c.profile = p
	c.readers = c.askReaders
	if p.SingleConnection {
		c.readers = 0
	}
	c.settings = ncruces.Resolve(c.pragmas, p)
	if c.settings.CheckpointsOff() {
		c.externalCheckpoints = true
	}
	return nil
}

// compatible reports why a second Open of a directory in this process asks
// for settings that differ from those the shared entry was opened with.
func (c *config) compatible(other *config) error {
	switch {
	case c.sharing != other.sharing:
		return fmt.Errorf("%w: opened with Sharing %v, asked for %v", ErrIncompatible, c.sharing, other.sharing)
	case c.skipLock != other.skipLock:
		return fmt.Errorf("%w: opened with SkipLock %v, asked for %v", ErrIncompatible, c.skipLock, other.skipLock)
	case c.askReaders != other.askReaders:
		return fmt.Errorf("%w: opened with %d readers, asked for %d", ErrIncompatible, c.askReaders, other.askReaders)
	case c.fsMode != other.fsMode:
		return fmt.Errorf("%w: opened with Filesystem %v, asked for %v", ErrIncompatible, c.fsMode, other.fsMode)
	case c.externalCheckpoints != other.externalCheckpoints:
		return fmt.Errorf("%w: opened with ExternalCheckpoints %v, asked for %v", ErrIncompatible, c.externalCheckpoints, other.externalCheckpoints)
	case !slices.Equal(c.pragmas, other.pragmas):
		return fmt.Errorf("%w: opened with pragmas %v, asked for %v", ErrIncompatible, c.pragmas, other.pragmas)
	case !c.key.Equal(other.key):
		return fmt.Errorf("%w: opened with another key, or none", ErrIncompatible)
	}
	return nil
}

func envTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// Workspace is a handle on an open data directory. It is safe for concurrent
// use by multiple goroutines. Handles returned by several Open calls on one
// directory in one process share the same database pools and lock; Close
// releases this handle only.
type Workspace struct {
	e      *entry
	closed atomic.Bool

	// This handle's own DB and front, made on first use, closed by Close.
	dbOnce, frontOnce sync.Once
	db, front         *sql.DB
}

// Open opens the workspace in dir, creating dir (mode 0700) if it is missing.
// It takes the directory lock (see [Options.Sharing] and [Options.LockWait]),
// opens the database <Name>.db, and applies [Options.Migrations].
//
// Contention for the lock returns a *lock.LockedError naming the owner. A
// database whose schema is newer than the migrations returns an error
// matching migrations.ErrSchemaTooNew and leaves the database untouched; a
// file that is not a database returns an error matching
// ncruces.ErrNotADatabase and leaves the file untouched.
//
// When Open fails it releases everything it acquired; a ctx that is already
// done fails before anything is created. The compilation of the
// SQLite engine, which Open starts in the background while it takes the lock,
// may outlive a failed Open by up to a few seconds; it ends by itself.
func Open(ctx context.Context, dir string, opts *Options) (w *Workspace, err error) {
	c, err := opts.config()
	if err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", dir, err)
	}
	// A context already done fails before anything is created, even the
	// directory.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", dir, err)
	}
	if c.key, err = openKey(ctx, opts.keySource()); err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", dir, err)
	}
	// The entry that opens keeps the key; one that joined another's (or
	// failed) has no use for it.
	defer func() {
		if w == nil || w.e.config.key != c.key {
			c.key.Close()
		}
	}()
	// Compile the engine while the directory is prepared and locked: a cold
	// compile takes seconds, a warm cache tens of milliseconds.
	ncruces.Warmup(c.logger)

	id, err := prepareDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", dir, err)
	}
	id.name = c.name
	e, err := registry.open(ctx, id, &c)
	if err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", dir, err)
	}
	return &Workspace{e: e}, nil
}

// OpenReadOnly opens the existing workspace in dir for reading only. It takes
// no lock, never creates a file, never migrates, and works while another
// process owns the workspace. Its DB and ReadDB return the same read-only
// pool; Write and Checkpoint return errors matching ncruces.ErrReadOnly.
// Where the profile sets ncruces.Profile.LockingExclusive (Windows, CPUs
// without WAL shared memory, network and FUSE filesystems), an owner's
// connection holds the database file for as long as the owner has it open:
// OpenReadOnly then fails with an error matching ncruces.ErrBusy, at once
// when the owner record names a running process of this host, after the
// busy timeout otherwise.
//
// Only Name, Migrations (for Status), Readers, Pragmas, Logger and Key of
// opts are used.
func OpenReadOnly(ctx context.Context, dir string, opts *Options) (*Workspace, error) {
	c, err := opts.config()
	if err != nil {
		return nil, fmt.Errorf("open workspace %s read-only: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open workspace %s read-only: %w", dir, err)
	}
	ncruces.Warmup(c.logger)
	id, err := statDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open workspace %s read-only: %w", dir, err)
	}
	id.name = c.name
	if c.key, err = openKey(ctx, opts.keySource()); err != nil {
		return nil, fmt.Errorf("open workspace %s read-only: %w", dir, err)
	}
	e := newEntry(id, &c)
	e.readOnly = true
	if err := e.openReadOnly(ctx); err != nil {
		c.key.Close()
		return nil, fmt.Errorf("open workspace %s read-only: %w", dir, err)
	}
	e.refs = 1
	return &Workspace{e: e}, nil
}

// Close releases this handle. The last Close of a directory's handles in the
// process stops the group committer, runs PRAGMA optimize and, in WAL mode
// unless Options.ExternalCheckpoints (or wal_autocheckpoint<=0) leaves
// checkpoints to another program, a TRUNCATE checkpoint that waits for
// readers at most 50 ms (one they keep from finishing is logged, and the WAL
// is left for the next writer); then it closes the pools and releases the
// lock, and returns every failure joined. Close is idempotent: later calls return nil. Write calls
// still queued on the handle fail with ErrClosed; a batch already running
// commits first.
func (w *Workspace) Close() error {
	if w.closed.Swap(true) {
		return nil
	}
	// The handle's pools first: they never close the writer connection,
	// and nothing of this handle uses them after Close.
	w.dbOnce.Do(func() {})
	w.frontOnce.Do(func() {})
	var errs []error
	for _, db := range []*sql.DB{w.db, w.front} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if w.e.readOnly {
		errs = append(errs, w.e.close())
	} else {
		errs = append(errs, registry.release(w.e))
	}
	return errors.Join(errs...)
}

// check returns ErrClosed, wrapped with the operation and the database path,
// once the handle is closed.
func (w *Workspace) check(op string) error {
	if w.closed.Load() {
		return fmt.Errorf("workspace: %s %s: %w", op, w.e.dbPath, ErrClosed)
	}
	return nil
}

// DB returns the writer pool: its statements, Rows, transactions (which
// begin IMMEDIATE) and *sql.Conn values hold the writer connection
// exclusively while they last, between [Workspace.Write] batches, so they
// never interleave with one. Begin transactions with BeginTx or on a
// *sql.Conn: a BEGIN statement run on the pool keeps the writer connection
// until the transaction ends, and only the pool connection that ran it can
// end it. When a statement changed the connection's session (a pragma
// setting, ATTACH, a temporary table), the writer connection is replaced by
// a new one when DB lets go of it, so the change never reaches a Write. A
// statement waits for the writer connection at most the busy timeout (at
// least a second), then fails with a *BusyError naming what held it.
//
// From inside a Write function, DB's statements join the function's
// savepoint and BeginTx returns ErrNestedWrite. Each handle has its own
// DB, closed by the handle's Close; closing it yourself closes that pool
// only, never the writer connection. For a read-only workspace it is the
// read-only pool. After Close, DB returns a pool whose every call fails with
// ErrClosed (a pool obtained before Close is closed by it).
func (w *Workspace) DB() *sql.DB {
	if w.e.committer == nil {
		return w.orClosed(w.e.roDB)
	}
	w.dbOnce.Do(func() { w.db = w.e.committer.NewDB() })
	return w.orClosed(w.db)
}

// ReadDB returns the read pool: connections with PRAGMA query_only, so reads
// never wait behind a write transaction. On platforms where litedir uses a
// single connection it is a pool like DB. Do not close it yourself. After
// Close, ReadDB returns a pool whose every call fails with ErrClosed.
func (w *Workspace) ReadDB() *sql.DB { return w.orClosed(w.e.readDB()) }

// orClosed returns db, or closedPool once the handle is closed.
func (w *Workspace) orClosed(db *sql.DB) *sql.DB {
	if w.closed.Load() {
		return closedPool()
	}
	return db
}

// closedPool returns the pool that SQL, DB and ReadDB of closed handles
// return: every call on it fails with an error matching ErrClosed. There is
// one per process, made on first use, so that closed handles hold nothing.
var closedPool = sync.OnceValue(func() *sql.DB {
	return sql.OpenDB(closedConnector{})
})

// closedConnector refuses every connection with ErrClosed.
type closedConnector struct{}

func (closedConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, fmt.Errorf("workspace: a pool of a closed handle: %w", ErrClosed)
}

func (closedConnector) Driver() driver.Driver { return closedDriver{} }

// closedDriver is closedConnector's Driver, which database/sql requires but
// never calls for a DB made by sql.OpenDB.
type closedDriver struct{}

func (closedDriver) Open(string) (driver.Conn, error) {
	return closedConnector{}.Connect(context.Background())
}

// MigrateTo applies the migrations of fsys up to and including version,
// as Open applies them all: serialized with every other migration of the
// workspace in this process and, in a shared workspace, under the
// migration lock, so that exactly one process applies each. version must
// be the version of one of them (the error wraps
// migrations.ErrUnknownVersion); a database already past it is refused
// (migrations.ErrTargetBehind). It returns what it applied.
func (w *Workspace) MigrateTo(ctx context.Context, fsys fs.FS, version int64) ([]migrations.Applied, error) {
	if err := w.check("migrate"); err != nil {
		return nil, err
	}
	if w.e.committer == nil {
		return nil, fmt.Errorf("workspace: migrate %s: %w", w.e.dbPath, ncruces.ErrReadOnly)
	}
	if fsys == nil || version <= 0 {
		return nil, fmt.Errorf("workspace: migrate %s: %w: no migrations or version %d", w.e.dbPath, ErrInvalidOptions, version)
	}
	applied, err := w.e.migrateTo(ctx, fsys, version)
	if err != nil {
		return applied, fmt.Errorf("workspace: migrate %s: %w", w.e.dbPath, err)
	}
	return applied, nil
}

// DatabasePath returns the path of the database file of the workspace
// named name (empty: "litedir") in dir, as Open names it, without opening
// anything: dir/name.db.
func DatabasePath(dir, name string) string {
	if name == "" {
		name = DefaultName
	}
	return filepath.Join(dir, name+".db")
}

// WALPath returns the path of the WAL file of the database at dbPath (see
// [Workspace.Path] and [DatabasePath]), which SQLite names dbPath-wal.
func WALPath(dbPath string) string { return dbPath + "-wal" }

// Dir returns the workspace directory, absolute and with symbolic links
// resolved.
func (w *Workspace) Dir() string { return w.e.id.dir }

// Path returns the path of the database file.
func (w *Workspace) Path() string { return w.e.dbPath }

// ReadOnly reports whether the handle came from [OpenReadOnly].
func (w *Workspace) ReadOnly() bool { return w.e.readOnly }

// dirID is a directory's identity: its canonical path, the file info that
// os.SameFile compares, and the workspace name inside it.
type dirID struct {
	dir  string
	info fs.FileInfo
	name string
}

// prepareDir creates dir if it is missing and returns its identity.
func prepareDir(dir string) (dirID, error) {
	if dir == "" {
		return dirID{}, fmt.Errorf("%w: empty directory", ErrInvalidOptions)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && !errors.Is(err, fs.ErrPermission) {
			// MkdirAll fails with ENOTDIR when dir or a parent is a file.
			if info, serr := os.Stat(pe.Path); serr == nil && !info.IsDir() {
				return dirID{}, &fs.PathError{Op: "open", Path: pe.Path, Err: ErrNotDir}
			}
		}
		return dirID{}, err
	}
	return statDir(dir)
}

// statDir returns the identity of an existing directory: absolute, with
// symbolic links resolved, so that the same directory reached by two paths
// has one identity.
func statDir(dir string) (dirID, error) {
	if dir == "" {
		return dirID{}, fmt.Errorf("%w: empty directory", ErrInvalidOptions)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dirID{}, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return dirID{}, err
	}
	info, err := os.Stat(real)
	if err != nil {
		return dirID{}, err
	}
	if !info.IsDir() {
		return dirID{}, &fs.PathError{Op: "open", Path: real, Err: ErrNotDir}
	}
	// On Windows, os.SameFile reads a file's identity the first time it
	// is asked, through the path the FileInfo was made from: asked later,
	// after the directory was renamed and another made in its place, it
	// would read the new one's. Ask now, while the path is this directory's.
	os.SameFile(info, info)
	return dirID{dir: real, info: info}, nil
}
