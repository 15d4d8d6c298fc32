// Package committer is the group committer of a workspace's writer
// connection: one goroutine owns the connection's transactions and gathers
// the writes of many goroutines into one BEGIN IMMEDIATE … COMMIT, each in
// its own savepoint, so that one commit (and one fsync) serves them all.
//
// # Who uses the connection
//
// The committer pins the writer pool's only connection for its whole life
// ([Start]) and lends it out in three ways, never two at once:
//
//   - a batch: the committer goroutine runs queued requests — Write
//     functions ([Committer.Write]) and single statements of the front
//     ([Committer.NewFront]) — inside one transaction;
//   - a lease: [Committer.DB], and transactions begun through the front,
//     hold the connection exclusively between batches, for as long as
//     database/sql holds their connection (a statement, a Rows, a Tx, a
//     *sql.Conn);
//   - a nested call: a statement run through the front or DB from inside a
//     running Write function, on that function's goroutine, joins the
//     function's savepoint.
//
// Every statement call into the driver on the writer connection goes
// through one mutex, and every statement call (on the writer and, for the
// front, on read connections) recovers panics (a driver.Valuer that panics,
// the engine running out of memory): database/sql releases its locks only
// on a normal return from the driver, so a panic that crossed it would leave
// the connection locked for good.
//
// # Files
//
// committer.go holds the lifecycle; request.go the request queue;
// batch.go the batches and savepoints; conn.go the pinned connection and
// stmtcache.go its statement cache; proxy.go the database/sql driver that
// DB, the front and the Write functions' Querier run on; front.go the
// front's routing; lease.go exclusive use; hooks.go the connection hooks and
// the checkpoint policy; syncer.go the deferred fsync; nested.go the
// detection of calls from inside a Write function; panic.go panics.
package committer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Errors. The workspace package exports them under the same names.
var (
	// ErrClosed is returned by calls on a stopped committer.
	ErrClosed = errors.New("workspace: closed")

	// ErrNestedWrite is returned by a Write, or a transaction begun through
	// DB or the front, from inside a running Write function: it would wait
	// for the batch that is running it, forever.
	ErrNestedWrite = errors.New("workspace: Write called from inside a Write function")

	// ErrBatchAborted is returned to the calls of a batch whose transaction
	// SQLite rolled back as a whole, or whose COMMIT failed; it wraps the
	// cause.
	ErrBatchAborted = errors.New("workspace: write batch aborted")

	// ErrQuerierDone is returned by a Querier used after its Write function
	// returned.
	ErrQuerierDone = errors.New("workspace: Querier used after its Write function returned")

	// ErrFailStop is returned by every request of a batch (a Write, a front
	// statement outside a transaction) after an fsync or a checkpoint failed
	// with an I/O error: the page cache can no longer be trusted to match
	// the disk (PostgreSQL's "fsyncgate"), so no batch is acknowledged until
	// the workspace is reopened. It wraps the first failure.
	ErrFailStop = errors.New("workspace: stopped after a failed fsync or checkpoint; reopen the workspace")

	// ErrLeaseRevoked is returned by statements on a DB connection or a
	// transaction that Close took back after waiting for it.
	ErrLeaseRevoked = errors.New("workspace: the writer connection was taken back by Close")
)

// Options configures [Start].
type Options struct {
	// Path is the database file, for errors and logs.
	Path string

	// SyncLevel is the synchronous level ("FULL" or "EXTRA") whose fsyncs
	// the syncer takes over from the commits (see syncer.go); "" means
	// commits are as durable as the connection's own synchronous level
	// makes them.
	SyncLevel string

	// WALPath is the WAL file the syncer fsyncs. Required with SyncLevel.
	WALPath string

	// ReadDB is the read pool that the front sends read-only queries to.
	// nil means there is none (single-connection platforms): reads go
	// through the writer.
	ReadDB *sql.DB

	// CloseWait bounds how long Stop waits for a leased connection (an open
	// transaction of DB or the front) before it takes the connection back.
	// Zero means DefaultCloseWait.
	CloseWait time.Duration

	// Log receives diagnostics. nil discards them.
	Log *slog.Logger
}

// DefaultCloseWait is how long Stop waits, by default, for a transaction
// open on DB or the front to end.
const DefaultCloseWait = 5 * time.Second

// Committer is a workspace's group committer. Its methods are safe for
// concurrent use by multiple goroutines.
type Committer struct {
	path  string
	log   *slog.Logger
	hooks *Hooks
	w     *wconn

	reqs     chan *request
	quit     chan struct{}
	exited   chan struct{} // closed when the loop goroutine stopped for good
	stopOnce sync.Once
	stopErr  error

	closeWait time.Duration

	syncer *syncer
	// syncLevel is the level the connection runs at outside batches;
	// batches run at NORMAL when the syncer takes over the fsyncs.
	syncLevel string

	readDB  *sql.DB
	lentDB  *sql.DB   // the Querier's database/sql layer
	lent    *sql.Conn // its only connection, held for life
	leaseDB *sql.DB   // DB
	classes classCache

	// slot is c's marker frame (see nested.go).
	slot int

	// pending is a lease request that ended a batch, granted next; owned
	// by the loop goroutine.
	pending *request

	// leaked is set by revoke: what Stop took back.
	leaked error

	// cur is the request whose function runs now; the loop goroutine sets
	// it, the lent connection reads it while the function runs.
	cur atomic.Pointer[request]

	// ckptWake wakes the background checkpointer (capacity 1), which
	// closes ckptDone when it stops; both nil without a read pool.
	ckptWake chan struct{}
	ckptDone chan struct{}

	// failStop, once set, fails every later write (see ErrFailStop).
	failStop atomic.Pointer[error]

	writes, failed, batches, maxBatch atomic.Uint64
}

