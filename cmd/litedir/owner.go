package main

import (
	"os"

	"github.com/litedir/litedir/lock"
)

// Lock states shown by status: what the owner record says about the lock,
// checked against the processes of this host.
const (
	// lockNone: no owner record. The workspace is free, or held by shared
	// holders, who write none.
	lockNone = "none"
	// lockHeld: the record names a process of this host that is running.
	lockHeld = "held"
	// lockStale: the record names a process of this host that is gone; it
	// crashed before it could clear the record, and the lock is free.
	lockStale = "stale"
	// lockUnknown: the record names a process of another host, or this
	// platform cannot look processes up.
	lockUnknown = "unknown"
)

// lockState tells what the owner record o says about the lock. A kernel
// lock dies with its process, so a record whose process is gone is stale;
// a live pid may in rare cases be a new process that reused the number.
// Nothing here takes or tests the lock itself: that would, for a moment,
// keep out a program that is starting.
func lockState(o lock.Owner) string {
	if o.IsZero() {
		return lockNone
	}
	host, err := os.Hostname()
	if err != nil || host != o.Host || o.PID <= 0 {
		return lockUnknown
	}
	switch processRunning(o.PID) {
	case runTrue:
		return lockHeld
	case runFalse:
		return lockStale
	}
	return lockUnknown
}

// running is what processRunning knows about a process.
type running int

const (
	runUnknown running = iota
	runTrue
	runFalse
)
