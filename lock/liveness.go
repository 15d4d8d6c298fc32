package lock

import "os"

// State is what an owner record says about its lock, checked against the
// processes of this host: one of StateNone, StateHeld, StateStale and
// StateUnknown.
type State string

const (
	// StateNone: no owner record. The directory is free, or held by
	// shared holders, who write none.
	StateNone State = "none"
	// StateHeld: the record names a process of this host that is running.
	StateHeld State = "held"
	// StateStale: the record names a process of this host that is gone; it
	// died before it could clear the record, and the lock is free. On Linux
	// a process that was killed and that its parent has not reaped yet (a
	// zombie) is gone too.
	StateStale State = "stale"
	// StateUnknown: the record names a process of another host, or this
	// platform cannot look processes up.
	StateUnknown State = "unknown"
)

// State tells what o says about its lock. A kernel lock dies with its
// process, so a record whose process is gone is stale; a live pid may in
// rare cases be a new process that reused the number. Nothing here takes
// or tests the lock itself: that would, for a moment, keep out a program
// that is starting.
func (o Owner) State() State {
	if o.IsZero() {
		return StateNone
	}
	host, err := os.Hostname()
	if err != nil || host != o.Host || o.PID <= 0 {
		return StateUnknown
	}
	switch processRunning(o.PID) {
	case runTrue:
		return StateHeld
	case runFalse:
		return StateStale
	}
	return StateUnknown
}

// running is what processRunning knows about a process.
type running int

const (
	runUnknown running = iota
	runTrue
	runFalse
)
