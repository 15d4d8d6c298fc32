package committer

import (
	"context"

	"github.com/ncruces/go-sqlite3"
)

// Leases.
//
// A lease is exclusive use of the writer connection between batches: the
// loop grants it when its request reaches the head of the queue, after the
// batch before it committed, and takes no other request until the holder
// releases it (see loop.go). Close waits for a lease at most CloseWait; then
// it takes the connection back: it marks the lease revoked (its holder's
// later calls fail with ErrLeaseRevoked), rolls back the transaction it left
// open, and reports that in Close's error. A lease whose statements changed
// the connection's session leaves a new connection behind (see session.go).

// WithConn runs f with the SQLite connection, holding it exclusively
// between batches, as a lease does: for checkpoints and other work that SQL
// through database/sql cannot do. From inside a Write function it returns
// ErrNestedWrite. f must leave the connection as it found it.
func (c *Committer) WithConn(ctx context.Context, f func(*sqlite3.Conn) error) (err error) {
	if c.nested() {
		return c.errf("write", ErrNestedWrite)
	}
	r := newRequest(ctx, kindLease)
	o, err := c.submit("write", r)
	if err != nil {
		return err
	}
	if o.err != nil {
		return o.err
	}
	defer r.release()
	if err := c.w.lock(r); err != nil {
		return c.errf("write", err)
	}
	defer c.w.mu.Unlock()
	defer recoverErr(&err)
	return f(c.w.raw)
}
