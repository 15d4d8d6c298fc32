package committer

import (
	"math/bits"
	"runtime"
	"slices"
	"sync"
)

// Nested calls.
//
// A Write function runs on the committer's goroutine, inside a batch that
// holds the writer connection: a Write, a DB statement or a front statement
// it makes itself would wait for that batch, which waits for the function —
// forever. Such calls must be told apart from the same calls made at the
// same moment by other goroutines, which simply queue, and from calls into
// another workspace, which queue there.
//
// The call carries nothing that says where it comes from: user code passes
// its own context (the one it gave Write, or any other) and Go has no
// goroutine-local state. What the goroutine does carry is its stack, and the
// committer writes its name on it: a function runs below a chain of frames
// that spells the committer's id in binary — one frame of markBit0 or
// markBit1 per bit, between markEnter and markFn. A call that finds markFn's
// frame on its own stack, and the chain below it spelling c's id, runs
// inside a function of c; any other call does not. Ids are small integers,
// reused after Close, so the chain is a few frames long, and any number of
// committers can be open at once.
//
// The stack is walked only while c runs a function (Committer.inFn), and
// the check compares program counters: no symbolization, no stack text, no
// allocation.

// fnCall is a Write function on its way down the marker chain.
type fnCall struct {
	fn   func(Querier) error
	q    Querier
	id   uint64 // the bits still to spell, least significant first
	left int    // how many
}

// step returns the next frame of the chain: the next bit, or markFn once
// every bit is spelled.
func (a *fnCall) step() func(*fnCall) error {
	if a.left == 0 {
		return markFn
	}
	a.left--
	bit := a.id & 1
	a.id >>= 1
	if bit == 0 {
		return markBit0
	}
	return markBit1
}

// Each marker makes exactly one call that stays on the stack (step returns
// before it), so each has one return address, learned once by markPCs.

//go:noinline
func markEnter(a *fnCall) error { return a.step()(a) }

//go:noinline
func markBit0(a *fnCall) error { return a.step()(a) }

//go:noinline
func markBit1(a *fnCall) error { return a.step()(a) }

//go:noinline
func markFn(a *fnCall) error { return a.fn(a.q) }

// markPCs are the return addresses of the markers' calls, found once by
// running a chain that spells 0b10 with a function that reads its callers:
// markFn, then markBit1 (the last bit spelled, the most significant), then
// markBit0, then markEnter.
var markPCs = func() (pcs struct{ fn, bit0, bit1, enter uintptr }) {
	var got [4]uintptr
	a := &fnCall{id: 0b10, left: 2, fn: func(Querier) error {
		// Skip runtime.Callers and this function.
		runtime.Callers(2, got[:])
		return nil
	}}
	markEnter(a)
	pcs.fn, pcs.bit1, pcs.bit0, pcs.enter = got[0], got[1], got[2], got[3]
	return pcs
}()

// callMarked runs fn below the marker chain that spells id.
func callMarked(id uint64, fn func(Querier) error, q Querier) error {
	return markEnter(&fnCall{fn: fn, q: q, id: id, left: bits.Len64(id)})
}

// markedID returns the id that the marker chain on the calling goroutine's
// stack spells, and whether there is one.
func markedID() (uint64, bool) {
	// Skip runtime.Callers and markedID.
	const skip = 2
	var buf [64]uintptr
	at := -1
	for base := 0; at < 0; base += len(buf) {
		n := runtime.Callers(skip+base, buf[:])
		if i := slices.Index(buf[:n], markPCs.fn); i >= 0 {
			at = base + i
		} else if n < len(buf) {
			return 0, false
		}
	}
	// The chain below markFn: at most 64 bit frames and markEnter.
	var chain [65]uintptr
	n := runtime.Callers(skip+at+1, chain[:])
	var id uint64
	for _, pc := range chain[:n] {
		switch pc {
		case markPCs.bit0:
			id <<= 1
		case markPCs.bit1:
			id = id<<1 | 1
		case markPCs.enter:
			return id, true
		default:
			return 0, false // not a chain this package made
		}
	}
	return 0, false
}

// nested reports whether the calling goroutine runs a Write function of c.
func (c *Committer) nested() bool {
	if !c.inFn.Load() {
		return false
	}
	id, ok := markedID()
	return ok && id == c.id
}

// ids hands out committer ids: the smallest free one, so that chains stay
// short.
var ids struct {
	mu   sync.Mutex
	used []bool
}

func takeID() uint64 {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	i := slices.Index(ids.used, false)
	if i < 0 {
		i = len(ids.used)
		ids.used = append(ids.used, false)
	}
	ids.used[i] = true
	return uint64(i)
}

func releaseID(id uint64) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ids.used[id] = false
}
