package testdir

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Patience is how long a test waits for something that should happen at once (a child's
// line, a lock released, a Write acknowledged) before it fails, on a native machine with
// wazero's compiler. It is a safety net for hangs, not a measurement: it must cover a cold
// compile of the SQLite engine under the race detector on a busy machine (18.5 s measured on
// 2 shared cores) with room to spare.
const Patience = 2 * time.Minute

// Slowdown is the factor [Deadline] multiplies [Patience] by on this platform: 10 where
// wazero has no compiler and interprets SQLite (every GOARCH but amd64 and arm64, and
// wasip1, where SQLite runs in an interpreter inside an interpreted Go), times the integer
// in $LITEDIR_TEST_SLOWDOWN if it is set (for emulation, which a process cannot detect:
// .ci/cross sets it under qemu-user).
func Slowdown() int {
	n := 1
	if (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") || runtime.GOOS == "wasip1" {
		n = 10
	}
	if v, err := strconv.Atoi(os.Getenv("LITEDIR_TEST_SLOWDOWN")); err == nil && v > 1 {
		n *= v
	}
	return n
}

// Deadline returns when tb's waits should give up: [Patience] times [Slowdown] from now,
// but never later than a margin before the test binary's own -timeout (a tenth of the time
// left, at most 30 s), so that a wait that never ends fails the test with its own message
// and the test's cleanups still run, instead of the binary panicking with every goroutine's
// stack.
func Deadline(tb testing.TB) time.Time {
	now := time.Now()
	d := now.Add(Patience * time.Duration(Slowdown()))
	if t, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := t.Deadline(); ok {
			margin := min(end.Sub(now)/10, 30*time.Second)
			if end := end.Add(-margin); end.Before(d) {
				d = end
			}
		}
	}
	return d
}

// Context returns a context for tb's waits: it is done at [Deadline] or when tb ends,
// whichever comes first.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithDeadline(tb.Context(), Deadline(tb))
	tb.Cleanup(cancel)
	return ctx
}
