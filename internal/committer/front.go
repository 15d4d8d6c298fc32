package committer

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"

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
	r := newRequest(kindExec)
	r.query, r.args = query, args
	if err := c.submit(ctx, "exec", r); err != nil {
		return nil, err
	}
	return r.result, r.err
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
	r := newRequest(kindQuery)
	r.query, r.args = query, args
	if err := c.submit(ctx, "query", r); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.rows, nil
}

// readOnlyStmt is the driver's statement, which knows whether it writes.
type readOnlyStmt interface{ ReadOnly() bool }

// readQuery prepares query on a read connection, or takes it prepared from
// the connection's cache, and, if it only reads, runs it there. handled is
// false, with no error, for a statement that writes.
func (c *Committer) readQuery(ctx context.Context, query string, args []driver.NamedValue) (_ driver.Rows, handled bool, err error) {
	sc, dc, err := c.readConn(ctx)
	if err != nil {
		return nil, true, c.errf("query", err)
	}
	// As with the writer's statements, the driver connection is used while
	// the *sql.Conn is held, until the rows are closed.
	cache := c.hooks.readers.cache(dc.Raw())
	var st *cached
	ok := true // st's state can be trusted: no panic struck while it ran
	defer func() {
		if p := recover(); p != nil {
			err, handled, ok = panicError(p), true, false
		}
		if err != nil || !handled {
			if st != nil {
				cache.put(st, ok)
			}
			sc.Close()
		}
	}()
	if st, err = cache.get(ctx, c.hooks.readers.preparer(dc), query); err != nil {
		return nil, true, err
	}
	if ro, isRO := st.ds.(readOnlyStmt); !isRO || !ro.ReadOnly() {
		// A statement that writes is not kept on a reader.
		ok = false
		return nil, false, nil
	}
	if err := checkCount(st, args); err != nil {
		return nil, true, err
	}
	rows, err := st.ds.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, true, err
	}
	return &rrows{rows: rows, close: func(ok bool) error {
		cache.put(st, ok)
		return sc.Close()
	}}, true, nil
}

// readConn takes a connection of the read pool and its driver connection.
func (c *Committer) readConn(ctx context.Context) (*sql.Conn, sqlite3driver.Conn, error) {
	sc, err := c.readDB.Conn(ctx)
	if err != nil {
		return nil, nil, err
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

// validate checks that a front statement prepares, on a reader (there is
// one: without, pconn checks on the writer connection), where a read-only
// statement then stays prepared for its first run.
func (c *Committer) validate(ctx context.Context, query string) (err error) {
	sc, dc, err := c.readConn(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	cache := c.hooks.readers.cache(dc.Raw())
	var st *cached
	ok := true
	defer func() {
		if p := recover(); p != nil {
			err, ok = panicError(p), false
		}
		if st != nil {
			cache.put(st, ok)
		}
	}()
	if st, err = cache.get(ctx, c.hooks.readers.preparer(dc), query); err != nil {
		return err
	}
	if ro, isRO := st.ds.(readOnlyStmt); !isRO || !ro.ReadOnly() {
		ok = false // not kept: it will run on the writer
	}
	return nil
}

// rrows are the rows of a query on a read connection; Close gives the
// statement and the connection back.
type rrows struct {
	rows   driver.Rows
	close  func(ok bool) error // ok: no panic struck the statement
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
		err = errors.Join(err, r.close(!r.broken))
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
				dest[i] = append([]byte(nil), v...)
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
