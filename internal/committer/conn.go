package committer

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ncruces/go-sqlite3"
	sqlite3driver "github.com/ncruces/go-sqlite3/driver"
)

// Transaction control statements, prepared once on the raw connection: they
// bypass database/sql, whose Tx would add locks a panic could leave held.
type ctl int

const (
	ctlBegin ctl = iota
	ctlCommit
	ctlRollback
	ctlSavepoint
	ctlRelease
	ctlRollbackTo
	ctlTempCount
	numCtl
)

var ctlSQL = [numCtl]string{
	ctlBegin:      "BEGIN IMMEDIATE",
	ctlCommit:     "COMMIT",
	ctlRollback:   "ROLLBACK",
	ctlSavepoint:  "SAVEPOINT litedir_write",
	ctlRelease:    "RELEASE litedir_write",
	ctlRollbackTo: "ROLLBACK TO litedir_write",
	ctlTempCount:  "SELECT count(*) FROM temp.sqlite_schema",
}

// writerState is what the hooks of the writer connection record for it
// (see Hooks.Init). The writer pool has one connection at a time, and
// everything that runs on it holds wconn.mu, so mu guards this too.
type writerState struct {
	watch      prepWatch
	rolledBack bool // a transaction ended in a rollback since the batch began
}

// wconn is the writer connection, pinned out of the writer pool for the
// committer's life (or until the loop replaces it, see Committer.reset).
// Every use of the driver connection holds mu, whichever goroutine it comes
// from (the loop, a lease holder, a nested call), and turns a panic into an
// error before it can reach database/sql.
type wconn struct {
	mu    sync.Mutex
	sc    *sql.Conn // holds the pool's connection until unpin
	dc    sqlite3driver.Conn
	raw   *sqlite3.Conn
	state *writerState
	ctl   [numCtl]*sqlite3.Stmt
	cache stmtCache

	// checker is a driver statement kept for its CheckNamedValue, which
	// accepts the value types the driver binds natively; set by pin, read
	// by any goroutine, never written again.
	checker driver.NamedValueChecker

	// level is the synchronous level in force on the connection.
	level string

	// dirty is set when a statement that changes the session (see
	// session.go) ran under a lease: the loop replaces the connection when
	// the lease ends. tempUsed is set when one that makes or drops a
	// temporary object ran in a batch: the batch checks, after the request,
	// that none is left.
	dirty, tempUsed bool

	// inBatch says whether the statement being prepared is for a batch.
	// strict says it is a front query outside a transaction, run on the
	// writer under a lease where there is no read pool: what would change
	// the connection is refused, as it is in a batch and on a read
	// connection, instead of being allowed and reset after the lease.
	inBatch, strict bool

	// dead is set by unpin: the connection is back in the pool.
	dead bool
}

// lock takes mu for a call made under lease (nil for the committer's own
// calls and for calls inside a batch), failing once the connection was
// unpinned or the lease taken back by Close.
func (w *wconn) lock(lease *request) error {
	w.mu.Lock()
	switch {
	case lease != nil && lease.revoked.Load():
		w.mu.Unlock()
		return ErrLeaseRevoked
	case w.dead:
		w.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// pin takes db's connection out of the pool and prepares the control
// statements on it.
func pin(ctx context.Context, db *sql.DB, state *writerState, level string) (*wconn, error) {
	w := &wconn{state: state}
	if err := w.attach(ctx, db, level); err != nil {
		return nil, errors.Join(err, w.detach(false))
	}
	// The checker is used for its Go method only, by any goroutine, for
	// the committer's life: its SQLite statement is closed at once.
	checker, err := w.dc.PrepareContext(ctx, "SELECT NULL")
	if err != nil {
		return nil, errors.Join(err, w.detach(false))
	}
	checker.Close()
	w.checker = checker.(driver.NamedValueChecker)
	return w, nil
}

// attach takes db's connection out of the pool and prepares the control
// statements on it. The caller holds mu, or has w to itself.
func (w *wconn) attach(ctx context.Context, db *sql.DB, level string) error {
	sc, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	w.sc, w.level = sc, level
	// The driver connection is used outside Raw's callback for as long as
	// the *sql.Conn is held: database/sql never touches a connection
	// that is not released to the pool.
	if err := sc.Raw(func(dc any) error {
		c, ok := dc.(sqlite3driver.Conn)
		if !ok {
			return fmt.Errorf("writer connection is a %T, not an ncruces connection", dc)
		}
		w.dc, w.raw = c, c.Raw()
		return nil
	}); err != nil {
		return err
	}
	for i, q := range ctlSQL {
		st, _, err := w.raw.Prepare(q)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", q, err)
		}
		w.ctl[i] = st
	}
	w.cache.init(maxCachedStmts)
	return nil
}

// detach closes the statements, rolls back a transaction left open, and
// returns the connection to the pool; discard closes it instead, so that
// the pool opens a new one, with the configured pragmas, next time. The
// caller holds mu, or has w to itself.
func (w *wconn) detach(discard bool) error {
	var errs []error
	if w.raw != nil && !w.raw.GetAutocommit() {
		errs = append(errs, w.raw.Exec("ROLLBACK"))
	}
	w.cache.closeAll()
	for i, st := range w.ctl {
		if st != nil {
			st.Close()
			w.ctl[i] = nil
		}
	}
	if w.sc != nil {
		if discard {
			// database/sql closes a connection, and the *sql.Conn, when
			// Raw reports it bad.
			w.sc.Raw(func(any) error { return driver.ErrBadConn })
		} else {
			errs = append(errs, w.sc.Close())
		}
		w.sc = nil
	}
	w.dc, w.raw = nil, nil
	w.dirty, w.tempUsed = false, false
	return errors.Join(errs...)
}

// unpin gives the connection back to the pool for good.
func (w *wconn) unpin() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		return nil
	}
	w.dead = true
	return w.detach(false)
}

