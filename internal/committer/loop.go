package committer

import (
	"fmt"
	"runtime"
	"time"
)

// The loop.
//
// One goroutine owns the writer connection's transactions and every
// request's outcome. It waits for whichever comes first: a request (a batch
// to run, or a lease to grant), a lease's release, batches the sync stage
// made durable, a hook's report of a failed checkpoint, or Close. While a
// lease is granted it takes no request; while a batch runs it settles
// durable batches between the batch's requests.
//
// Requests it cannot run are rejected: their caller withdrew them (they are
// skipped), their context ended before they were taken, or the committer
// stopped after a failed fsync.

// What holds the writer connection, for BusyError.
const (
	holdNone int32 = iota
	holdFn
	holdLease
)

// hold records what holds the writer connection from now on.
func (c *Committer) hold(k int32) {
	c.holdSince.Store(time.Now().UnixNano())
	c.holdKind.Store(k)
}

// busyError returns the *BusyError of a call that waited since start.
func (c *Committer) busyError(op string, start time.Time) error {
	held := time.Since(time.Unix(0, c.holdSince.Load())).Round(time.Millisecond)
	var holder string
	switch c.holdKind.Load() {
	case holdLease:
		holder = fmt.Sprintf("the writer connection, held for %v by a transaction or connection of DB or the front "+
			"(a goroutine that holds one and runs a statement outside it waits for itself)", held)
	case holdFn:
		holder = fmt.Sprintf("the writer connection, held for %v by a Write function "+
			"(one that waits for another goroutine's write, or for a connection of a pool that callers waiting for its batch hold, waits for itself)", held)
	default:
		holder = fmt.Sprintf("the writer connection (%d requests queued)", len(c.reqs))
	}
	return &BusyError{Op: op, Path: c.path, Waited: time.Since(start), Holder: holder}
}

// loop runs until Close. If a Write function calls runtime.Goexit, which
// cannot be recovered, its batch is aborted (see runBatch) and a new
// goroutine takes over the loop.
func (c *Committer) loop() {
	normal := false
	defer func() {
		if !normal {
			go c.loop()
		}
	}()
	for {
		// Durable batches first: their callers wait, and a select would
		// pick a request as often, and run a whole batch before them.
		c.pollSynced()
		if r := c.pending; r != nil {
			c.pending = nil
			c.grant(r)
		}
		reqs, released := c.reqs, (<-chan struct{})(nil)
		if c.lease != nil {
			reqs, released = nil, c.lease.released
		}
		select {
		case r := <-reqs:
			if c.admit(r) {
				if r.kind == kindLease {
					c.grant(r)
				} else {
					c.gather()
					c.runBatch(r)
				}
			}
		case <-released:
			c.endLease()
		case s := <-c.synced():
			c.settleSynced(s)
		case <-c.hooks.wake:
			c.failure()
		case <-c.quit:
			c.shutdown()
			normal = true
			close(c.exited)
			return
		}
	}
}

// admit takes r for the loop, and rejects it if its context ended while it
// was queued. false means r is not to run.
func (c *Committer) admit(r *request) bool {
	if !r.take() {
		return false // withdrawn by its caller
	}
	if err := r.ctx.Err(); err != nil {
		c.reject(r, err)
		return false
	}
	return true
}

// reject delivers the outcome of a request that never ran.
func (c *Committer) reject(r *request, err error) {
	op := "write"
	if r.kind == kindLease {
		op = "lease"
	}
	c.failed.Add(1)
	deliver(r, outcome{err: c.errf(op, err)})
}

// gather lets callers woken by the last commit queue their next request
// before a batch starts: they are runnable but may not have run yet, and
// yielding to them turns many small batches into a few large ones. It yields
// while the queue keeps growing, a few times at most; when nothing else is
// runnable, Gosched returns at once, so a lone request is not delayed.
func (c *Committer) gather() {
	for n, i := len(c.reqs), 0; i < 4; i++ {
		runtime.Gosched()
		m := len(c.reqs)
		if m == n {
			return
		}
		n = m
	}
}

// failure returns the error that stops every batch, if any: a failed fsync,
// or the checkpoint I/O error a hook reported.
func (c *Committer) failure() error {
	if c.failStop == nil {
		if p := c.hooks.ioErr.Load(); p != nil {
			c.setFailStop(*p)
		}
	}
	return c.failStop
}

// setFailStop records the first durability failure; every later batch
// fails with it.
func (c *Committer) setFailStop(cause error) {
	if c.failStop != nil {
		return
	}
	c.failStop = fmt.Errorf("%w: %w", ErrFailStop, cause)
	c.log.Error("writes stopped: an fsync or checkpoint failed; reopen the workspace", "db", c.path, "err", cause)
}

// synced returns the channel of durable batches, or nil without a sync
// stage.
func (c *Committer) synced() <-chan synced {
	if c.syncer == nil {
		return nil
	}
	return c.syncer.out
}

