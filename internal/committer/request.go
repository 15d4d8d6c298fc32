package committer

import (
	"context"
	"database/sql/driver"
	"runtime"
	"sync"
	"sync/atomic"
)

// kind is what a request asks of the committer.
type kind uint8

const (
	kindFn    kind = iota // run a Write function in a savepoint of a batch
	kindExec              // run one statement in a batch (the front's Exec)
	kindQuery             // run one statement in a batch and keep its rows
	kindLease             // hold the connection exclusively between batches
)

// Request states: a request is claimed by the committer just before it runs,
// or cancelled by its caller while it is still queued; the first to move it
// out of queued wins.
const (
	reqQueued int32 = iota
	reqClaimed
	reqCancelled
)

// request is one call waiting for the committer. The committer fills in the
// result fields, then closes done; the caller reads them after done.
type request struct {
	kind  kind
	fn    func(Querier) error // kindFn
	query string              // kindExec, kindQuery
	args  []driver.NamedValue // converted already (see wconn.checkArgs)
	state atomic.Int32
	done  chan struct{}

	// Results.
	err      error
	panicked bool
	panicVal any
	goexit   bool
	result   driver.Result // kindExec
	rows     *bufRows      // kindQuery

	// stmtPanic is a panic recovered inside the driver while the function
	// ran (in Rows.Next, say, where database/sql turns it into an error the
	// function may drop): the function is then treated as having panicked.
	stmtPanic atomic.Pointer[PanicError]

	// kindLease: released is closed by the holder when it is done; revoked
	// is set by Stop when it took the connection back.
	released    chan struct{}
	releaseOnce sync.Once
	revoked     atomic.Bool
}

// release ends a lease; it may be called more than once.
func (r *request) release() { r.releaseOnce.Do(func() { close(r.released) }) }

func newRequest(k kind) *request {
	r := &request{kind: k, done: make(chan struct{})}
	if k == kindLease {
		r.released = make(chan struct{})
	}
	return r
}

func (r *request) claim() bool { return r.state.CompareAndSwap(reqQueued, reqClaimed) }

// ok reports whether the request's own work succeeded (its batch may still
// fail to commit).
func (r *request) ok() bool { return r.err == nil && !r.panicked && !r.goexit }

// testHookQueued, when set by a test, runs after a request is queued.
var testHookQueued atomic.Pointer[func()]

// SetTestHookQueued makes every queued request call f until the returned
// function is called. For tests.
func SetTestHookQueued(f func()) (restore func()) {
	testHookQueued.Store(&f)
	return func() { testHookQueued.Store(nil) }
}

// submit queues r and waits for its outcome. A ctx done before r is claimed
// returns ctx.Err() and r never runs; once claimed, submit waits for the
// outcome whatever ctx says, since r's work shares a transaction with
// others.
func (c *Committer) submit(ctx context.Context, op string, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.failure(); err != nil && r.kind != kindLease {
		return c.errf(op, err)
	}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return c.errf(op, ErrClosed)
	}
	if hook := testHookQueued.Load(); hook != nil {
		(*hook)()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return ctx.Err()
		}
		<-r.done
	case <-c.exited:
		// Queued after the loop drained the queue for the last time.
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return c.errf(op, ErrClosed)
		}
		<-r.done
	}
	return nil
}

// Write runs fn in a savepoint of a batch and returns once the batch has
// committed (and, with a syncer, once its fsync is done), or with fn's
// error. A panic in fn, or in a statement fn runs, is re-raised here, in
// the caller's goroutine; a runtime.Goexit in fn is repeated here.
func (c *Committer) Write(ctx context.Context, fn func(Querier) error) error {
	if fn == nil {
		return c.errf("write", errNilFunc)
	}
	if nested(c) {
		return c.errf("write", ErrNestedWrite)
	}
	r := newRequest(kindFn)
	r.fn = fn
	if err := c.submit(ctx, "write", r); err != nil {
		return err
	}
	switch {
	case r.panicked:
		panic(r.panicVal)
	case r.goexit:
		runtime.Goexit()
	}
	return r.err
}