// Start pins db's only connection — the writer pool, opened with
// hooks.Init on every connection — and starts the committer on it. db must
// allow exactly one open connection. Stop returns the connection to db.
func Start(ctx context.Context, db *sql.DB, hooks *Hooks, opts Options) (_ *Committer, err error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Committer{
		path:      opts.Path,
		log:       log,
		hooks:     hooks,
		reqs:      make(chan *request, maxBatch),
		quit:      make(chan struct{}),
		exited:    make(chan struct{}),
		closeWait: opts.CloseWait,
		readDB:    opts.ReadDB,
		syncLevel: opts.SyncLevel,
		slot:      nextSlot(),
	}
	if c.closeWait <= 0 {
		c.closeWait = DefaultCloseWait
	}
	c.w, err = pin(ctx, db, hooks)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", c.path, err)
	}
	defer func() {
		if err != nil {
			c.closeDBs()
			c.w.unpin()
		}
	}()
	if opts.SyncLevel != "" {
		// Outside batches the connection keeps the configured level;
		// batches switch it to NORMAL (see syncer.go).
		c.w.level = opts.SyncLevel
	}
	onIOError := c.setFailStop
	hooks.onIOError.Store(&onIOError)
	c.lentDB = sql.OpenDB(&connector{c: c, mode: modeLent})
	c.lentDB.SetMaxOpenConns(1)
	c.lent, err = c.lentDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", c.path, err)
	}
	c.leaseDB = c.NewDB()
	if opts.SyncLevel != "" {
		c.syncer, err = newSyncer(c, opts.WALPath)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", c.path, err)
		}
	}
	if c.readDB != nil {
		c.ckptWake, c.ckptDone = make(chan struct{}, 1), make(chan struct{})
		offload := func() bool {
			select {
			case c.ckptWake <- struct{}{}:
				return true
			default:
				return false
			}
		}
		hooks.offload.Store(&offload)
		go c.checkpointLoop()
	}
	go c.loop()
	return c, nil
}

// checkpointLoop is the background checkpointer: it runs the PASSIVE
// checkpoints the WAL hook hands it (see Hooks.walHook) on a connection of
// the read pool, until Stop.
func (c *Committer) checkpointLoop() {
	defer close(c.ckptDone)
	for {
		select {
		case <-c.ckptWake:
		case <-c.quit:
			return
		}
		sc, dc, err := c.readConn(context.Background())
		if err != nil {
			c.log.Warn("background checkpoint: no read connection", "db", c.path, "err", err)
			continue
		}
		c.hooks.passiveInBackground(dc.Raw())
		sc.Close()
	}
}

// DB returns the committer's own pool whose statements and transactions
// hold the writer connection exclusively, between batches (see the package
// doc). Stop closes it.
func (c *Committer) DB() *sql.DB { return c.leaseDB }

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

// Stats counts the work of the committer.
type Stats struct {
	Writes   uint64 // requests (Write calls and front statements) whose work committed
	Failed   uint64 // requests that returned an error
	Batches  uint64 // transactions committed
	MaxBatch uint64 // the largest batch
}

// Stats returns the committer's counters.
func (c *Committer) Stats() Stats {
	return Stats{
		Writes:   c.writes.Load(),
		Failed:   c.failed.Load(),
		Batches:  c.batches.Load(),
		MaxBatch: c.maxBatch.Load(),
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

// Stop fails the queued requests with ErrClosed, lets a running batch
// commit, waits up to Options.CloseWait for a leased connection and then
// takes it back (rolling its transaction back), stops the syncer and returns
// the connection to the writer pool. It is idempotent; later calls return
// the first result.
func (c *Committer) Stop() error {
	c.stopOnce.Do(func() {
		close(c.quit)
		<-c.exited
		if c.ckptDone != nil {
			c.hooks.offload.Store(nil)
			<-c.ckptDone
		}
		var errs []error
		if c.syncer != nil {
			c.syncer.stop()
		}
		c.closeDBs()
		errs = append(errs, c.w.unpin(), c.leaked)
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// closeDBs closes the database/sql layers over the connection; none of
// them closes the connection itself.
func (c *Committer) closeDBs() {
	// The lent *sql.Conn is not closed: Close would wait for a *sql.Row
	// that a Write function never scanned. Closing its DB does not wait.
	for _, db := range []*sql.DB{c.lentDB, c.leaseDB} {
		if db != nil {
			db.Close()
		}
	}
}

// stopped reports whether Stop has begun.
func (c *Committer) stopped() bool {
	select {
	case <-c.quit:
		return true
	default:
		return false
	}
}

// failure returns the sticky fail-stop error, or nil.
func (c *Committer) failure() error {
	if p := c.failStop.Load(); p != nil {
		return *p
	}
	return nil
}

// setFailStop records the first durability failure; every later write
// fails with it.
func (c *Committer) setFailStop(cause error) {
	err := fmt.Errorf("%w: %w", ErrFailStop, cause)
	if c.failStop.CompareAndSwap(nil, &err) {
		c.log.Error("writes stopped: an fsync or checkpoint failed; reopen the workspace", "db", c.path, "err", cause)
	}
}

// errf wraps err with the operation and the database path.
func (c *Committer) errf(op string, err error) error {
	return fmt.Errorf("workspace: %s %s: %w", op, c.path, err)
}
