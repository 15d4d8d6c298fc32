package workspace

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	sqlite3driver "github.com/ncruces/go-sqlite3/driver"

	"github.com/litedir/litedir/ncruces"
)

// Querier is what a [Workspace.Write] function gets to run its statements:
// the common subset of *sql.DB, *sql.Tx and *sql.Conn, as sqlc-generated code
// expects it. It is valid only until the function returns.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Group commit limits. A batch ends when the queue is empty, when it holds
// maxBatch functions, or when maxBatchTime has passed since BEGIN, so that one
// slow function delays the others' COMMIT by at most its own duration.
const (
	maxBatch     = 1024
	maxBatchTime = 20 * time.Millisecond

	// maxCachedStmts bounds the writer's prepared statement cache.
	maxCachedStmts = 256
)

// ErrQuerierDone is returned by a Querier used after its Write function
// returned. (QueryRowContext's Row reports context.Canceled instead: a
// *sql.Row cannot carry an error of ours.)
var ErrQuerierDone = errors.New("workspace: Querier used after its Write function returned")

// testHookQueued, when set by a test, runs after a Write has queued its
// request.
var testHookQueued atomic.Pointer[func()]

// doneCtx is a context that is already done.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Write runs fn in a transaction of the writer connection and returns after
// that transaction has committed (durable as far as PRAGMA synchronous
// makes it so), or with fn's error.
//
// Calls from many goroutines are gathered into one BEGIN IMMEDIATE …
// COMMIT (group commit): one fsync serves them all. Each fn runs in its own
// SAVEPOINT, so an error from fn rolls back only fn's own statements, is
// returned to its caller, and the rest of the batch commits. A panic in fn
// rolls back its savepoint and is re-raised in the caller's goroutine. If the
// COMMIT fails, or SQLite rolls the whole transaction back (as it does after a
// full disk or an I/O error), every call of the batch returns an error
// matching ErrBatchAborted and none of its work is committed.
//
// With PRAGMA synchronous=FULL or EXTRA in WAL mode, a batch commits at
// NORMAL and a separate goroutine fsyncs the WAL before the batch's Writes
// return, while the next batch already runs: a Write that returned nil is as
// durable as under FULL, and the fsync is off the writer's path.
//
// A ctx that is done before fn starts means fn never runs and Write returns
// ctx.Err(). Once fn has started, Write waits for the batch's outcome. The
// statements fn runs are not interrupted by its ctx: an interrupted statement
// would roll back the transaction that other callers' work shares.
//
// fn runs on the workspace's writer goroutine and must not keep q after it
// returns, call runtime.Goexit, or wait for another goroutine's Write. A Write
// called from inside fn returns ErrNestedWrite instead of deadlocking.
// Writes through [Workspace.DB] never interleave with a batch.
func (w *Workspace) Write(ctx context.Context, fn func(q Querier) error) error {
	if err := w.check("write"); err != nil {
		return err
	}
	if w.e.writer == nil {
		return fmt.Errorf("workspace: write %s: %w", w.e.dbPath, ncruces.ErrReadOnly)
	}
	return w.e.writer.write(ctx, fn)
}

// WriteStats counts the work of [Workspace.Write] since the workspace was
// opened in this process.
type WriteStats struct {
	Writes   uint64 // Write calls whose work committed
	Failed   uint64 // Write calls that returned an error
	Batches  uint64 // transactions committed
	MaxBatch uint64 // the largest batch

	// Checkpoints counts the PASSIVE checkpoints the writer connection ran
	// after commits (in place of SQLite's automatic checkpoint), and
	// WALRestarts the RESTART checkpoints it ran because readers had kept
	// the WAL from starting over (see Status.WALSize).
	Checkpoints, WALRestarts uint64
}

// MeanBatch returns the mean number of Write calls per committed
// transaction.
func (s WriteStats) MeanBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Writes) / float64(s.Batches)
}

// WriteStats returns the counters of [Workspace.Write].
func (w *Workspace) WriteStats() WriteStats {
	var s WriteStats
	if w.e.writer != nil {
		s = w.e.writer.stats()
	}
	if g := w.e.guard; g != nil {
		s.Checkpoints, s.WALRestarts = g.checkpoints.Load(), g.restarts.Load()
	}
	return s
}

// Request states: a request is claimed by the writer just before its
// function runs, or cancelled by its caller while it is still queued; the
// first to move it out of queued wins.
const (
	reqQueued int32 = iota
	reqClaimed
	reqCancelled
)

type writeReq struct {
	fn    func(Querier) error
	state atomic.Int32
	done  chan struct{}

	// Set by the writer before done is closed.
	err      error
	panicked bool
	panicVal any
	goexit   bool
}

