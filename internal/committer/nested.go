package committer

import (
	"runtime"
	"sync/atomic"
)

// Nested calls.
//
// A Write function runs on the committer's goroutine, inside a batch that
// holds the writer connection: a Write, a DB statement or a front statement
// it makes itself would wait for that batch, which waits for the function —
// forever. Such calls must be told apart from the same calls made at the
// same moment by other goroutines, which simply queue.
//
// Go has no goroutine-local storage, and the goroutine id is not exposed.
// What is exposed is the call stack: every function runs through callFn, a
// frame that nothing else creates (one of a few, see callFns), so a goroutine whose stack holds callFn's
// return address is running inside a Write function. The stack is walked
// only while some batch work runs (Hooks.inFn), and the check is a
// comparison of program counters: no symbolization, no stack text.

// The marker frames. Each committer takes one slot (see Start), so that a
// Write function of one workspace can still call another workspace's Write
// while that one runs a function too; with more committers open than slots,
// two share one, and such a cross call may be refused with ErrNestedWrite.
// Each callFnN must not be inlined: its frame is the marker.

//go:noinline
func callFn0(fn func(Querier) error, q Querier) error { return fn(q) }

//go:noinline
func callFn1(fn func(Querier) error, q Querier) error { return fn(q) }

//go:noinline
func callFn2(fn func(Querier) error, q Querier) error { return fn(q) }

//go:noinline
func callFn3(fn func(Querier) error, q Querier) error { return fn(q) }

//go:noinline
func callFn4(fn func(Querier) error, q Querier) error { return fn(q) }

//go:noinline
func callFn5(fn func(Querier) error, q Querier) error { return fn(q) }

//go:noinline
func callFn6(fn func(Querier) error, q Querier) error { return fn(q) }

//go:noinline
func callFn7(fn func(Querier) error, q Querier) error { return fn(q) }

var callFns = [...]func(func(Querier) error, Querier) error{
	callFn0, callFn1, callFn2, callFn3, callFn4, callFn5, callFn6, callFn7,
}

// fnReturnPCs are the return addresses of the calls in the callFnN, found
// once by calling each with a function that looks at its caller's frame.
var fnReturnPCs = func() (pcs [len(callFns)]uintptr) {
	for i, f := range callFns {
		f(func(Querier) error {
			// Skip runtime.Callers and this function: the next frame is
			// the marker.
			runtime.Callers(2, pcs[i:i+1])
			return nil
		}, nil)
	}
	return pcs
}()

// slots hands out marker slots round-robin.
var slots atomic.Uint32

func nextSlot() int { return int(slots.Add(1)-1) % len(callFns) }

// callFn calls fn through c's marker frame.
func (c *Committer) callFn(fn func(Querier) error, q Querier) error {
	return callFns[c.slot](fn, q)
}

// nested reports whether the calling goroutine is running a Write function
// of c.
func nested(c *Committer) bool {
	if !c.hooks.inFn.Load() {
		return false
	}
	return insideFn(fnReturnPCs[c.slot])
}

// insideFn reports whether the frame that returns to marker is on the
// calling goroutine's stack.
func insideFn(marker uintptr) bool {
	var buf [64]uintptr
	for skip := 2; ; skip += len(buf) {
		n := runtime.Callers(skip, buf[:])
		for _, pc := range buf[:n] {
			if pc == marker {
				return true
			}
		}
		if n < len(buf) {
			return false
		}
	}
}
