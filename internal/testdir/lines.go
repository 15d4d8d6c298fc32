package testdir

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// WaitLine reads lines from r (a child process's output) until one starts
// with prefix, and returns the rest of it, trimmed. It fails tb when r ends
// first or at [Deadline]: the signal a test waits for, never a sleep.
func WaitLine(tb testing.TB, r *bufio.Reader, prefix string) string {
	tb.Helper()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		for {
			line, err := r.ReadString('\n')
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				ch <- result{strings.TrimSpace(rest), nil}
				return
			}
			if err != nil {
				ch <- result{"", err}
				return
			}
		}
	}()
	t := time.NewTimer(time.Until(Deadline(tb)))
	defer t.Stop()
	select {
	case res := <-ch:
		if res.err != nil {
			tb.Fatalf("child exited before printing %q: %v", prefix, res.err)
		}
		return res.line
	case <-t.C:
		tb.Fatalf("no %q line from the child before the test's deadline", prefix)
		return ""
	}
}
