package committer

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/ncruces/go-sqlite3"
	sqlite3driver "github.com/ncruces/go-sqlite3/driver"
)

// The database/sql driver over the writer connection.
//
// The DB pools, the front and the Querier are each a *sql.DB whose connector hands
// out pconns: cheap handles that own no SQLite connection. A pconn runs a
// statement in one of three ways:
//
//   - directly on the writer connection, under a lease: DB's statements and
//     every statement of a transaction begun with BeginTx. The lease is
//     taken by the first call that needs the connection and given back when
//     database/sql returns the pconn to its pool (IsValid), which it does
//     after a statement, after a Rows is closed, after a Tx ends and when a
//     *sql.Conn is closed — the same spans for which a pool of one
//     connection would have been held;
//   - directly, inside the running batch: the Querier's statements (the
//     lent connection, modeLent), and calls from inside a Write function
//     (see nested.go), which join the function's savepoint;
//   - as a request to the committer (the front's statements outside a
//     transaction, see front.go). Without a read pool (single-connection
//     platforms) the front's queries take a lease instead, as DB's do: a
//     read there waits for the running batch either way.
//
// Arguments are converted (driver.Valuer called) by the pconn, not by
// database/sql, and every statement call into the driver recovers its
// panics, so no panic from a statement crosses database/sql.

// mode is what a pool of pconns is for.
type mode uint8

const (
	modeLent  mode = iota // the Querier of Write functions
	modeLease             // DB
	modeFront             // the front
)

// connector hands out pconns of one mode.
type connector struct {
	c    *Committer
	mode mode
}

func (k *connector) Connect(context.Context) (driver.Conn, error) {
	if k.c.stopped() {
		return nil, k.c.errf("connect", ErrClosed)
	}
	return &pconn{c: k.c, mode: k.mode}, nil
}

func (k *connector) Driver() driver.Driver { return noDriver{} }

// noDriver is the connector's Driver, which database/sql requires but never
// calls for a DB made by sql.OpenDB.
type noDriver struct{}

func (noDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("workspace: the writer's pools are opened by the workspace, not by name")
}

// pconn is a database/sql connection handle; see the comment above.
// database/sql never calls one pconn from two goroutines at once.
type pconn struct {
	c     *Committer
	mode  mode
	lease *request // the lease held, or nil
	inTx  bool     // a transaction begun with BeginTx is open
	txRO  bool     // ... and it is read-only
}

var (
	_ sqlite3driver.Conn       = (*pconn)(nil)
	_ driver.ExecerContext     = (*pconn)(nil)
	_ driver.QueryerContext    = (*pconn)(nil)
	_ driver.NamedValueChecker = (*pconn)(nil)
	_ driver.Validator         = (*pconn)(nil)
	_ driver.SessionResetter   = (*pconn)(nil)
)

// enter decides how a call runs now. routed means the call goes to the
// committer as a request (front statements outside a transaction; only
// when routable); otherwise it runs directly on the writer connection,
// inBatch telling whether inside the running batch.
func (p *pconn) enter(ctx context.Context, op string, routable bool) (inBatch, routed bool, err error) {
	c := p.c
	switch {
	case p.mode == modeLent:
		if !c.inFn.Load() {
			return false, false, ErrQuerierDone
		}
		return true, false, nil
	case p.lease != nil:
		return false, false, nil
	case c.nested():
		return true, false, nil
	case p.mode == modeFront && routable:
		return false, true, nil
	}
	if err := p.acquire(ctx, op); err != nil {
		return false, false, err
	}
	return false, false, nil
}

// frontRead reports whether a query that runs directly on the writer
// connection is a front query outside a transaction: where there is no
// read pool, the front's queries run on the writer under a lease, and they
// follow the front's rules there too (see session.go): a statement that
// would change the connection — transaction control, a setting, ATTACH —
// is refused, not left on it for the calls after.
func (p *pconn) frontRead(inBatch bool) bool {
	return p.mode == modeFront && !inBatch && !p.inTx
}

// acquire takes the lease: it waits for the running batch to commit.
func (p *pconn) acquire(ctx context.Context, op string) error {
	r := newRequest(ctx, kindLease)
	o, err := p.c.submit(op, r)
	if err != nil {
		return err
	}
	if o.err != nil {
		return o.err
	}
	p.lease = r
	return nil
}

// release gives the lease back unless a transaction is still open on the
// connection (one begun with BeginTx, or with a BEGIN statement).
func (p *pconn) release() {
	if p.lease == nil || p.inTx {
		return
	}
	if !p.lease.revoked.Load() && !p.c.w.autocommit() {
		return
	}
	p.lease.release()
	p.lease = nil
}

// notePanic records a panic recovered in a statement run inside a Write
// function, which the function may not see (see request.stmtPanic).
func (p *pconn) notePanic(inBatch bool, err error) {
	if !inBatch || err == nil {
		return // before pe, which escapes: no allocation per statement
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		if st := p.c.cur.Load(); st != nil {
			st.stmtPanic.CompareAndSwap(nil, pe)
		}
	}
}

func (p *pconn) onPanic(inBatch bool) func(*PanicError) {
	if !inBatch {
		return nil
	}
	return func(pe *PanicError) { p.notePanic(true, pe) }
}

