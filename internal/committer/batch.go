package committer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Group commit limits. A batch ends when the queue is empty, when it holds
// maxBatch requests, or when maxBatchTime has passed since BEGIN, so that
// one slow function delays the others' COMMIT by at most its own duration.
const (
	maxBatch     = 1024
	maxBatchTime = 20 * time.Millisecond
)

var (
	errNilFunc = errors.New("nil function")

	// errTxEnded reports that the transaction of a batch ended before
	// COMMIT: SQLite rolls a transaction back by itself after some errors
	// (a full disk, an I/O error, an interrupt), even when the function
	// that hit the error ignored it.
	errTxEnded = errors.New("the transaction was rolled back by SQLite")

	errGoexit = errors.New("a Write function called runtime.Goexit")
)

// abortError is what the calls of an aborted batch return: it matches
// ErrBatchAborted and unwraps to the cause.
type abortError struct{ cause error }

func (e *abortError) Error() string        { return fmt.Sprintf("%v: %v", ErrBatchAborted, e.cause) }
func (e *abortError) Is(target error) bool { return target == ErrBatchAborted }
func (e *abortError) Unwrap() error        { return e.cause }

// batch is one transaction of the committer.
type batch struct {
	reqs  []*request
	start time.Time
}

// loop runs batches and grants leases until Stop. If a function calls
// runtime.Goexit, which cannot be recovered, its batch is aborted (see
// run) and a new goroutine takes over the loop.
func (c *Committer) loop() {
	stopped := false
	defer func() {
		if !stopped {
			go c.loop()
			return
		}
		close(c.exited)
	}()
	for {
		var r *request
		if r = c.pending; r != nil {
			c.pending = nil
		} else {
			select {
			case r = <-c.reqs:
			case <-c.quit:
				c.drain()
				stopped = true
				return
			}
		}
		if r.kind == kindLease {
			c.grant(r)
			continue
		}
		c.gather()
		c.batch(r)
	}
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

// reject fails r, which never ran, with err, unless its caller gave up on
// it first.
func (c *Committer) reject(r *request, err error) {
	if r.claim() {
		r.err = c.errf("write", err)
		c.failed.Add(1)
		close(r.done)
	}
}

// drain fails every queued request with ErrClosed.
func (c *Committer) drain() {
	if c.pending != nil {
		c.reject(c.pending, ErrClosed)
		c.pending = nil
	}
	for {
		select {
		case r := <-c.reqs:
			c.reject(r, ErrClosed)
		default:
			return
		}
	}
}

// next returns the next queued request if the batch may grow, or nil. A
// lease request ends the batch; the loop grants it after the commit.
func (c *Committer) next(b *batch) *request {
	if len(b.reqs) >= maxBatch || time.Since(b.start) >= maxBatchTime {
		return nil
	}
	select {
	case r := <-c.reqs:
		if r.kind == kindLease {
			c.pending = r
			return nil
		}
		return r
	default:
		return nil
	}
}

// batch runs first and whatever else is queued, up to the limits, in one
// transaction, then reports to every caller.
func (c *Committer) batch(first *request) {
	if err := c.failure(); err != nil {
		c.reject(first, err)
		return
	}
	if err := c.w.begin(c.syncer != nil); err != nil {
		c.reject(first, fmt.Errorf("begin: %w", err))
		return
	}
	c.hooks.rolledBack.Store(false)
	b := &batch{start: time.Now()}

	finished := false
	defer func() {
		if !finished {
			// A function called runtime.Goexit: the deferred calls run
			// while the goroutine unwinds, and loop starts a new one.
			c.hooks.inFn.Store(false)
			c.cur.Store(nil)
			c.abort(b, errGoexit)
		}
	}()
	for r := first; r != nil; r = c.next(b) {
		if !r.claim() {
			continue // cancelled while queued: it never runs
		}
		b.reqs = append(b.reqs, r)
		if err := c.run(b, r); err != nil {
			c.abort(b, err)
			finished = true
			return
		}
	}
	c.commit(b)
	finished = true
}

// run runs r inside a savepoint. A non-nil result means the transaction can
// no longer be used.
func (c *Committer) run(b *batch, r *request) error {
	w := c.w
	if err := w.control(ctlSavepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	ctx := context.Background()
	switch r.kind {
	case kindFn:
		c.runFn(r)
	case kindExec:
		c.hooks.inFn.Store(true)
		r.result, r.err = w.exec(ctx, nil, r.query, r.args, true)
		c.hooks.inFn.Store(false)
	case kindQuery:
		c.hooks.inFn.Store(true)
		r.rows, r.err = w.queryAll(ctx, r.query, r.args)
		c.hooks.inFn.Store(false)
	}
	if r.err != nil && r.kind != kindFn {
		r.err = c.errf("exec", r.err)
	}

	if c.hooks.rolledBack.Load() {
		if r.err != nil {
			return fmt.Errorf("%w: %w", errTxEnded, r.err)
		}
		return errTxEnded
	}
	deferredFKs, err := w.deferredFKs()
	switch {
	case err != nil:
		return err
	case deferredFKs > 0 && r.ok():
		// A deferred constraint would fail the COMMIT, and with it every
		// other caller of the batch: fail this request alone instead.
		r.err = c.errf("write", fmt.Errorf("%d deferred foreign key violations: %w",
			deferredFKs, sqlite3.CONSTRAINT_FOREIGNKEY))
	}
	if !r.ok() {
		if err := w.control(ctlRollbackTo); err != nil {
			return fmt.Errorf("rollback to savepoint: %w", err)
		}
	}
	if err := w.control(ctlRelease); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// runFn runs a Write function with its Querier.
func (c *Committer) runFn(r *request) {
	q := &querier{c: c, r: r}
	c.cur.Store(r)
	c.hooks.inFn.Store(true)
	c.call(r, q)
	c.hooks.inFn.Store(false)
	c.cur.Store(nil)
	q.finish()
	if pe := r.stmtPanic.Load(); pe != nil && !r.panicked && !r.goexit {
		// The function went on after a statement panicked (and
		// database/sql turned the panic into an error): the panic is
		// still the function's outcome.
		r.err, r.panicked, r.panicVal = nil, true, pe.Value
	}
}

// call runs r.fn, recording a return, a panic or a runtime.Goexit, the way
// golang.org/x/sync/singleflight tells them apart.
func (c *Committer) call(r *request, q Querier) {
	normal, recovered := false, false
	defer func() {
		if !normal && !recovered {
			r.goexit = true
		}
	}()
	func() {
		defer func() {
			if !normal {
				// Since Go 1.21 recover returns nil only for Goexit.
				if p := recover(); p != nil {
					r.panicked, r.panicVal = true, p
				}
			}
		}()
		r.err = c.callFn(r.fn, q)
		normal = true
	}()
	if !normal {
		recovered = true
	}
}

// commit commits b and reports to its callers.
func (c *Committer) commit(b *batch) {
	if len(b.reqs) == 0 {
		c.w.rollback()
		return
	}
	if err := c.w.control(ctlCommit); err != nil {
		// Nothing of the batch is durable; SQLite keeps the transaction
		// open after some COMMIT failures, so roll it back.
		c.w.rollback()
		c.failAll(b.reqs, &abortError{cause: c.errf("commit", err)})
		return
	}
	if c.syncer != nil {
		c.syncer.add(b.reqs)
	} else {
		c.finish(b.reqs, true)
	}
}

// abort rolls b back and fails every request of the batch that has no error
// of its own with an *abortError.
func (c *Committer) abort(b *batch, cause error) {
	cause = fmt.Errorf("write %s: %w", c.path, cause)
	if err := c.w.rollback(); err != nil && !c.hooks.rolledBack.Load() {
		c.log.Warn("rollback of an aborted write batch failed", "db", c.path, "err", err)
	}
	c.failAll(b.reqs, &abortError{cause: cause})
}

// failAll fails every request of a batch that has no error of its own with
// err, and reports to the callers.
func (c *Committer) failAll(reqs []*request, err error) {
	for _, r := range reqs {
		if r.ok() {
			r.err = err
		}
	}
	c.finish(reqs, false)
}

// finish reports to the callers of a batch and counts it. The loop calls
// it, and the syncer for batches it made durable.
func (c *Committer) finish(reqs []*request, committed bool) {
	// Count first: a caller may read the stats as soon as it returns.
	var ok uint64
	for _, r := range reqs {
		if committed && r.ok() {
			ok++
		}
	}
	c.failed.Add(uint64(len(reqs)) - ok)
	if committed {
		c.writes.Add(ok)
		c.batches.Add(1)
		for n := uint64(len(reqs)); ; {
			m := c.maxBatch.Load()
			if n <= m || c.maxBatch.CompareAndSwap(m, n) {
				break
			}
		}
	}
	for _, r := range reqs {
		if r.rows != nil && !r.ok() {
			r.rows = nil
		}
		close(r.done)
	}
}
