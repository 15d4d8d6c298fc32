package committer

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	sqlite3driver "github.com/ncruces/go-sqlite3/driver"
)

// The front.
//
// The front is a *sql.DB that code written for database/sql uses unchanged,
// and that group-commits its writes:
//
//   - ExecContext outside a transaction joins a batch as its own request,
//     in its own savepoint, exactly like a Write, and returns after the
//     batch commits (after its fsync where the syncer runs);
//   - QueryContext and QueryRowContext outside a transaction prepare the
//     statement on a read connection first: a read-only statement
//     (sqlite3_stmt_readonly) runs there, streaming; one that writes
//     (INSERT … RETURNING, say) joins a batch, its rows read in full before
//     the batch commits and handed over after it. Which texts write is
//     remembered, so they are not prepared on a reader again;
//   - BeginTx takes the writer connection between batches (a lease) and
//     runs a real transaction on it;
//   - PrepareContext returns a statement that routes each run the same way.
//
// A caller reads its own writes: an Exec returns only after its commit, and
// a read begins after that.

// maxClasses bounds the memory of which query texts write.
const maxClasses = 4096

// classCache remembers the query texts that turned out to write.
type classCache struct {
	mu     sync.Mutex
	writes map[string]struct{}
}

func (k *classCache) isWrite(query string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.writes[query]
	return ok
}

func (k *classCache) markWrite(query string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.writes == nil {
		k.writes = make(map[string]struct{})
	}
	if len(k.writes) < maxClasses {
		k.writes[query] = struct{}{}
	}
}

// execRequest runs a front Exec in a batch.
func (c *Committer) execRequest(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r := newRequest(ctx, kindExec)
	r.query, r.args = query, args
	o := c.write("exec", r)
	return o.result, o.err
}

// frontQuery runs a front query outside a transaction: on a reader if it
// only reads, in a batch otherwise.
func (c *Committer) frontQuery(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if !c.classes.isWrite(query) {
		rows, handled, err := c.readQuery(ctx, query, args)
		if handled {
			return rows, err
		}
		c.classes.markWrite(query)
	}
	r := newRequest(ctx, kindQuery)
	r.query, r.args = query, args
	o := c.write("query", r)
	if o.err != nil {
		return nil, o.err
	}
	return o.rows, nil
}

// readOnlyStmt is the driver's statement, which knows whether it writes.
type readOnlyStmt interface{ ReadOnly() bool }

// readQuery runs query on a read connection if it only reads. handled is
// false, with no error, for a statement that writes.
func (c *Committer) readQuery(ctx context.Context, query string, args []driver.NamedValue) (_ driver.Rows, handled bool, err error) {
	rs, err := c.takeReadStmt(ctx, query)
	if err != nil {
		return nil, true, err
	}
	ok := true // rs.st's state can be trusted: no panic struck while it ran
	defer func() {
		if p := recover(); p != nil {
			err, handled, ok = panicError(p), true, false
		}
		if err != nil || !handled {
			rs.release(ok)
		}
	}()
	if rs.st.writes {
		return nil, false, nil
	}
	if err := checkCount(rs.st, args); err != nil {
		return nil, true, err
	}
	rows, err := rs.st.ds.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, true, err
	}
	return &rrows{rows: rows, rs: rs}, true, nil
}

// validate checks that a front statement prepares, on a reader (there is
// one: without, pconn checks on the writer connection), where a read-only
// statement then stays prepared for its first run.
func (c *Committer) validate(ctx context.Context, query string) error {
	rs, err := c.takeReadStmt(ctx, query)
	if err != nil {
		return err
	}
	return rs.release(true)
}

// readStmt is a connection of the read pool, held, and a statement of its
// cache, in use. As with the writer's statements, the driver connection is
// used while the *sql.Conn is held, until the rows are closed.
type readStmt struct {
	sc    *sql.Conn
	cache *stmtCache
	st    *cached
}

