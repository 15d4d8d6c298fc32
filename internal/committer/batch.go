package committer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Group commit limits. A batch ends when the queue is empty, when it holds
// maxBatch requests, or when maxBatchTime has passed since BEGIN, so that
// one slow function delays the others' COMMIT by at most its own duration.
const maxBatch = 1024

var maxBatchTime = 20 * time.Millisecond

// SetMaxBatchTimeForTest sets the time after which a batch takes no more
// requests, until restore is called: tests that hold a batch while others
// queue behind it make it long, so that those join it however slow the
// machine.
func SetMaxBatchTimeForTest(d time.Duration) (restore func()) {
	old := maxBatchTime
	maxBatchTime = d
	return func() { maxBatchTime = old }
}

var (
	errNilFunc = errors.New("nil function")

	// errTxEnded reports that the transaction of a batch ended before
	// COMMIT: SQLite rolls a transaction back by itself after some errors
	// (a full disk, an I/O error, an interrupt), even when the function
	// that hit the error ignored it.
	errTxEnded = errors.New("the transaction was rolled back by SQLite")

	errGoexit = errors.New("a Write function called runtime.Goexit")
)

// batch is one transaction of the loop: its requests, and what each came
// to so far, in the same order.
type batch struct {
	reqs  []*request
	outs  []outcome
	start time.Time
}

// fnState is the state of the Write function that runs now.
type fnState struct {
	// stmtPanic is a panic recovered inside the driver while the function
	// ran (in Rows.Next, say, where database/sql turns it into an error the
	// function may drop): the function is then treated as having panicked.
	stmtPanic atomic.Pointer[PanicError]
}

// Test hooks, set by this package's tests only, while no committer runs:
// testHookRan runs after a request's own work, before its savepoint is
// released; testHookCommit runs before COMMIT, and an error from it is
// taken as COMMIT's failure, COMMIT not run; testHookDelivered runs as an
// outcome is delivered.
var (
	testHookRan       func(*request)
	testHookCommit    func() error
	testHookDelivered func(*request)
)

// runBatch runs first and whatever else is queued, up to the limits, in one
// transaction, and settles it: now, or when the sync stage has made it
// durable.
func (c *Committer) runBatch(first *request) {
	if err := c.failure(); err != nil {
		c.reject(first, err)
		return
	}
	if err := c.w.begin(c.syncLevel != ""); err != nil {
		c.reject(first, fmt.Errorf("begin: %w", err))
		return
	}
	b := &batch{start: time.Now()}
	finished := false
	defer func() {
		if !finished {
			// A function called runtime.Goexit: the deferred calls run
			// while the goroutine unwinds, and loop starts a new one.
			c.inFn.Store(false)
			c.cur.Store(nil)
			c.abort(b, errGoexit)
		}
		c.hold(holdNone)
	}()
	for r := first; r != nil; r = c.next(b) {
		if err := c.run(b, r); err != nil {
			c.abort(b, err)
			finished = true
			return
		}
		c.pollSynced()
	}
	c.commit(b)
	finished = true
}

// next returns the next queued request if the batch may grow, or nil. A
// lease request ends the batch; the loop grants it after the commit.
func (c *Committer) next(b *batch) *request {
	for len(b.reqs) < maxBatch && time.Since(b.start) < maxBatchTime {
		select {
		case r := <-c.reqs:
			if !c.admit(r) {
				continue
			}
			if r.kind == kindLease {
				c.pending = r
				return nil
			}
			return r
		default:
			return nil
		}
	}
	return nil
}