// toSync hands a committed batch to the sync stage, settling durable ones
// while the stage is full.
func (c *Committer) toSync(b *batch) {
	for {
		select {
		case c.syncer.in <- b:
			return
		case s := <-c.syncer.out:
			c.settleSynced(s)
		}
	}
}

// settleSynced settles the batches an fsync covered: committed and durable,
// unless the fsync failed, or an earlier one did (after a failed fsync, a
// later one succeeding proves nothing: the failed pages may be gone).
func (c *Committer) settleSynced(s synced) {
	err := s.err
	if err != nil {
		c.setFailStop(err)
	}
	if f := c.failure(); f != nil {
		err = c.errf("write", fmt.Errorf("committed, but the WAL fsync failed, so it may not survive a crash: %w", f))
	}
	for _, b := range s.batches {
		c.settle(b, err)
	}
}

// pollSynced settles whatever durable batches are waiting, without
// waiting.
func (c *Committer) pollSynced() {
	for {
		select {
		case s := <-c.synced():
			c.settleSynced(s)
		default:
			return
		}
	}
}

// grant lets the lease request r, taken already, hold the connection until
// it releases it.
func (c *Committer) grant(r *request) {
	if c.syncLevel != "" {
		// A lease holder's COMMIT makes itself durable, at the
		// configured level.
		if err := c.w.setLevel(c.syncLevel); err != nil {
			c.reject(r, err)
			return
		}
	}
	c.lease = r
	c.hold(holdLease)
	deliver(r, outcome{})
}

// endLease ends the lease its holder released. A lease that changed the
// connection's session (see session.go) leaves a new connection behind.
func (c *Committer) endLease() {
	c.lease = nil
	c.hold(holdNone)
	if c.w.takeDirty() {
		c.reset()
	}
}

// reset replaces the writer connection with a new one from the writer
// pool, opened with the configured pragmas and hooks, after a lease changed
// its session. The sync stage is drained first and started again after, on
// the WAL as it is then: where the writer was the only connection, closing
// it deleted the WAL, and the new one made a new file.
func (c *Committer) reset() {
	if err := c.checkFiles(); err != nil {
		// A new connection would open whatever is at the path now.
		c.log.Error("the writer connection changed its session but was not replaced", "db", c.path, "err", err)
		return
	}
	c.stopSync()
	err := c.w.replace(c.writeDB, c.settings.Synchronous)
	if err == nil {
		err = c.identify()
	}
	if err == nil && c.syncLevel != "" {
		c.syncer, err = startSync(c.files[len(c.files)-1].path)
	}
	if err != nil {
		c.setFailStop(fmt.Errorf("replacing the writer connection: %w", err))
	}
}

// stopSync waits for the fsyncs under way, settles their batches, and
// stops the sync stage.
func (c *Committer) stopSync() {
	if c.syncer == nil {
		return
	}
	close(c.syncer.in)
	for s := range c.syncer.out {
		c.settleSynced(s)
	}
	c.syncer = nil
}

// shutdown ends the loop for Close: it rejects the queued requests, waits
// up to CloseWait for a lease and then takes the connection back, and
// settles the batches the sync stage still holds.
func (c *Committer) shutdown() {
	if c.pending != nil {
		c.reject(c.pending, ErrClosed)
		c.pending = nil
	}
	c.drain()
	if c.lease != nil {
		c.awaitLease()
	}
	c.stopSync()
}

// drain rejects every queued request with ErrClosed.
func (c *Committer) drain() {
	for {
		select {
		case r := <-c.reqs:
			if r.take() {
				c.reject(r, ErrClosed)
			}
		default:
			return
		}
	}
}

// awaitLease waits up to CloseWait for the lease to end, settling durable
// batches meanwhile, and then revokes it.
func (c *Committer) awaitLease() {
	t := time.NewTimer(c.closeWait)
	defer t.Stop()
	for {
		select {
		case <-c.lease.released:
			c.lease = nil
			return
		case s := <-c.synced():
			c.settleSynced(s)
		case <-t.C:
			c.revoke()
			return
		}
	}
}

// revoke takes the connection back from a lease that outlived CloseWait:
// its holder's later calls fail with ErrLeaseRevoked, and a transaction it
// left open is rolled back.
func (c *Committer) revoke() {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	c.lease.revoked.Store(true)
	c.lease = nil
	open := !w.dead && !w.raw.GetAutocommit()
	if open {
		if err := w.ctl[ctlRollback].Exec(); err != nil {
			c.log.Warn("rolling back a transaction left open at Close failed", "db", c.path, "err", err)
		}
	}
	how := "it was taken back"
	if open {
		how += " and rolled back"
	}
	c.leaked = fmt.Errorf("a transaction or connection of DB or the front was still open after %v; %s: %w",
		c.closeWait, how, ErrLeaseRevoked)
	c.log.Warn("Close took the writer connection back", "db", c.path, "err", c.leaked)
}
