package committer

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
)

// maxCachedStmts bounds the writer connection's statement cache. Preparing a
// statement costs a parse and a plan inside the Wasm engine, about as much
// as running a one-row INSERT; with the cache every statement text after
// its first use — Exec, Query, QueryRow and Prepare alike — runs prepared.
const maxCachedStmts = 256

// errTail is returned for a text that holds more than one statement, which
// cannot be prepared.
var errTail = errors.New("multiple statements in one query")

// cached is a prepared statement of the writer connection.
type cached struct {
	query string
	ds    driver.Stmt
	busy  bool // in use, by a call or by open rows
	temp  bool // not in the cache: closed when put back

	// flags are what the authorizer saw the statement may do to its
	// connection when it was prepared (see session.go).
	flags stmtFlags

	// writes marks a statement that a read connection must not run: one
	// that writes (not sqlite3_stmt_readonly) or changes the session. The
	// read connections' caches keep only those that read.
	writes bool

	elem *list.Element
}

// stmtCache is a bounded, least-recently-used cache of prepared statements
// by query text. The wconn's mutex guards it.
type stmtCache struct {
	max int
	m   map[string]*cached
	lru list.List // of *cached, most recent first

	prepares int64 // statements prepared, for tests
}

func (c *stmtCache) init(max int) {
	c.max = max
	c.m = make(map[string]*cached)
}

// preparer prepares query for a stmtCache on its connection: it returns the
// statement with what it knows of it (ds, flags, writes) set.
type preparer func(ctx context.Context, query string) (*cached, error)

// get returns a statement for query, marked busy, prepared with prepare if
// it is not in the cache. A statement already busy (the same text used
// again while its rows are open) gets a temporary twin.
func (c *stmtCache) get(ctx context.Context, prepare preparer, query string) (*cached, error) {
	e := c.m[query]
	if e != nil && !e.busy {
		e.busy = true
		c.lru.MoveToFront(e.elem)
		return e, nil
	}
	c.prepares++
	n, err := prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	n.query, n.busy = query, true
	// A statement that changes a setting did so when it was prepared;
	// kept and run again, it would change nothing.
	if e != nil || n.flags&flagSession != 0 || !c.makeRoom() {
		n.temp = true
		return n, nil
	}
	n.elem = c.lru.PushFront(n)
	c.m[query] = n
	return n, nil
}

// makeRoom evicts the least recently used idle statement when the cache is
// full, and reports whether there is room.
func (c *stmtCache) makeRoom() bool {
	if len(c.m) < c.max {
		return true
	}
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		if e := el.Value.(*cached); !e.busy {
			c.remove(e)
			e.ds.Close()
			return true
		}
	}
	return false
}

func (c *stmtCache) remove(e *cached) {
	delete(c.m, e.query)
	c.lru.Remove(e.elem)
	e.elem = nil
}

// put gives a statement back. One that was in use when a panic struck
// (ok false) is closed and forgotten: its state is not to be trusted.
func (c *stmtCache) put(e *cached, ok bool) {
	e.busy = false
	switch {
	case e.temp:
		e.ds.Close()
	case !ok:
		if e.elem != nil {
			c.remove(e)
		}
		e.ds.Close()
	}
}

// closeAll closes every cached statement.
func (c *stmtCache) closeAll() {
	for _, e := range c.m {
		e.ds.Close()
	}
	c.m = make(map[string]*cached)
	c.lru.Init()
}
