package committer

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// Querier is what a Write function gets to run its statements: the common
// subset of *sql.DB, *sql.Tx and *sql.Conn, as sqlc-generated code expects
// it. It is valid only until the function returns.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// doneCtx is a context that is already done.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// querier is the Querier of one Write function. Its statements run on the
// lent connection (see proxy.go), inside the function's savepoint; a panic
// that the driver layer turned into an error is raised again here, in the
// function, once database/sql has let go of its locks.
type querier struct {
	c    *Committer
	done atomic.Bool

	mu   sync.Mutex // a function may use q from several goroutines
	rows []*sql.Rows
}

// finish invalidates q and closes the rows its function left open, which
// would otherwise hold their statements.
func (q *querier) finish() {
	q.done.Store(true)
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.rows {
		r.Close()
	}
	q.rows = nil
}

// usable returns ErrQuerierDone after q's function returned, and an error
// once SQLite has rolled the transaction back: a statement run then would
// run in autocommit mode, outside the batch.
func (q *querier) usable() error {
	switch {
	case q.done.Load():
		return ErrQuerierDone
	case q.c.w.rolledBack():
		return q.c.errf("write", errTxEnded)
	}
	return nil
}

// repanic raises again a panic that a statement's driver call recovered.
func repanic(err error) {
	if err == nil {
		return // before pe, which escapes: no allocation per statement
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		panic(pe.Value)
	}
}

func (q *querier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	res, err := q.c.lent.ExecContext(context.WithoutCancel(ctx), query, args...)
	repanic(err)
	return res, err
}

func (q *querier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	rows, err := q.c.lent.QueryContext(context.WithoutCancel(ctx), query, args...)
	repanic(err)
	if err == nil {
		q.mu.Lock()
		q.rows = append(q.rows, rows)
		q.mu.Unlock()
	}
	return rows, err
}

func (q *querier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := q.usable(); err != nil {
		// A *sql.Row can carry only an error of database/sql's own making:
		// a done context stops the query before it reaches the connection.
		return q.c.lent.QueryRowContext(doneCtx, query, args...)
	}
	row := q.c.lent.QueryRowContext(context.WithoutCancel(ctx), query, args...)
	repanic(row.Err())
	return row
}

func (q *querier) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := q.usable(); err != nil {
		return nil, err
	}
	st, err := q.c.lent.PrepareContext(context.WithoutCancel(ctx), query)
	repanic(err)
	return st, err
}