// takeReadStmt takes a read connection and the statement of query on it,
// prepared once per connection (see readerStmts). The caller releases it.
func (c *Committer) takeReadStmt(ctx context.Context, query string) (rs readStmt, err error) {
	sc, dc, err := c.readConn(ctx, "query")
	if err != nil {
		return readStmt{}, err
	}
	rc := c.hooks.readers.conn(dc.Raw())
	rs = readStmt{sc: sc, cache: &rc.cache}
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
		if err != nil {
			rs.release(true)
			rs = readStmt{}
		}
	}()
	rs.st, err = rs.cache.get(ctx, c.hooks.readers.preparer(rc, dc), query)
	return rs, err
}

// release gives the statement and the connection back. ok false (a panic
// struck the statement) closes the statement, as does a statement that
// writes, which a read connection does not keep.
func (r readStmt) release(ok bool) error {
	if r.st != nil {
		r.cache.put(r.st, ok && !r.st.writes)
	}
	return r.sc.Close()
}

// readConn takes a connection of the read pool and its driver connection,
// waiting for one at most as long as a write waits for the writer: a
// goroutine whose open Rows hold every read connection would otherwise
// wait for itself.
func (c *Committer) readConn(ctx context.Context, op string) (*sql.Conn, sqlite3driver.Conn, error) {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	sc, err := c.readDB.Conn(wctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, &BusyError{Op: op, Path: c.path, Waited: time.Since(start), Holder: fmt.Sprintf(
				"a read connection: all %d are in use (a goroutine that keeps Rows open while it starts another query can wait for itself)",
				c.readDB.Stats().MaxOpenConnections)}
		}
		return nil, nil, c.errf(op, err)
	}
	var dc sqlite3driver.Conn
	if err := sc.Raw(func(d any) error {
		var ok bool
		if dc, ok = d.(sqlite3driver.Conn); !ok {
			return fmt.Errorf("read connection is a %T, not an ncruces connection", d)
		}
		return nil
	}); err != nil {
		sc.Close()
		return nil, nil, err
	}
	return sc, dc, nil
}

// rrows are the rows of a query on a read connection; Close gives the
// statement and the connection back.
type rrows struct {
	rows   driver.Rows
	rs     readStmt
	closed bool
	broken bool // a panic struck while reading
}

func (r *rrows) Columns() []string { return r.rows.Columns() }

func (r *rrows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *rrows) Next(dest []driver.Value) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.broken = true
			err = panicError(p)
		}
	}()
	return r.rows.Next(dest)
}

func (r *rrows) Close() (err error) {
	if r.closed {
		return nil
	}
	r.closed = true
	defer func() {
		if p := recover(); p != nil {
			r.broken = true
			err = errors.Join(err, panicError(p))
		}
		err = errors.Join(err, r.rs.release(!r.broken))
	}()
	return r.rows.Close()
}

// bufRows are rows read in full: those of a statement that wrote, run in a
// batch, handed to the caller after the commit.
type bufRows struct {
	cols []string
	data [][]driver.Value
	i    int
}

// readAll reads rows into memory, copying what the driver lends.
func readAll(rows driver.Rows) (*bufRows, error) {
	// Column types are not kept: reading them costs the engine a
	// metadata lookup per column and query, for the rare caller of
	// Rows.ColumnTypes.
	b := &bufRows{cols: rows.Columns()}
	for {
		dest := make([]driver.Value, len(b.cols))
		err := rows.Next(dest)
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		for i, v := range dest {
			if v, ok := v.([]byte); ok {
				// A copy, non-nil when v is: an empty BLOB stays one.
				dest[i] = append(make([]byte, 0, len(v)), v...)
			}
		}
		b.data = append(b.data, dest)
	}
}

func (b *bufRows) Columns() []string { return b.cols }

func (b *bufRows) Next(dest []driver.Value) error {
	if b.i >= len(b.data) {
		return io.EOF
	}
	copy(dest, b.data[b.i])
	b.i++
	return nil
}

func (b *bufRows) Close() error {
	b.data = nil
	return nil
}