// replace closes the connection and takes a new one from db: nothing of
// the old one's session survives.
func (w *wconn) replace(db *sql.DB, level string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		return ErrClosed
	}
	detached := w.detach(true)
	// The pool opens the connection: its pragmas and hooks are the
	// pool's, and the busy timeout bounds them.
	if err := w.attach(context.Background(), db, level); err != nil {
		w.dead = true
		return errors.Join(detached, err)
	}
	return detached
}

// control runs a control statement.
func (w *wconn) control(k ctl) (err error) {
	if err := w.lock(nil); err != nil {
		return err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	return w.ctl[k].Exec()
}

// begin begins a batch's transaction, at synchronous NORMAL when the syncer
// takes over the fsyncs, and forgets earlier rollbacks.
func (w *wconn) begin(normal bool) (err error) {
	if normal {
		if err := w.setLevel("NORMAL"); err != nil {
			return err
		}
	}
	if err := w.control(ctlBegin); err != nil {
		return err
	}
	w.mu.Lock()
	w.state.rolledBack = false
	w.mu.Unlock()
	return nil
}

// rolledBack reports whether SQLite ended the batch's transaction by itself.
func (w *wconn) rolledBack() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state.rolledBack
}

// setLevel sets PRAGMA synchronous, outside a transaction, when it differs.
func (w *wconn) setLevel(level string) (err error) {
	if err := w.lock(nil); err != nil {
		return err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	if w.level == level {
		return nil
	}
	if err := w.raw.Exec("PRAGMA synchronous=" + level); err != nil {
		return err
	}
	w.level = level
	return nil
}

// rollback rolls back the open transaction, if any.
func (w *wconn) rollback() (err error) {
	if err := w.lock(nil); err != nil {
		return err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	if w.raw.GetAutocommit() {
		return nil
	}
	return w.ctl[ctlRollback].Exec()
}

// autocommit reports whether no transaction is open.
func (w *wconn) autocommit() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dead || w.raw.GetAutocommit()
}

// afterRequest reports what a batch request left on the connection that
// fails it: deferred foreign key violations (which would fail the COMMIT of
// everyone in the batch) or temporary objects (see session.go).
func (w *wconn) afterRequest() (problem error, err error) {
	if err := w.lock(nil); err != nil {
		return nil, err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	n, _, err := w.raw.Status(sqlite3.DBSTATUS_DEFERRED_FKS, false)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return fmt.Errorf("%d deferred foreign key violations: %w", n, sqlite3.CONSTRAINT_FOREIGNKEY), nil
	}
	if !w.tempUsed {
		return nil, nil
	}
	w.tempUsed = false
	st := w.ctl[ctlTempCount]
	defer st.Reset()
	if !st.Step() {
		return nil, st.Err()
	}
	if st.ColumnInt64(0) > 0 {
		return errTempLeft, nil
	}
	return nil, nil
}

// takeDirty reports, and forgets, whether a lease changed the session.
func (w *wconn) takeDirty() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.dirty
	w.dirty = false
	return d
}

// checkArgs checks and converts args as database/sql would, but here, so
// that a driver.Valuer that panics does so outside database/sql's locks: the
// panic becomes a *PanicError.
func (w *wconn) checkArgs(args []driver.NamedValue) (_ []driver.NamedValue, err error) {
	defer recoverErr(&err)
	checker := w.checker
	for i := range args {
		nv := &args[i]
		switch err := checker.CheckNamedValue(nv); {
		case err == nil:
			continue
		case !errors.Is(err, driver.ErrSkip):
			return nil, err
		}
		v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
		if err != nil {
			return nil, fmt.Errorf("sql: converting argument %s: %w", argName(nv), err)
		}
		nv.Value = v
	}
	return args, nil
}

