// Package committer is the group committer of a workspace's database: it
// opens the database's connections and owns them, and gathers the writes of
// many goroutines into one BEGIN IMMEDIATE … COMMIT, each in its own
// savepoint, so that one commit (and one fsync) serves them all.
//
// # Who uses the writer connection
//
// [Open] opens a writer pool of one connection, pins that connection for the
// committer's life, and lends it out in three ways, never two at once:
//
//   - a batch: the loop goroutine runs queued requests — Write functions
//     ([Committer.Write]) and single statements of the front
//     ([Committer.NewFront]) — inside one transaction;
//   - a lease: [Committer.NewDB]'s pools, and transactions begun through the
//     front, hold the connection exclusively between batches, for as long as
//     database/sql holds their connection (a statement, a Rows, a Tx, a
//     *sql.Conn);
//   - a nested call: a statement run through the front or a DB pool from
//     inside a running Write function, on that function's goroutine, joins
//     the function's savepoint (see nested.go).
//
// Every statement call into the driver on the writer connection goes
// through one mutex, and every statement call (on the writer and, for the
// front, on read connections) recovers panics (a driver.Valuer that panics,
// the engine running out of memory): database/sql releases its locks only
// on a normal return from the driver, so a panic that crossed it would leave
// the connection locked for good.
//
// # One owner for every outcome
//
// A request's outcome is decided by the loop goroutine alone and delivered
// once, on the request's own channel (request.go): settle delivers a batch's
// (batch.go), reject a request's that never ran. The sync stage (syncer.go)
// knows nothing of the committer: committed batches go in, and come back
// with the result of the fsync that covered them, for the loop to settle.
// The connection hooks (hooks.go) leave what they learn for the loop too.
//
// # Files
//
// committer.go holds the lifecycle; errors.go the errors; request.go the
// requests, their outcomes and the wait for them; loop.go the loop and the
// leases; batch.go the batches, savepoints and settling; syncer.go the
// deferred fsync; identity.go the check that the files are still the files;
// session.go what statements may do to their connection; conn.go the pinned
// writer connection and stmtcache.go its statement cache; readstmts.go the
// read connections' statements; proxy.go the database/sql driver that the DB
// pools, the front and the Write functions' Querier run on; front.go the
// front's routing; querier.go the Querier; hooks.go the connection hooks and
// the checkpoint policy; nested.go the detection of calls from inside a
// Write function; panic.go panics.
package committer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/ncruces"
)

// Config says which database [Open] opens and how.
type Config struct {
	// Path is the database file. Required.
	Path string

	// Pragmas are the connections' pragmas, merged and ordered already
	// (ncruces.MergePragmas); nil means ncruces.DefaultPragmas().
	Pragmas []ncruces.Pragma

	// Profile is the platform profile. The zero value means
	// ncruces.Platform().
	Profile *ncruces.Profile

	// Readers is the size of the read pool. Zero means there is none (a
	// single-connection profile): reads take the writer connection between
	// batches, as DB's statements do.
	Readers int

	// Key, when not nil, opens the database encrypted with it (see
	// ncruces.Config.Key). An encrypted database's commits make themselves
	// durable (see syncer.go). nil means plaintext.
	Key *ncruces.Key

	// ExternalCheckpoints means another program checkpoints the WAL: the
	// committer runs none, not even at Close. A wal_autocheckpoint of 0 or
	// less in Pragmas means the same.
	ExternalCheckpoints bool

	// CloseWait bounds how long Close waits for a leased connection (an
	// open transaction of DB or the front) before it takes the connection
	// back. Zero means DefaultCloseWait.
	CloseWait time.Duration

	// Logger receives diagnostics. nil discards them.
	Logger *slog.Logger
}

// DefaultCloseWait is how long Close waits, by default, for a transaction
// open on DB or the front to end.
const DefaultCloseWait = 5 * time.Second

// minWait is the least a call waits for a connection before it fails with
// a *BusyError, whatever the busy timeout: a queue of requests ahead of it
// takes milliseconds, which a busy timeout of zero should not turn into
// errors.
const minWait = time.Second