// CheckNamedValue accepts every argument: ExecContext and QueryContext
// convert them (see wconn.checkArgs).
func (p *pconn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (p *pconn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	args, err := p.c.w.checkArgs(args)
	if err != nil {
		p.notePanic(p.mode == modeLent || p.c.nested(), err)
		return nil, err
	}
	inBatch, routed, err := p.enter(ctx, "exec", true)
	if err != nil {
		return nil, err
	}
	if routed {
		return p.c.execRequest(ctx, query, args)
	}
	if inBatch {
		ctx = context.WithoutCancel(ctx)
	}
	res, err := p.c.w.exec(ctx, p.lease, query, args, inBatch)
	p.notePanic(inBatch, err)
	return res, err
}

func (p *pconn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	args, err := p.c.w.checkArgs(args)
	if err != nil {
		p.notePanic(p.mode == modeLent || p.c.nested(), err)
		return nil, err
	}
	inBatch, routed, err := p.enter(ctx, "query", p.c.readDB != nil)
	if err != nil {
		return nil, err
	}
	if routed {
		return p.c.frontQuery(ctx, query, args)
	}
	if inBatch {
		ctx = context.WithoutCancel(ctx)
	}
	rows, err := p.c.w.query(ctx, p.lease, query, args, inBatch, p.frontRead(inBatch), p.onPanic(inBatch))
	p.notePanic(inBatch, err)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (p *pconn) Prepare(query string) (driver.Stmt, error) {
	return p.PrepareContext(context.Background(), query)
}

// PrepareContext checks that query prepares and returns a statement that
// runs it by its text, through the connection's routing: the writer's
// statement cache makes that as cheap as holding the prepared statement.
func (p *pconn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	// Without readers, the statement is checked on the writer
	// connection, between batches.
	inBatch, routed, err := p.enter(ctx, "prepare", p.c.readDB != nil)
	if err != nil {
		return nil, err
	}
	if routed {
		err = p.c.validate(ctx, query)
	} else {
		if inBatch {
			ctx = context.WithoutCancel(ctx)
		}
		err = p.c.w.validate(ctx, p.lease, query, inBatch, p.frontRead(inBatch))
	}
	if err != nil {
		return nil, err
	}
	return &pstmt{p: p, query: query}, nil
}

func (p *pconn) Begin() (driver.Tx, error) {
	return p.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx begins a transaction that holds the writer connection until it
// ends (BEGIN IMMEDIATE, or as opts ask). Inside a Write function it fails
// with ErrNestedWrite: the function's work is a savepoint of the batch, and
// a transaction cannot begin inside another.
func (p *pconn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if p.mode == modeLent || (p.lease == nil && p.c.nested()) {
		return nil, p.c.errf("begin", ErrNestedWrite)
	}
	if p.lease == nil {
		if err := p.acquire(ctx, "begin"); err != nil {
			return nil, err
		}
	}
	if err := p.c.w.beginTx(ctx, p.lease, opts); err != nil {
		p.release()
		return nil, err
	}
	p.inTx, p.txRO = true, opts.ReadOnly
	return ptx{p}, nil
}

// Raw returns the SQLite connection, for code that reaches the driver
// through (*sql.Conn).Raw; it takes the lease, which database/sql's release
// of the connection gives back. It returns nil when it cannot have the
// connection: the committer closed, or Close took the lease back.
func (p *pconn) Raw() *sqlite3.Conn {
	switch {
	case p.lease != nil && p.lease.revoked.Load():
		return nil
	case p.mode != modeLent && p.lease == nil && !p.c.nested():
		if err := p.acquire(context.Background(), "raw"); err != nil {
			return nil
		}
	}
	return p.c.w.raw
}

// ResetSession is called before database/sql reuses the pconn.
func (p *pconn) ResetSession(context.Context) error {
	if p.c.stopped() {
		return driver.ErrBadConn
	}
	return nil
}

// IsValid is called when database/sql returns the pconn to its pool: the
// end of the span a lease covers.
func (p *pconn) IsValid() bool {
	p.release()
	return !p.c.stopped()
}

// Close closes the handle only, never the writer connection: a transaction
// a BEGIN statement left open on a lease is rolled back.
func (p *pconn) Close() error {
	if p.lease == nil {
		return nil
	}
	var err error
	if !p.lease.revoked.Load() && !p.c.w.autocommit() {
		err = p.c.w.endTx(p.lease, false, p.txRO)
	}
	p.inTx = false
	p.lease.release()
	p.lease = nil
	return err
}

// ptx is a transaction begun with BeginTx.
type ptx struct{ p *pconn }

func (t ptx) Commit() error {
	t.p.inTx = false
	return t.p.c.w.endTx(t.p.lease, true, t.p.txRO)
}

func (t ptx) Rollback() error {
	t.p.inTx = false
	return t.p.c.w.endTx(t.p.lease, false, t.p.txRO)
}

// pstmt is a prepared statement of a pconn, run by its text.
type pstmt struct {
	p     *pconn
	query string
}

var (
	_ driver.StmtExecContext   = (*pstmt)(nil)
	_ driver.StmtQueryContext  = (*pstmt)(nil)
	_ driver.NamedValueChecker = (*pstmt)(nil)
)

func (s *pstmt) Close() error { return nil }

// NumInput returns -1: the count is checked when the statement runs.
func (s *pstmt) NumInput() int { return -1 }

func (s *pstmt) CheckNamedValue(*driver.NamedValue) error { return nil }

func (s *pstmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *pstmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *pstmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.p.ExecContext(ctx, s.query, args)
}

func (s *pstmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.p.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}
