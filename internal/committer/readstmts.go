package committer

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3"
	sqlite3driver "github.com/ncruces/go-sqlite3/driver"
)

// readerStmts keeps the front's read-only statements prepared on each
// connection of the read pool, so that a query text is prepared once per
// connection instead of once per call: preparing costs the Wasm engine
// about three times what running a one-row SELECT by key does. It also
// watches what each statement may do to its connection (see session.go):
// a statement that would change it never runs on a read connection.
//
// A connection's state is used only by the goroutine that holds the
// connection (from the pool, until its rows are closed); mu guards the map.
// hooks.readerInit installs the watch on a new read connection; when one
// closes, hooks.readerTerm finalizes its statements, which would otherwise
// keep SQLite from closing it.
type readerStmts struct {
	mu       sync.Mutex
	conns    map[*sqlite3.Conn]*readerConn
	prepares atomic.Int64 // statements prepared on read connections, for tests
}

// readerConn is the state of one read connection.
type readerConn struct {
	watch prepWatch
	cache stmtCache
}

// open registers a new read connection and returns its state.
func (r *readerStmts) open(c *sqlite3.Conn) *readerConn {
	rc := &readerConn{}
	rc.cache.init(maxCachedStmts)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = make(map[*sqlite3.Conn]*readerConn)
	}
	r.conns[c] = rc
	return rc
}

// conn returns the state of the read connection c.
func (r *readerStmts) conn(c *sqlite3.Conn) *readerConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := r.conns[c]
	if rc == nil {
		// A connection opened without ReaderInit (OpenReadOnly's): no
		// watch, so every statement is treated as one that writes.
		rc = &readerConn{watch: prepWatch{saw: flagSession}}
		rc.cache.init(maxCachedStmts)
		r.conns[c] = rc
	}
	return rc
}

// preparer returns the preparer for the read connection dc.
func (r *readerStmts) preparer(rc *readerConn, dc sqlite3driver.Conn) preparer {
	return func(ctx context.Context, query string) (*cached, error) {
		r.prepares.Add(1)
		// What would change the connection is denied as it is prepared,
		// which is when SQLite applies most settings: it is refused in a
		// batch too, so it is refused here.
		rc.watch.saw = 0
		rc.watch.deny = flagTxControl | flagSession
		ds, err := dc.PrepareContext(ctx, query)
		rc.watch.deny = 0
		if err != nil {
			if r := refusedFor(rc.watch.saw); r != nil {
				return nil, r
			}
			return nil, err
		}
		ro, ok := ds.(readOnlyStmt)
		f := rc.watch.saw
		return &cached{ds: ds, flags: f, writes: !ok || !ro.ReadOnly() || f != 0}, nil
	}
}

// closing finalizes the statements kept on c, which is closing: no one
// holds it then.
func (r *readerStmts) closing(c *sqlite3.Conn) {
	r.mu.Lock()
	rc := r.conns[c]
	delete(r.conns, c)
	r.mu.Unlock()
	if rc != nil {
		rc.cache.closeAll()
	}
}

// readerInit is the read pool's ncruces.Config.Init: it watches what the
// statements prepared on a new read connection may do to it.
func (h *hooks) readerInit(c *sqlite3.Conn) error {
	rc := h.readers.open(c)
	return c.SetAuthorizer(rc.watch.authorizer())
}

// readerTerm is the read pool's ncruces.Config.Term: it finalizes the
// statements the front kept prepared on a read connection that closes.
func (h *hooks) readerTerm(c *sqlite3.Conn) error {
	h.readers.closing(c)
	return nil
}