// Committer is a database's group committer and the owner of its
// connections. Its methods are safe for concurrent use by multiple
// goroutines.
type Committer struct {
	path      string
	log       *slog.Logger
	id        uint64        // the marker chain's id (see nested.go)
	wait      time.Duration // the most a call waits for a connection
	closeWait time.Duration
	settings  ncruces.Settings
	mode      string // the journal mode in force

	hooks   *hooks
	writeDB *sql.DB // the writer pool: one connection, pinned in w
	readDB  *sql.DB // the read pool; nil on single-connection profiles
	w       *wconn

	lentDB  *sql.DB   // the Querier's database/sql layer
	lent    *sql.Conn // its only connection, held for life
	leaseDB *sql.DB   // DB
	readers *sql.DB   // ReadDB: readDB, or a lease pool without one
	classes classCache

	// syncLevel is the synchronous level that the sync stage provides
	// for batches ("" without one); syncer is the stage.
	syncLevel string
	syncer    *syncStage

	// files are the database and its WAL as the committer opened them.
	files []fileID

	reqs   chan *request
	quit   chan struct{}
	exited chan struct{} // closed when the loop stopped for good

	// Set by the loop, read by other goroutines: whether a Write function
	// runs (and its state), and what holds the writer now, for BusyError.
	inFn      atomic.Bool
	cur       atomic.Pointer[fnState]
	holdKind  atomic.Int32
	holdSince atomic.Int64

	// Owned by the loop goroutine.
	lease    *request // the lease granted, or nil
	pending  *request // a lease request that ended a batch, granted next
	failStop error    // once set, fails every later batch (see ErrFailStop)
	leaked   error    // what Close took back from a lease

	ckptCancel context.CancelFunc
	ckptDone   chan struct{}

	closeOnce sync.Once
	closeErr  error

	writes, failed, batches, maxBatch atomic.Uint64
}

// Open opens the database cfg.Path — a writer pool of one connection and,
// with cfg.Readers, a read pool of query_only connections — and starts the
// committer on it. Close closes everything Open opened; a failed Open closes
// what it opened before it returns.
func Open(ctx context.Context, cfg Config) (_ *Committer, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prof := ncruces.Platform()
	if cfg.Profile != nil {
		prof = *cfg.Profile
	}
	pragmas := cfg.Pragmas
	if pragmas == nil {
		pragmas = ncruces.DefaultPragmas()
	}
	c := &Committer{
		path:      cfg.Path,
		log:       log,
		id:        takeID(),
		closeWait: cfg.CloseWait,
		settings:  ncruces.Resolve(pragmas, prof),
		reqs:      make(chan *request, maxBatch),
		quit:      make(chan struct{}),
		exited:    make(chan struct{}),
	}
	if c.closeWait <= 0 {
		c.closeWait = DefaultCloseWait
	}
	c.wait = max(c.settings.BusyTimeout, minWait)
	external := cfg.ExternalCheckpoints || c.settings.CheckpointsOff()
	c.hooks = newHooks(hooksConfig{
		passivePages: c.settings.AutoCheckpoint,
		external:     external,
		busyTimeout:  c.settings.BusyTimeout,
	}, log, cfg.Readers > 0)
	defer func() {
		if err != nil {
			err = errors.Join(err, c.closeConns())
		}
	}()

	c.writeDB, err = ncruces.Open(ctx, ncruces.Config{
		Path:      c.path,
		Immediate: true,
		Pragmas:   pragmas,
		MaxConns:  1,
		Profile:   &prof,
		Key:       cfg.Key,
		Logger:    log,
		Init:      c.hooks.writerInit,
	})
	if err != nil {
		return nil, err
	}
	if cfg.Readers > 0 {
		c.readDB, err = ncruces.Open(ctx, ncruces.Config{
			Path:      c.path,
			QueryOnly: true,
			NoCreate:  true,
			Pragmas:   pragmas,
			MaxConns:  cfg.Readers,
			Profile:   &prof,
			Key:       cfg.Key,
			Logger:    log,
			Init:      c.hooks.readerInit,
			Term:      c.hooks.readerTerm,
		})
		if err != nil {
			return nil, err
		}
	}
	if c.w, err = pin(ctx, c.writeDB, &c.hooks.writer, c.settings.Synchronous); err != nil {
		return nil, c.errf("open", err)
	}
	if c.mode, err = c.journalMode(); err != nil {
		return nil, c.errf("open", err)
	}
	if err := c.identify(); err != nil {
		return nil, c.errf("open", err)
	}
	if c.mode == "wal" && cfg.Key == nil && (c.settings.Synchronous == "FULL" || c.settings.Synchronous == "EXTRA") {
		c.syncLevel = c.settings.Synchronous
		if c.syncer, err = startSync(c.files[1].path); err != nil {
			return nil, c.errf("open", err)
		}
	}

	c.lentDB = sql.OpenDB(&connector{c: c, mode: modeLent})
	c.lentDB.SetMaxOpenConns(1)
	if c.lent, err = c.lentDB.Conn(ctx); err != nil {
		return nil, c.errf("open", err)
	}
	c.leaseDB = c.NewDB()
	c.readers = c.readDB
	if c.readDB == nil {
		c.readers = c.NewDB()
	}
	if c.readDB != nil {
		var ckptCtx context.Context
		ckptCtx, c.ckptCancel = context.WithCancel(context.Background())
		c.ckptDone = make(chan struct{})
		go c.checkpointer(ckptCtx)
	}
	go c.loop()
	return c, nil
}

