package committer

import (
	"context"
	"database/sql/driver"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Requests and their outcomes.
//
// A caller hands the committer a request and waits for its outcome, which
// arrives on the request's own channel (capacity 1), sent once by deliver —
// the way database/sql hands out a connection. The loop goroutine is the
// only sender: settle delivers the outcomes of a batch (see batch.go),
// reject those of requests that never ran.
//
// Between queued and delivered, a request is taken by the loop or withdrawn
// by its caller, whichever comes first (a compare-and-swap on state): a
// caller whose context ends, or whose wait outlasts the busy timeout, while
// its request is still queued withdraws it, and the request never runs;
// once taken, the caller waits for its outcome, whatever its context says,
// since its work shares a transaction with others'.

// kind is what a request asks of the committer.
type kind uint8

const (
	kindFn    kind = iota // run a Write function in a savepoint of a batch
	kindExec              // run one statement in a batch (the front's Exec)
	kindQuery             // run one statement in a batch and keep its rows
	kindLease             // hold the connection exclusively between batches
)

const (
	reqQueued int32 = iota
	reqTaken
	reqWithdrawn
)

// request is one call waiting for the committer. Its fields are set before
// it is queued and not written after; the outcome travels on out.
type request struct {
	kind  kind
	ctx   context.Context
	fn    func(Querier) error // kindFn
	query string              // kindExec, kindQuery
	args  []driver.NamedValue // converted already (see wconn.checkArgs)
	state atomic.Int32
	out   chan outcome // capacity 1

	// kindLease: the holder closes released when it is done (release); the
	// loop sets revoked when Close took the connection back.
	released    chan struct{}
	releaseOnce sync.Once
	revoked     atomic.Bool
}

// outcome is what a request came to.
type outcome struct {
	err      error
	panicked bool
	panicVal any
	goexit   bool
	result   driver.Result // kindExec
	rows     *bufRows      // kindQuery
}

// ok reports whether the request's own work succeeded.
func (o *outcome) ok() bool { return o.err == nil && !o.panicked && !o.goexit }

func newRequest(ctx context.Context, k kind) *request {
	r := &request{kind: k, ctx: ctx, out: make(chan outcome, 1)}
	if k == kindLease {
		r.released = make(chan struct{})
	}
	return r
}

// take moves r from queued to taken, for the loop; false means its caller
// withdrew it.
func (r *request) take() bool { return r.state.CompareAndSwap(reqQueued, reqTaken) }

// withdraw moves r from queued to withdrawn, for its caller; false means the
// loop took it, and its outcome will come.
func (r *request) withdraw() bool { return r.state.CompareAndSwap(reqQueued, reqWithdrawn) }

// deliver sends r's outcome. Only the loop calls it, once per taken
// request.
func deliver(r *request, o outcome) {
	if testHookDelivered != nil {
		testHookDelivered(r)
	}
	r.out <- o
}

// release ends a lease; it may be called more than once.
func (r *request) release() { r.releaseOnce.Do(func() { close(r.released) }) }

// testHookQueued, when set by a test, runs after a request is queued.
var testHookQueued atomic.Pointer[func()]

// SetTestHookQueued makes every queued request call f until the returned
// function is called. For tests.
func SetTestHookQueued(f func()) (restore func()) {
	testHookQueued.Store(&f)
	return func() { testHookQueued.Store(nil) }
}

// submit queues r and waits for its outcome. It returns an error, and r
// never runs, when r's context ends, the committer closes, or the busy
// timeout passes before the loop takes r; once taken, it waits for the
// outcome.
func (c *Committer) submit(op string, r *request) (outcome, error) {
	if err := r.ctx.Err(); err != nil {
		return outcome{}, err
	}
	start := time.Now()
	busy := time.NewTimer(c.wait)
	defer busy.Stop()
	select {
	case c.reqs <- r:
	case <-r.ctx.Done():
		return outcome{}, r.ctx.Err()
	case <-c.quit:
		return outcome{}, c.errf(op, ErrClosed)
	case <-busy.C:
		return outcome{}, c.busyError(op, start)
	}
	if hook := testHookQueued.Load(); hook != nil {
		(*hook)()
	}
	var err error
	select {
	case o := <-r.out:
		return o, nil
	case <-r.ctx.Done():
		err = r.ctx.Err()
	case <-busy.C:
		err = c.busyError(op, start)
	case <-c.exited:
		// Queued after the loop drained the queue for the last time.
		err = c.errf(op, ErrClosed)
	}
	if r.withdraw() {
		return outcome{}, err
	}
	return <-r.out, nil
}

// write submits a request of a batch and returns its outcome; a request that
// never ran has its error in the outcome.
func (c *Committer) write(op string, r *request) outcome {
	o, err := c.submit(op, r)
	if err != nil {
		o.err = err
	}
	return o
}

// Write runs fn in a savepoint of a batch and returns once the batch has
// committed (and, with a syncer, once its fsync is done), or with fn's
// error. A panic in fn, or in a statement fn runs, is re-raised here, in
// the caller's goroutine; a runtime.Goexit in fn is repeated here.
func (c *Committer) Write(ctx context.Context, fn func(Querier) error) error {
	if fn == nil {
		return c.errf("write", errNilFunc)
	}
	if c.nested() {
		return c.errf("write", ErrNestedWrite)
	}
	r := newRequest(ctx, kindFn)
	r.fn = fn
	o := c.write("write", r)
	switch {
	case o.panicked:
		panic(o.panicVal)
	case o.goexit:
		runtime.Goexit()
	}
	return o.err
}
