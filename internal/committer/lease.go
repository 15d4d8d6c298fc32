package committer

import (
	"context"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Leases.
//
// A lease is exclusive use of the writer connection between batches: the
// loop grants it when its request reaches the head of the queue, after the
// batch before it committed, and waits for its release before it runs
// anything else. Stop waits for a lease at most CloseWait; then it takes the
// connection back: it marks the lease revoked (its holder's later calls fail
// with ErrLeaseRevoked), rolls back the transaction it left open, and
// reports that in Stop's error.

// grant lets r hold the connection until it releases it.
func (c *Committer) grant(r *request) {
	if !r.claim() {
		return
	}
	if c.syncer != nil {
		// A lease holder's COMMIT makes itself durable, at the
		// configured level.
		if err := c.w.setLevel(c.syncLevel); err != nil {
			r.err = c.errf("lease", err)
			close(r.done)
			return
		}
	}
	close(r.done)
	select {
	case <-r.released:
		return
	case <-c.quit:
	}
	t := time.NewTimer(c.closeWait)
	defer t.Stop()
	select {
	case <-r.released:
	case <-t.C:
		c.revoke(r)
	}
}

// revoke takes the connection back from a lease that outlived CloseWait.
func (c *Committer) revoke(r *request) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	r.revoked.Store(true)
	open := !c.w.dead && !c.w.raw.GetAutocommit()
	if open {
		if err := c.w.ctl[ctlRollback].Exec(); err != nil {
			c.log.Warn("rolling back a transaction left open at Close failed", "db", c.path, "err", err)
		}
	}
	c.leaked = fmt.Errorf("a transaction or connection of DB or the front was still open after %v; it was taken back%s: %w",
		c.closeWait, map[bool]string{true: " and rolled back", false: ""}[open], ErrLeaseRevoked)
	c.log.Warn("Close took the writer connection back", "db", c.path, "err", c.leaked)
}

// WithConn runs f with the SQLite connection, holding it exclusively
// between batches, as a lease does: for checkpoints and other work that SQL
// through database/sql cannot do. From inside a Write function it returns
// ErrNestedWrite.
func (c *Committer) WithConn(ctx context.Context, f func(*sqlite3.Conn) error) (err error) {
	if nested(c) {
		return c.errf("write", ErrNestedWrite)
	}
	r := newRequest(kindLease)
	if err := c.submit(ctx, "write", r); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	defer r.release()
	if err := c.w.lock(r); err != nil {
		return c.errf("write", err)
	}
	defer c.w.mu.Unlock()
	defer recoverErr(&err)
	return f(c.w.raw)
}