// run runs r inside a savepoint of b, recording what it came to. A non-nil
// result means the transaction can no longer be used.
func (c *Committer) run(b *batch, r *request) error {
	b.reqs = append(b.reqs, r)
	b.outs = append(b.outs, outcome{})
	o := &b.outs[len(b.outs)-1]
	w := c.w
	if err := w.control(ctlSavepoint); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	// The statements of a batch are not interrupted by their context: an
	// interrupted statement would roll back the transaction that other
	// callers' work shares.
	ctx := context.Background()
	switch r.kind {
	case kindFn:
		c.hold(holdFn)
		c.runFn(r, o)
		c.hold(holdNone)
	case kindExec:
		o.result, o.err = w.exec(ctx, nil, r.query, r.args, true)
	case kindQuery:
		o.rows, o.err = w.queryAll(ctx, r.query, r.args)
	}
	if o.err != nil && r.kind != kindFn {
		o.err = c.errf("exec", o.err)
	}
	if testHookRan != nil {
		testHookRan(r)
	}
	if w.rolledBack() {
		if o.err != nil {
			return fmt.Errorf("%w: %w", errTxEnded, o.err)
		}
		return errTxEnded
	}
	problem, err := w.afterRequest()
	switch {
	case err != nil:
		return err
	case problem != nil && o.ok():
		// A deferred constraint would fail the COMMIT, and with it every
		// other caller of the batch; a temporary object would outlive
		// the request: fail this request alone instead.
		o.err = c.errf("write", problem)
	case r.kind == kindQuery && o.ok() && r.ctx.Err() != nil:
		// Its caller gets rows from database/sql only while its context
		// lasts: undo the write it could not learn of.
		o.err, o.rows = r.ctx.Err(), nil
	}
	if !o.ok() {
		if err := w.control(ctlRollbackTo); err != nil {
			return fmt.Errorf("rollback to savepoint: %w", err)
		}
	}
	if err := w.control(ctlRelease); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// runFn runs a Write function with its Querier, below c's marker chain.
func (c *Committer) runFn(r *request, o *outcome) {
	q := &querier{c: c}
	st := &fnState{}
	c.cur.Store(st)
	c.inFn.Store(true)
	call(r.fn, q, o, c.id)
	c.inFn.Store(false)
	c.cur.Store(nil)
	q.finish()
	if pe := st.stmtPanic.Load(); pe != nil && !o.panicked && !o.goexit {
		// The function went on after a statement panicked (and
		// database/sql turned the panic into an error): the panic is
		// still the function's outcome.
		o.err, o.panicked, o.panicVal = nil, true, pe.Value
	}
}

// call runs fn, recording in o a return, a panic or a runtime.Goexit, the
// way golang.org/x/sync/singleflight tells them apart.
func call(fn func(Querier) error, q Querier, o *outcome, id uint64) {
	normal, recovered := false, false
	defer func() {
		if !normal && !recovered {
			o.goexit = true
		}
	}()
	func() {
		defer func() {
			if !normal {
				// Since Go 1.21 recover returns nil only for Goexit.
				if p := recover(); p != nil {
					o.panicked, o.panicVal = true, p
				}
			}
		}()
		o.err = callMarked(id, fn, q)
		normal = true
	}()
	if !normal {
		recovered = true
	}
}

// commit commits b, after checking that the files are still the files,
// and settles it: at once, or when the sync stage has made it durable.
func (c *Committer) commit(b *batch) {
	if len(b.reqs) == 0 {
		c.w.rollback()
		return
	}
	if err := c.checkFiles(); err != nil {
		c.abort(b, err)
		return
	}
	var err error
	if testHookCommit != nil {
		err = testHookCommit()
	}
	if err == nil {
		err = c.w.control(ctlCommit)
	}
	if err != nil {
		// Nothing of the batch is durable; SQLite keeps the transaction
		// open after some COMMIT failures, so roll it back.
		c.w.rollback()
		c.settle(b, &abortError{cause: c.errf("commit", err)})
		return
	}
	if c.syncLevel != "" {
		c.toSync(b)
	} else {
		c.settle(b, nil)
	}
}

// abort rolls b back and settles it with cause.
func (c *Committer) abort(b *batch, cause error) {
	cause = c.errf("write", cause)
	if err := c.w.rollback(); err != nil && !c.w.rolledBack() {
		c.log.Warn("rollback of an aborted write batch failed", "db", c.path, "err", err)
	}
	c.settle(b, &abortError{cause: cause})
}

// settle decides the outcome of every request of b and delivers it: what
// its own work came to, unless that succeeded and the batch failed (err),
// in which case err. It is where every batch request's fate is sealed.
func (c *Committer) settle(b *batch, err error) {
	var ok uint64
	for i := range b.outs {
		o := &b.outs[i]
		if err != nil && o.ok() {
			o.err = err
		}
		if o.ok() {
			ok++
		} else {
			o.rows, o.result = nil, nil
		}
	}
	// Count first: a caller may read the stats as soon as it returns.
	c.failed.Add(uint64(len(b.reqs)) - ok)
	if err == nil {
		c.writes.Add(ok)
		c.batches.Add(1)
		for n := uint64(len(b.reqs)); ; {
			m := c.maxBatch.Load()
			if n <= m || c.maxBatch.CompareAndSwap(m, n) {
				break
			}
		}
	}
	for i, r := range b.reqs {
		deliver(r, b.outs[i])
	}
}
