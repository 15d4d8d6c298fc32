package testproc

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"testing"
)

// Parent is a child's side of the conversation: lines to the test on stdout, commands from
// the test on stdin. Say and Fail are safe for concurrent use; Next is for one goroutine.
type Parent struct {
	mu sync.Mutex // serializes lines on stdout
	in *bufio.Scanner
}

// NewParent returns the link of this process, a child, to the test that started it.
func NewParent() *Parent {
	return &Parent{in: bufio.NewScanner(os.Stdin)}
}

// Say writes one line, formatted as by [fmt.Printf], to the test. Lines from several
// goroutines never interleave.
func (p *Parent) Say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// Fail reports a failure to the test as a line starting with [ErrorPrefix], which ends the
// test's [Child.WaitFor] with the message, and fails tb, the child's test. Like tb.Fatal, it
// must be called from the child's test goroutine.
func (p *Parent) Fail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	p.Say("%s: %s", ErrorPrefix, msg)
	tb.Fatal(msg)
}

// Next returns the test's next command line, or false when stdin has ended: the test is done
// with this child (or gone), and the child should finish.
func (p *Parent) Next() (string, bool) {
	if !p.in.Scan() {
		return "", false
	}
	return p.in.Text(), true
}