func (r *writeReq) claim() bool { return r.state.CompareAndSwap(reqQueued, reqClaimed) }

// writer is a workspace's group committer: one goroutine that owns the
// writer connection's transactions.
type writer struct {
	db   *sql.DB
	path string
	log  *slog.Logger

	reqs   chan *writeReq
	quit   chan struct{}
	exited chan struct{} // closed when the writer goroutine has stopped for good
	stopMu sync.Once
	gid    atomic.Uint64 // id of the goroutine running functions, see nested
	guard  *connGuard

	// syncer, when not nil, makes batches durable after they commit at
	// NORMAL (see deferredSync); syncLevel is the configured level.
	syncer    *syncer
	syncLevel string

	// Owned by the writer goroutine; stmtMu guards stmts, wanted and the
	// batch's stmts, which a function's goroutines reach through stmt.
	stmtMu  sync.Mutex
	stmts   map[string]*sql.Stmt // prepared on db; nil value: do not cache
	wanted  map[string]struct{}  // queries to prepare after the batch
	control struct {
		save, release, rollbackTo *sql.Stmt
	}

	writes, failed, batches, maxBatch atomic.Uint64
}

// newWriter starts the group committer of db. syncLevel, when not "", is
// the synchronous level whose fsyncs the syncer takes over (see
// deferredSync).
func newWriter(db *sql.DB, path string, guard *connGuard, syncLevel string, log *slog.Logger) *writer {
	w := &writer{
		db:     db,
		path:   path,
		guard:  guard,
		log:    log,
		reqs:   make(chan *writeReq, maxBatch),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
		stmts:  make(map[string]*sql.Stmt),
		wanted: make(map[string]struct{}),
	}
	if syncLevel != "" {
		w.syncLevel = syncLevel
		w.syncer = newSyncer(w, path+"-wal")
	}
	go w.loop()
	return w
}

func (w *writer) stats() WriteStats {
	return WriteStats{
		Writes:   w.writes.Load(),
		Failed:   w.failed.Load(),
		Batches:  w.batches.Load(),
		MaxBatch: w.maxBatch.Load(),
	}
}

func (w *writer) write(ctx context.Context, fn func(Querier) error) error {
	if fn == nil {
		return fmt.Errorf("workspace: write %s: nil function", w.path)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.nested() {
		return fmt.Errorf("workspace: write %s: %w", w.path, ErrNestedWrite)
	}
	r := &writeReq{fn: fn, done: make(chan struct{})}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return fmt.Errorf("workspace: write %s: %w", w.path, ErrClosed)
	}
	if hook := testHookQueued.Load(); hook != nil {
		(*hook)()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return ctx.Err()
		}
		<-r.done
	case <-w.exited:
		// Queued after the writer drained its queue for the last time.
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return fmt.Errorf("workspace: write %s: %w", w.path, ErrClosed)
		}
		<-r.done
	}
	switch {
	case r.panicked:
		panic(r.panicVal)
	case r.goexit:
		runtime.Goexit()
	}
	return r.err
}

// nested reports whether the calling goroutine is the writer goroutine, which
// only calls Write from inside a function it runs. Go has no goroutine-local
// storage and fn gets no context of ours, so the goroutine's id, read from
// its stack header, is what tells.
func (w *writer) nested() bool {
	// Only a running function can call Write from the writer goroutine;
	// the goroutine id is read only then, because reading it costs a stack
	// trace.
	if !w.guard.inFn.Load() {
		return false
	}
	id := w.gid.Load()
	return id != 0 && id == goid()
}

// goid returns the current goroutine's id from the "goroutine N [" header of
// its stack trace.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

func (w *writer) stop() {
	w.stopMu.Do(func() { close(w.quit) })
	<-w.exited
	if w.syncer != nil {
		w.syncer.stop()
	}
	for _, st := range w.stmts {
		if st != nil {
			st.Close()
		}
	}
	for _, st := range []*sql.Stmt{w.control.save, w.control.release, w.control.rollbackTo} {
		if st != nil {
			st.Close()
		}
	}
}

// loop runs batches until stop. If a function calls runtime.Goexit, which
// cannot be recovered, the batch is aborted (see batch) and a new goroutine
// takes over the loop.
func (w *writer) loop() {
	w.gid.Store(goid())
	stopped := false
	defer func() {
		if !stopped {
			go w.loop()
			return
		}
		w.gid.Store(0)
		close(w.exited)
	}()
	for {
		select {
		case r := <-w.reqs:
			w.gather()
			w.batch(r)
		case <-w.quit:
			w.drain()
			stopped = true
			return
		}
	}
}