func argName(nv *driver.NamedValue) string {
	if nv.Name != "" {
		return "$" + nv.Name
	}
	return fmt.Sprintf("$%d", nv.Ordinal)
}

// prepared returns the statement for query from the cache, or prepares it,
// and notes what it may do to the connection: in a batch, a statement that
// would change the session is refused; under a lease, it marks the
// connection dirty. It reports errTail, with no statement, for text that
// holds more than one statement. The caller holds mu and gives the
// statement back with put.
func (w *wconn) prepared(ctx context.Context, query string, inBatch bool) (*cached, error) {
	w.inBatch = inBatch
	st, err := w.cache.get(ctx, w.prepare, query)
	if err != nil {
		return nil, err
	}
	if err := w.note(st.flags, inBatch); err != nil {
		w.cache.put(st, true)
		return nil, err
	}
	return st, nil
}

// note records that a statement with flags f is about to run, or refuses it
// in a batch.
func (w *wconn) note(f stmtFlags, inBatch bool) error {
	if r := refusedFor(f); r != nil && (inBatch || w.strict) {
		return r
	}
	if !inBatch {
		w.dirty = w.dirty || f&(flagSession|flagTemp) != 0
	} else if f&flagTemp != 0 {
		w.tempUsed = true
	}
	return nil
}

// prepare prepares query on the writer connection for its statement cache,
// noting what the authorizer saw; in a batch (w.inBatch), the authorizer
// refuses what would change the session, which SQLite would otherwise do
// while it prepares. It reports errTail for text that holds more than one
// statement.
func (w *wconn) prepare(ctx context.Context, query string) (*cached, error) {
	ds, saw, err := w.watched(ctx, query)
	if err != nil {
		if r := refusedFor(saw); r != nil && errors.Is(err, sqlite3.AUTH) {
			return nil, r
		}
		// A second prepare, to tell a text of several statements, as
		// the driver does not: its authorizer denies what the first did.
		if s, tail, perr := w.raw.Prepare(query); perr == nil {
			s.Close()
			if strings.TrimSpace(tail) != "" {
				return nil, errTail
			}
		}
		return nil, err
	}
	return &cached{ds: ds, flags: saw}, nil
}

// watched prepares query through the driver, with the authorizer watching
// (and, in a batch, refusing), and returns what it saw.
func (w *wconn) watched(ctx context.Context, query string) (driver.Stmt, stmtFlags, error) {
	watch := &w.state.watch
	watch.saw = 0
	refuse := w.inBatch || w.strict
	if refuse {
		watch.deny = flagTxControl | flagSession
		defer func() { watch.deny = 0 }()
	}
	ds, err := w.dc.PrepareContext(ctx, query)
	if !refuse && watch.saw&flagSession != 0 {
		w.dirty = true // changed already, by the prepare
	}
	return ds, watch.saw, err
}

// execAll runs a text of several statements with no arguments through the
// driver, which prepares and runs them one by one; in a batch, the
// authorizer refuses the statements that would change the session as they
// are prepared.
func (w *wconn) execAll(ctx context.Context, query string, inBatch bool) (driver.Result, error) {
	watch := &w.state.watch
	watch.saw = 0
	if inBatch {
		watch.deny = flagTxControl | flagSession
		defer func() { watch.deny = 0 }()
	}
	res, err := w.dc.(driver.ExecerContext).ExecContext(ctx, query, nil)
	err = moved(err)
	saw := watch.saw
	if err != nil && errors.Is(err, sqlite3.AUTH) {
		if r := refusedFor(saw & (flagTxControl | flagSession)); r != nil && inBatch {
			return nil, r
		}
	}
	if inBatch {
		w.note(saw&flagTemp, true)
	} else {
		w.note(saw, false)
	}
	return res, err
}

