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
// about three times what running a one-row SELECT by key does.
//
// A connection's cache is used only by the goroutine that holds the
// connection (from the pool, until its rows are closed); mu guards the map
// of caches. When a read connection closes, Hooks.ReaderTerm finalizes its
// statements, which would otherwise keep SQLite from closing it.
type readerStmts struct {
	mu       sync.Mutex
	caches   map[*sqlite3.Conn]*stmtCache
	prepares atomic.Int64 // statements prepared on read connections, for tests
}

// cache returns the statement cache of the read connection c.
func (r *readerStmts) cache(c *sqlite3.Conn) *stmtCache {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := r.caches[c]
	if sc == nil {
		if r.caches == nil {
			r.caches = make(map[*sqlite3.Conn]*stmtCache)
		}
		sc = &stmtCache{}
		sc.init(maxCachedStmts)
		r.caches[c] = sc
	}
	return sc
}

// preparer returns the preparer for the read connection dc.
func (r *readerStmts) preparer(dc sqlite3driver.Conn) preparer {
	return func(ctx context.Context, query string) (*cached, error) {
		r.prepares.Add(1)
		ds, err := dc.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		ro, ok := ds.(readOnlyStmt)
		return &cached{ds: ds, writes: !ok || !ro.ReadOnly()}, nil
	}
}

// closing finalizes the statements kept on c, which is closing: no one
// holds it then.
func (r *readerStmts) closing(c *sqlite3.Conn) {
	r.mu.Lock()
	sc := r.caches[c]
	delete(r.caches, c)
	r.mu.Unlock()
	if sc != nil {
		sc.closeAll()
	}
}

// ReaderTerm is the read pool's ncruces.Config.Term: it finalizes the
// statements the front kept prepared on a read connection that closes.
func (h *Hooks) ReaderTerm(c *sqlite3.Conn) error {
	h.readers.closing(c)
	return nil
}