// journalMode returns the journal mode in force on the writer connection.
func (c *Committer) journalMode() (mode string, err error) {
	if err := c.w.lock(nil); err != nil {
		return "", err
	}
	defer c.w.mu.Unlock()
	defer recoverErr(&err)
	st, _, err := c.w.raw.Prepare("PRAGMA journal_mode")
	if err != nil {
		return "", err
	}
	defer st.Close()
	if !st.Step() {
		return "", fmt.Errorf("journal mode: %w", st.Err())
	}
	return strings.ToLower(st.ColumnText(0)), nil
}

// identify records the identity of the database file and, in WAL mode, of
// its WAL, which it first makes SQLite create: a database made WAL by the
// pragma has no WAL file until its first transaction.
func (c *Committer) identify() error {
	db, err := identify(c.path)
	if err != nil {
		return err
	}
	c.files = []fileID{db}
	if c.mode != "wal" {
		return nil
	}
	if err := c.w.control(ctlBegin); err != nil {
		return err
	}
	if err := c.w.control(ctlRollback); err != nil {
		return err
	}
	wal, err := identify(c.path + "-wal")
	if err != nil {
		return err
	}
	c.files = append(c.files, wal)
	return nil
}

// checkFiles returns an error matching ErrMoved unless the database and its
// WAL are still the files the committer opened (see identity.go).
func (c *Committer) checkFiles() error {
	for _, f := range c.files {
		if err := f.check(); err != nil {
			return err
		}
	}
	return nil
}

// checkpointer is the background checkpointer: it runs the PASSIVE
// checkpoints the WAL hook hands it (see hooks.walHook) on a connection of
// the read pool, until ctx ends.
func (c *Committer) checkpointer(ctx context.Context) {
	defer close(c.ckptDone)
	for {
		select {
		case <-c.hooks.ckpt:
		case <-ctx.Done():
			return
		}
		if hook := testHookCheckpointer.Load(); hook != nil {
			(*hook)()
		}
		sc, dc, err := c.readConn(ctx, "checkpoint")
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("background checkpoint: no read connection", "db", c.path, "err", err)
			}
			continue
		}
		c.hooks.passiveInBackground(dc.Raw())
		sc.Close()
	}
}

// testHookCheckpointer, when set by a test, runs when the background
// checkpointer has a checkpoint to run, before it takes a read connection.
var testHookCheckpointer atomic.Pointer[func()]

// SetTestHookCheckpointer makes the background checkpointer call f before
// each checkpoint it runs, until the returned function is called. For
// tests.
func SetTestHookCheckpointer(f func()) (restore func()) {
	testHookCheckpointer.Store(&f)
	return func() { testHookCheckpointer.Store(nil) }
}

// DB returns the committer's own pool whose statements and transactions
// hold the writer connection exclusively, between batches (see the package
// doc); migrations run on it. Close closes it.
func (c *Committer) DB() *sql.DB { return c.leaseDB }

// ReadDB returns the read pool; on single-connection profiles, a pool like
// DB. Close closes it.
func (c *Committer) ReadDB() *sql.DB { return c.readers }

// NewDB returns a new pool like DB, for one user: closing it closes that
// pool only, never the writer connection. The caller closes it.
func (c *Committer) NewDB() *sql.DB {
	db := sql.OpenDB(&connector{c: c, mode: modeLease})
	db.SetMaxIdleConns(4)
	return db
}

// NewFront returns a new front: a pool on which statements outside a
// transaction join group-commit batches and read-only queries go to the
// read pool (see front.go). Closing it closes that pool only. The caller
// closes it.
func (c *Committer) NewFront() *sql.DB {
	db := sql.OpenDB(&connector{c: c, mode: modeFront})
	// Front connections are cheap handles; keep enough idle that busy
	// callers do not make and drop them all the time.
	db.SetMaxIdleConns(64)
	return db
}

// SyncLevel returns the synchronous level ("FULL" or "EXTRA") whose
// durability the sync stage provides for batches (see syncer.go), or ""
// where commits make themselves as durable as the connection's level does.
func (c *Committer) SyncLevel() string { return c.syncLevel }

// JournalMode returns the journal mode in force, in lower case.
func (c *Committer) JournalMode() string { return c.mode }

// Stats counts the work of the committer.
type Stats struct {
	Writes   uint64 // requests (Write calls and front statements) whose work committed
	Failed   uint64 // requests that returned an error
	Batches  uint64 // transactions committed
	MaxBatch uint64 // the largest batch

	// Checkpoints counts the PASSIVE checkpoints run after commits,
	// WALRestarts the RESTART checkpoints that completed, and
	// CheckpointsSkipped those skipped or given up while readers held the
	// WAL.
	Checkpoints, WALRestarts, CheckpointsSkipped uint64
}