// gather lets callers woken by the last commit queue their next request
// before a batch starts: they are runnable but may not have run yet, and
// yielding to them turns many small batches into a few large ones. It yields
// while the queue keeps growing, a few times at most; when nothing else is
// runnable, Gosched returns at once, so a lone Write is not delayed.
func (w *writer) gather() {
	for n, i := len(w.reqs), 0; i < 4; i++ {
		runtime.Gosched()
		m := len(w.reqs)
		if m == n {
			return
		}
		n = m
	}
}

// drain fails every queued request with ErrClosed.
func (w *writer) drain() {
	for {
		select {
		case r := <-w.reqs:
			if r.claim() {
				r.err = fmt.Errorf("workspace: write %s: %w", w.path, ErrClosed)
				w.failed.Add(1)
				close(r.done)
			}
		default:
			return
		}
	}
}

// batchState is one transaction of the group committer.
type batchState struct {
	conn  *sql.Conn
	tx    *sql.Tx
	reqs  []*writeReq
	start time.Time
	// Statements bound to tx.
	save, release, rollbackTo *sql.Stmt
	stmts                     map[string]*sql.Stmt
}

// errTxEnded reports that the transaction of a batch ended before COMMIT:
// SQLite rolls a transaction back by itself after some errors (a full disk,
// an I/O error, an interrupt), even when the function that hit the error
// ignored it.
var errTxEnded = errors.New("the transaction was rolled back by SQLite")