// validate prepares query (keeping it in the cache) to report a statement
// that does not prepare, as database/sql's Prepare would.
func (w *wconn) validate(ctx context.Context, lease *request, query string, inBatch, strict bool) (err error) {
	if err := w.lock(lease); err != nil {
		return err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	w.strict = strict
	defer func() { w.strict = false }()
	w.inBatch = inBatch
	st, err := w.cache.get(ctx, w.prepare, query)
	if errors.Is(err, errTail) {
		return nil // runs as a whole, with no arguments
	}
	if err != nil {
		return err
	}
	w.cache.put(st, true)
	if inBatch || strict {
		return refusedFor(st.flags)
	}
	return nil
}

// checkCount fails a call whose number of arguments does not match the
// statement's, as database/sql does for prepared statements.
func checkCount(st *cached, args []driver.NamedValue) error {
	if want := st.ds.NumInput(); want >= 0 && want != len(args) {
		return fmt.Errorf("sql: expected %d arguments, got %d", want, len(args))
	}
	return nil
}

// exec runs query once. inBatch says the call runs inside a batch, where
// statements that change the session are refused.
func (w *wconn) exec(ctx context.Context, lease *request, query string, args []driver.NamedValue, inBatch bool) (_ driver.Result, err error) {
	if err := w.lock(lease); err != nil {
		return nil, err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	st, err := w.prepared(ctx, query, inBatch)
	if errors.Is(err, errTail) && len(args) == 0 {
		return w.execAll(ctx, query, inBatch)
	}
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() { w.cache.put(st, ok) }()
	if err := checkCount(st, args); err != nil {
		ok = true
		return nil, err
	}
	res, err := st.ds.(driver.StmtExecContext).ExecContext(ctx, args)
	ok = true
	return res, moved(err)
}

// query runs query and returns its rows, which hold the statement until
// they are closed. strict refuses what would change the connection though
// the query is not in a batch (see wconn.strict). onPanic, when not nil,
// learns of a panic in Next.
func (w *wconn) query(ctx context.Context, lease *request, query string, args []driver.NamedValue, inBatch, strict bool, onPanic func(*PanicError)) (_ *wrows, err error) {
	if err := w.lock(lease); err != nil {
		return nil, err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	w.strict = strict
	defer func() { w.strict = false }()
	st, err := w.prepared(ctx, query, inBatch)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			w.cache.put(st, false)
		}
	}()
	if err := checkCount(st, args); err != nil {
		ok = true
		w.cache.put(st, true)
		return nil, err
	}
	rows, err := st.ds.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		ok = true
		w.cache.put(st, true)
		return nil, moved(err)
	}
	ok = true
	return &wrows{w: w, lease: lease, st: st, rows: rows, onPanic: onPanic}, nil
}

// queryAll runs query in a batch and reads all its rows into memory.
func (w *wconn) queryAll(ctx context.Context, query string, args []driver.NamedValue) (_ *bufRows, err error) {
	rows, err := w.query(ctx, nil, query, args, true, false, nil)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	return readAll(rows)
}

// wrows are the rows of a statement on the writer connection.
type wrows struct {
	w       *wconn
	lease   *request
	st      *cached
	rows    driver.Rows
	onPanic func(*PanicError)
	closed  bool
}

func (r *wrows) Columns() []string {
	if err := r.w.lock(r.lease); err != nil {
		return nil
	}
	defer r.w.mu.Unlock()
	return r.rows.Columns()
}

func (r *wrows) ColumnTypeDatabaseTypeName(i int) string {
	if err := r.w.lock(r.lease); err != nil {
		return ""
	}
	defer r.w.mu.Unlock()
	if t, ok := r.rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *wrows) Next(dest []driver.Value) (err error) {
	if err := r.w.lock(r.lease); err != nil {
		return err
	}
	defer r.w.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
			var pe *PanicError
			if errors.As(err, &pe) && r.onPanic != nil {
				r.onPanic(pe)
			}
		}
	}()
	if r.closed {
		return io.EOF
	}
	return moved(r.rows.Next(dest))
}

// moved adds ErrMoved to SQLite's SQLITE_READONLY_DBMOVED: in rollback-journal
// mode SQLite itself checks, as a write begins, that the database is still
// at its path, and refuses the write if not, before the committer's own
// check before COMMIT (see identity.go) could.
func moved(err error) error {
	if err != nil && errors.Is(err, sqlite3.READONLY_DBMOVED) {
		return fmt.Errorf("%w: %w", ErrMoved, err)
	}
	return err
}

func (r *wrows) Close() (err error) {
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	if r.closed || r.w.dead {
		r.closed = true
		return nil
	}
	r.closed = true
	ok := false
	defer func() { r.w.cache.put(r.st, ok) }()
	defer recoverErr(&err)
	err = r.rows.Close()
	ok = true
	return err
}

// beginTx begins a transaction for a lease holder, through the driver,
// which honours opts (read-only, isolation) as it does for its own pools.
func (w *wconn) beginTx(ctx context.Context, lease *request, opts driver.TxOptions) (err error) {
	if err := w.lock(lease); err != nil {
		return err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	_, err = w.dc.BeginTx(ctx, opts)
	return err
}

// endTx commits or rolls back a lease holder's transaction. The driver
// sets query_only for a read-only one and clears it as the transaction
// ends; where SQLite ended it already, endTx clears it.
func (w *wconn) endTx(lease *request, commit, readOnly bool) (err error) {
	if err := w.lock(lease); err != nil {
		return err
	}
	defer w.mu.Unlock()
	defer recoverErr(&err)
	tx := w.dc.(driver.Tx)
	if commit {
		return tx.Commit()
	}
	if w.raw.GetAutocommit() {
		if readOnly {
			return w.raw.Exec("PRAGMA query_only=off")
		}
		return nil
	}
	return tx.Rollback()
}