// Stats returns the committer's counters.
func (c *Committer) Stats() Stats {
	h := c.hooks
	return Stats{
		Writes:             c.writes.Load(),
		Failed:             c.failed.Load(),
		Batches:            c.batches.Load(),
		MaxBatch:           c.maxBatch.Load(),
		Checkpoints:        h.checkpoints.Load(),
		WALRestarts:        h.restarts.Load(),
		CheckpointsSkipped: h.skipped.Load(),
	}
}

// Prepares returns how many statements the writer connection prepared for
// the statement cache (including temporary twins). For tests.
func (c *Committer) Prepares() int64 {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return c.w.cache.prepares
}

// ReaderPrepares returns how many statements the front prepared on read
// connections. For tests.
func (c *Committer) ReaderPrepares() int64 { return c.hooks.readers.prepares.Load() }

// Close fails the queued requests with ErrClosed, lets a running batch
// commit, waits up to Config.CloseWait for a leased connection and then
// takes it back (rolling its transaction back), waits for the fsyncs under
// way, and stops the background checkpointer; then it runs PRAGMA optimize
// and, in WAL mode unless checkpoints are external, a TRUNCATE checkpoint
// that waits for readers at most 50 ms, and closes the connections. It
// returns every failure joined. It is idempotent; later calls return the
// first result.
func (c *Committer) Close() error {
	c.closeOnce.Do(func() {
		close(c.quit)
		<-c.exited
		c.closeErr = errors.Join(c.leaked, c.closeConns())
	})
	return c.closeErr
}

// closeCheckpointWait bounds how long Close's TRUNCATE checkpoint waits for
// readers: a reader that holds the WAL (a replicator, another process)
// would otherwise hold Close for the whole busy timeout.
const closeCheckpointWait = 50 * time.Millisecond

// closeConns stops the background checkpointer and closes the pools and
// the connections, in reverse order of opening, after the last work on the
// writer: PRAGMA optimize and the TRUNCATE checkpoint. The loop has stopped,
// or never started.
func (c *Committer) closeConns() error {
	var errs []error
	if c.ckptCancel != nil {
		c.ckptCancel()
		<-c.ckptDone
	}
	for _, db := range []*sql.DB{c.readers, c.leaseDB, c.lentDB} {
		// The lent *sql.Conn is not closed: Close would wait for a
		// *sql.Row that a Write function never scanned. Closing its DB
		// does not wait.
		if db != nil && db != c.readDB {
			db.Close()
		}
	}
	if c.syncer != nil {
		// Open failed after the stage started; the loop never ran.
		close(c.syncer.in)
		for range c.syncer.out {
		}
		c.syncer = nil
	}
	if c.w != nil {
		errs = append(errs, c.lastWork(), c.w.unpin())
	}
	if c.readDB != nil {
		errs = append(errs, c.readDB.Close())
	}
	if c.writeDB != nil {
		errs = append(errs, c.writeDB.Close())
	}
	releaseID(c.id)
	if err := errors.Join(errs...); err != nil {
		return c.errf("close", err)
	}
	return nil
}

// lastWork runs PRAGMA optimize and, in WAL mode unless an external
// process checkpoints, a TRUNCATE checkpoint that waits for readers at most
// closeCheckpointWait; one they keep from finishing is logged, and the WAL
// is left for the next writer.
func (c *Committer) lastWork() (err error) {
	if err := c.w.lock(nil); err != nil {
		return nil // Open failed before the connection was pinned
	}
	defer c.w.mu.Unlock()
	defer recoverErr(&err)
	raw := c.w.raw
	if err := raw.Exec("PRAGMA optimize"); err != nil {
		return fmt.Errorf("optimize: %w", err)
	}
	if c.mode != "wal" || c.hooks.cfg.external {
		return nil
	}
	if err := raw.BusyTimeout(closeCheckpointWait); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer raw.BusyTimeout(c.settings.BusyTimeout)
	nLog, nCkpt, err := raw.WALCheckpoint("main", sqlite3.CHECKPOINT_TRUNCATE)
	if errors.Is(err, sqlite3.BUSY) {
		c.log.Info("readers hold the WAL: the TRUNCATE checkpoint of Close was skipped",
			"db", c.path, "wal_frames", nLog, "checkpointed", nCkpt)
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint TRUNCATE: %w", err)
	}
	return nil
}

// stopped reports whether Close has begun.
func (c *Committer) stopped() bool {
	select {
	case <-c.quit:
		return true
	default:
		return false
	}
}