// batch runs first and whatever else is queued, up to the limits, in one
// transaction, then reports to every caller.
func (w *writer) batch(first *writeReq) {
	ctx := context.Background()
	w.prepare(ctx)
	fail := func(err error) {
		if first.claim() {
			first.err = fmt.Errorf("workspace: write %s: %w", w.path, err)
			w.failed.Add(1)
			close(first.done)
		}
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer conn.Close()
	if w.syncer != nil {
		if err := w.setSync(conn, "NORMAL"); err != nil {
			fail(err)
			return
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		b := &batchState{conn: conn}
		w.restoreSync(b)
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	w.guard.rolledBack.Store(false)
	b := &batchState{conn: conn, tx: tx, start: time.Now(), stmts: make(map[string]*sql.Stmt)}
	b.save = w.bind(ctx, tx, w.control.save)
	b.release = w.bind(ctx, tx, w.control.release)
	b.rollbackTo = w.bind(ctx, tx, w.control.rollbackTo)

	finished := false
	defer func() {
		if !finished {
			// A function called runtime.Goexit: the deferred calls run
			// while the goroutine unwinds, and loop starts a new one.
			w.guard.inFn.Store(false)
			w.abort(b, errors.New("a Write function called runtime.Goexit"))
		}
	}()

	for r := first; r != nil; r = w.next(b) {
		if !r.claim() {
			continue // cancelled while queued: fn never runs
		}
		b.reqs = append(b.reqs, r)
		if err := w.run(ctx, b, r); err != nil {
			w.abort(b, err)
			finished = true
			return
		}
	}
	w.commit(b)
	finished = true
}

// connGuard is what the writer pool's connections share with the writer:
// its init installs, on every new connection, an authorizer that denies
// transaction and savepoint statements to Write functions (a function that
// committed, rolled back or released the batch's savepoint would commit or
// lose other callers' work behind their backs), a rollback hook that tells
// the writer when SQLite ended a transaction by itself, and the WAL hook
// that checkpoints (see walHook).
type connGuard struct {
	inFn       atomic.Bool // a Write function is running
	rolledBack atomic.Bool // a transaction ended in a rollback since the batch began

	// checkpointPages is the WAL hook's PASSIVE threshold; checkpoints and
	// restarts count what it ran. See walHook.
	checkpointPages       int
	checkpoints, restarts atomic.Uint64
	log                   *slog.Logger
}

func (g *connGuard) init(c *sqlite3.Conn) error {
	err := c.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, _, _, _, _ string) sqlite3.AuthorizerReturnCode {
		if (action == sqlite3.AUTH_TRANSACTION || action == sqlite3.AUTH_SAVEPOINT) && g.inFn.Load() {
			return sqlite3.AUTH_DENY
		}
		return sqlite3.AUTH_OK
	})
	if err != nil {
		return err
	}
	c.RollbackHook(func() { g.rolledBack.Store(true) })
	c.WALHook(g.walHook)
	return nil
}

// deferredFKs returns the number of deferred foreign key violations b's
// transaction holds.
func (b *batchState) deferredFKs() (n int64, err error) {
	err = b.conn.Raw(func(dc any) error {
		n, _, err = dc.(sqlite3driver.Conn).Raw().Status(sqlite3.DBSTATUS_DEFERRED_FKS, false)
		return err
	})
	return n, err
}

// next returns the next queued request if the batch may grow, or nil.
func (w *writer) next(b *batchState) *writeReq {
	if len(b.reqs) >= maxBatch || time.Since(b.start) >= maxBatchTime {
		return nil
	}
	select {
	case r := <-w.reqs:
		return r
	default:
		return nil
	}
}

// run runs r's function inside a savepoint. A non-nil result means the
// transaction can no longer be used.
func (w *writer) run(ctx context.Context, b *batchState, r *writeReq) error {
	if err := w.execControl(ctx, b, b.save, "SAVEPOINT litedir_write"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	q := &txQuerier{w: w, b: b}
	w.guard.inFn.Store(true)
	call(r, q)
	w.guard.inFn.Store(false)
	q.finish()

	if w.guard.rolledBack.Load() {
		if r.err != nil {
			return fmt.Errorf("%w: %w", errTxEnded, r.err)
		}
		return errTxEnded
	}
	deferredFKs, err := b.deferredFKs()
	switch {
	case err != nil:
		return err
	case deferredFKs > 0 && r.err == nil && !r.panicked:
		// A deferred constraint would fail the COMMIT, and with it every
		// other caller of the batch: fail this function alone instead.
		r.err = fmt.Errorf("workspace: write %s: %d deferred foreign key violations: %w",
			w.path, deferredFKs, sqlite3.CONSTRAINT_FOREIGNKEY)
	}
	if r.err != nil || r.panicked {
		if err := w.execControl(ctx, b, b.rollbackTo, "ROLLBACK TO litedir_write"); err != nil {
			return fmt.Errorf("rollback to savepoint: %w", err)
		}
	}
	if err := w.execControl(ctx, b, b.release, "RELEASE litedir_write"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// call runs r.fn, recording a return, a panic or a runtime.Goexit, the way
// golang.org/x/sync/singleflight tells them apart.
func call(r *writeReq, q Querier) {
	normal, recovered := false, false
	defer func() {
		if !normal && !recovered {
			r.goexit = true
		}
	}()
	func() {
		defer func() {
			if !normal {
				// Since Go 1.21 recover returns nil only for Goexit.
				if p := recover(); p != nil {
					r.panicked, r.panicVal = true, p
				}
			}
		}()
		r.err = r.fn(q)
		normal = true
	}()
	if !normal {
		recovered = true
	}
}

func (w *writer) execControl(ctx context.Context, b *batchState, st *sql.Stmt, query string) error {
	var err error
	if st != nil {
		_, err = st.ExecContext(ctx)
	} else {
		_, err = b.tx.ExecContext(ctx, query)
	}
	return err
}

// commit commits b and reports to its callers.
func (w *writer) commit(b *batchState) {
	if len(b.reqs) == 0 {
		b.tx.Rollback()
		w.restoreSync(b)
		return
	}
	err := b.tx.Commit()
	w.restoreSync(b)
	if err != nil {
		// The driver rolled back: nothing of the batch is durable.
		cause := fmt.Errorf("write %s: commit: %w", w.path, err)
		for _, r := range b.reqs {
			if r.err == nil && !r.panicked {
				r.err = &abortError{cause: cause}
			}
		}
		w.finish(b.reqs, false)
		return
	}
	if w.syncer != nil {
		w.syncer.add(b.reqs)
	} else {
		w.finish(b.reqs, true)
	}
}

// setSync sets the writer connection's synchronous level, outside a
// transaction: see deferredSync.
func (w *writer) setSync(conn *sql.Conn, level string) error {
	return conn.Raw(func(dc any) error {
		return dc.(sqlite3driver.Conn).Raw().Exec("PRAGMA synchronous=" + level)
	})
}

// restoreSync gives the connection back its configured synchronous level
// after a batch committed at NORMAL, for the DB() callers who use it next.
func (w *writer) restoreSync(b *batchState) {
	if w.syncer == nil {
		return
	}
	if err := w.setSync(b.conn, w.syncLevel); err != nil {
		// A connection left at NORMAL would quietly weaken DB() commits:
		// take it out of the pool instead.
		w.log.Error("restoring synchronous on the writer connection failed; closing it", "db", w.path, "err", err)
		b.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// abort rolls b back and fails every call of the batch that has no error of
// its own with an *abortError.
func (w *writer) abort(b *batchState, cause error) {
	cause = fmt.Errorf("write %s: %w", w.path, cause)
	if err := b.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) && !w.guard.rolledBack.Load() {
		w.log.Warn("rollback of an aborted write batch failed", "db", w.path, "err", err)
	}
	w.restoreSync(b)
	for _, r := range b.reqs {
		if r.err == nil && !r.panicked && !r.goexit {
			r.err = &abortError{cause: cause}
		}
	}
	w.finish(b.reqs, false)
}

// finish reports to the callers of a batch and counts it. The writer calls
// it, and the syncer for batches it made durable.
func (w *writer) finish(reqs []*writeReq, committed bool) {
	// Count first: a caller may read WriteStats as soon as its Write
	// returns.
	var ok uint64
	for _, r := range reqs {
		if committed && r.err == nil && !r.panicked && !r.goexit {
			ok++
		}
	}
	w.failed.Add(uint64(len(reqs)) - ok)
	if committed {
		w.writes.Add(ok)
		w.batches.Add(1)
		for n := uint64(len(reqs)); ; {
			m := w.maxBatch.Load()
			if n <= m || w.maxBatch.CompareAndSwap(m, n) {
				break
			}
		}
	}
	for _, r := range reqs {
		close(r.done)
	}
}

// prepare prepares, on the pool, the statements the last batches ran
// unprepared; the connection is free between batches.
func (w *writer) prepare(ctx context.Context) {
	if w.control.save == nil {
		w.control.save = w.prepareOne(ctx, "SAVEPOINT litedir_write")
		w.control.release = w.prepareOne(ctx, "RELEASE litedir_write")
		w.control.rollbackTo = w.prepareOne(ctx, "ROLLBACK TO litedir_write")
	}
	w.stmtMu.Lock()
	defer w.stmtMu.Unlock()
	for query := range w.wanted {
		delete(w.wanted, query)
		if len(w.stmts) >= maxCachedStmts {
			continue
		}
		// A statement that does not prepare stays uncached; running it
		// reports the error to its caller.
		w.stmts[query] = w.prepareOne(ctx, query)
	}
}

func (w *writer) prepareOne(ctx context.Context, query string) *sql.Stmt {
	st, err := w.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	return st
}

func (w *writer) bind(ctx context.Context, tx *sql.Tx, st *sql.Stmt) *sql.Stmt {
	if st == nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// stmt returns the statement for query bound to b's transaction, or nil when
// it is not prepared yet.
func (w *writer) stmt(ctx context.Context, b *batchState, query string) *sql.Stmt {
	w.stmtMu.Lock()
	defer w.stmtMu.Unlock()
	if st := b.stmts[query]; st != nil {
		return st
	}
	st, ok := w.stmts[query]
	if !ok {
		if len(w.stmts) < maxCachedStmts {
			w.wanted[query] = struct{}{}
		}
		return nil
	}
	if st == nil {
		return nil
	}
	st = b.tx.StmtContext(ctx, st)
	b.stmts[query] = st
	return st
}

// txQuerier is the Querier of one Write function.
type txQuerier struct {
	w    *writer
	b    *batchState
	done atomic.Bool

	mu   sync.Mutex // a function may use q from several goroutines
	rows []*sql.Rows
}

// finish invalidates q and closes the rows its function left open, which
// would otherwise hold the transaction's statements.
func (q *txQuerier) finish() {
	q.done.Store(true)
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.rows {
		r.Close()
	}
}

// usable returns ErrQuerierDone after q's function returned, and an error
// once SQLite has rolled the transaction back: a statement run then would
// run in autocommit mode, outside the batch.
func (q *txQuerier) usable() error {
	switch {
	case q.done.Load():
		return ErrQuerierDone
	case q.w.guard.rolledBack.Load():
		return fmt.Errorf("workspace: write %s: %w", q.w.path, errTxEnded)
	}
	return nil
}

func (q *txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if len(args) > 0 {
		if st := q.w.stmt(ctx, q.b, query); st != nil {
			return st.ExecContext(ctx, args...)
		}
	}
	return q.b.tx.ExecContext(ctx, query, args...)
}

func (q *txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	rows, err := q.b.tx.QueryContext(context.WithoutCancel(ctx), query, args...)
	if err == nil {
		q.mu.Lock()
		q.rows = append(q.rows, rows)
		q.mu.Unlock()
	}
	return rows, err
}

func (q *txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := q.usable(); err != nil {
		// A *sql.Row can carry only an error of database/sql's own making:
		// a done context stops the query before it reaches the transaction,
		// which may be running another caller's function by now.
		return q.b.tx.QueryRowContext(doneCtx, query, args...)
	}
	return q.b.tx.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}

func (q *txQuerier) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	return q.b.tx.PrepareContext(context.WithoutCancel(ctx), query)
}
