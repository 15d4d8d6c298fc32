// Package testproc runs the child processes of litedir's multi-process tests, one way for
// every package.
//
// # Roles
//
// A test that needs another process re-executes its own test binary ([Start]): the child
// runs only the same top-level test, which calls [IsChild] first, finds its configuration in
// the environment variable named after the test, and plays its role instead of the test
// (stdlib lockedfile_test.go's TestSpuriousEDEADLK works the same way):
//
//	func TestX(t *testing.T) {
//		var cfg xConfig
//		if testproc.IsChild(t, &cfg) {
//			xChild(t, cfg)
//			return
//		}
//		c := testproc.Start(t, "holder", xConfig{...})
//		c.WaitFor(ctx, "ready")
//		...
//	}
//
// # Lines
//
// The two talk in lines. The child's [Parent] says lines on stdout and reads commands from
// stdin; a closed stdin tells the child to finish. The test's [Child] sends commands and
// waits for lines, each wait bounded by a context (testdir.Context), never by a sleep. A
// line starting with [ErrorPrefix] reports a failure in the child and fails the wait.
//
// # Lifetime
//
// A child is stopped and reaped when the test that started it ends: its stdin is closed (and
// it is interrupted, after [Child.InterruptOnStop]), and one still running after a grace
// period is killed and fails the test. What it said on stdout and stderr is kept for failure
// messages ([Child.Output]).
//
// Child processes need os/exec: on wasip1 and js, Start fails, so tests skip before it
// there (as they do where the feature under test is missing).
//
// The package is internal: it exists for litedir's own tests and is no API.
package testproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
)

// ErrorPrefix starts a line by which a child reports a failure ([Parent.Fail]). It ends the
// test's [Child.WaitFor] or [Child.WaitForPrefix] with the line.
const ErrorPrefix = "error"

// envPrefix starts the name of the environment variable that carries a child's
// configuration; the rest is the name of the top-level test.
const envPrefix = "LITEDIR_TEST_CHILD_"

// childTimeout is the least -test.timeout of a child process: it bounds an orphan whose
// parent died without closing its stdin (it reads EOF then anyway; this is a second line of
// defence).
const childTimeout = 5 * time.Minute

// stopGrace is how long a child has to finish once its stdin is closed at the end of a test,
// before it is killed, times [testdir.Slowdown]. Finishing may be closing a workspace: an
// optimize and a checkpoint.
const stopGrace = 30 * time.Second

// keepLines is how many of a child's last stdout lines [Child.Output] shows: a writer child
// says thousands.
const keepLines = 40

// topLevel returns the name of tb's top-level test, which is what -test.run selects in the
// child.
func topLevel(tb testing.TB) string {
	name, _, _ := strings.Cut(tb.Name(), "/")
	return name
}

// envName returns the environment variable that carries the configuration of a child of
// tb's top-level test.
func envName(tb testing.TB) string { return envPrefix + topLevel(tb) }

// IsChild reports whether this process is a child that [Command] started for tb's top-level
// test and, if so, decodes the child's configuration into cfg (a pointer, as for
// [json.Unmarshal]). A test calls it first and plays the child's role when it returns true.
func IsChild(tb testing.TB, cfg any) bool {
	env, ok := os.LookupEnv(envName(tb))
	if !ok {
		return false
	}
	if err := json.Unmarshal([]byte(env), cfg); err != nil {
		tb.Fatalf("testproc: child configuration %q: %v", env, err)
	}
	return true
}

// Command returns the command that re-executes the test binary to run only tb's top-level
// test, as a child given cfg (any value [json.Marshal] encodes; [IsChild] decodes it). Its
// Env is the environment of this process and the child's; a caller may add to it, or set
// SysProcAttr, before [StartCmd].
//
// The child's -test.timeout is at least 5 minutes, or as long as tb may still run, so that an
// orphaned child ends; the race detector is told not to sleep at the child's exit.
func Command(tb testing.TB, cfg any) *exec.Cmd {
	tb.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatalf("testproc: child configuration: %v", err)
	}
	timeout := childTimeout
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := d.Deadline(); ok {
			timeout = max(timeout, time.Until(end).Round(time.Second))
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+topLevel(tb)+"$", "-test.count=1", "-test.timeout="+timeout.String())
	// The race detector sleeps a second when a process exits, by default; a child has no
	// goroutines left to race with by then. Later entries win in exec.Cmd's Env.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), "GORACE="+gorace, envName(tb)+"="+string(js))
	return cmd
}

// Start starts the test binary as a child of tb named name ("holder", "writer 2": the name
// in failure messages), given cfg: [StartCmd] of [Command]. It returns at once.
func Start(tb testing.TB, name string, cfg any) *Child {
	tb.Helper()
	return StartCmd(tb, name, Command(tb, cfg))
}

// Child is a test's handle on a child process. Its methods must be called from the test's
// goroutine, except [Child.Lines], [Child.Output] and [Child.Pid].
type Child struct {
	tb     testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // the child's stdout, line by line; closed at its end
	exited chan struct{} // closed once the child has been reaped
	stderr Buffer

	waitErr error // written by the reader goroutine before exited is closed

	mu      sync.Mutex // guards seen and skipped
	seen    []string   // the last keepLines stdout lines
	skipped int        // stdout lines no longer in seen

	killed    bool // the test killed the child: a failed exit is expected
	interrupt bool // stop interrupts the child rather than only closing its stdin
}

// StartCmd starts cmd, which must have no standard streams of its own yet, as a child of tb
// named name, and returns at once. cmd may be any program ([Command]'s, or one such as the
// litedir CLI). The child is stopped and reaped when tb ends.
func StartCmd(tb testing.TB, name string, cmd *exec.Cmd) *Child {
	tb.Helper()
	c := &Child{
		tb:     tb,
		name:   name,
		cmd:    cmd,
		lines:  make(chan string, 64),
		exited: make(chan struct{}),
	}
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	if err := c.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go c.read(stdout)
	tb.Cleanup(c.stop)
	return c
}

// read passes the child's stdout on, line by line, keeping the last lines for Output, and
// reaps the child once its stdout ends: exec.Cmd.Wait must not run before the reads are
// done.
func (c *Child) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		c.mu.Lock()
		if len(c.seen) == keepLines {
			c.seen = append(c.seen[:0], c.seen[1:]...)
			c.skipped++
		}
		c.seen = append(c.seen, line)
		c.mu.Unlock()
		c.lines <- line
	}
	// A line too long for the scanner: keep the pipe drained so that the child never
	// blocks on it.
	io.Copy(io.Discard, stdout)
	close(c.lines)
	c.waitErr = c.cmd.Wait()
	close(c.exited)
}

// Name returns the child's name, for messages.
func (c *Child) Name() string { return c.name }

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Lines returns the child's stdout, line by line, closed when it ends: for a test that reads
// the lines itself, beside other events or in a goroutine of its own. A line taken from it
// is not seen by [Child.Next].
func (c *Child) Lines() <-chan string { return c.lines }

// Send writes line, and a newline, to the child's stdin.
func (c *Child) Send(line string) {
	c.tb.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.tb.Fatalf("%s: send %q: %v\n%s", c.name, line, err, c.Output())
	}
}

// CloseStdin closes the child's stdin, which tells a child reading it ([Parent.Next]) to
// finish.
func (c *Child) CloseStdin() { c.stdin.Close() }

// Next returns the child's next stdout line, or false once its stdout has ended. It fails
// the test when ctx ends first.
func (c *Child) Next(ctx context.Context) (string, bool) {
	c.tb.Helper()
	select {
	case line, ok := <-c.lines:
		return line, ok
	case <-ctx.Done():
		c.tb.Fatalf("%s: no line within the deadline: %v\n%s", c.name, context.Cause(ctx), c.Output())
		return "", false
	}
}

// WaitFor reads the child's lines until the line want. It fails the test if the child
// reports an error ([ErrorPrefix]), ends first, or ctx ends first.
func (c *Child) WaitFor(ctx context.Context, want string) {
	c.tb.Helper()
	for {
		line, ok := c.Next(ctx)
		switch {
		case !ok:
			err := c.Wait(ctx)
			c.tb.Fatalf("%s ended (%v) before saying %q\n%s", c.name, err, want, c.Output())
		case line == want:
			return
		case strings.HasPrefix(line, ErrorPrefix):
			c.tb.Fatalf("%s: %s\n%s", c.name, line, c.Output())
		}
	}
}

// WaitForPrefix reads the child's lines until one that starts with one of prefixes, and
// returns it whole. It fails the test like [Child.WaitFor].
func (c *Child) WaitForPrefix(ctx context.Context, prefixes ...string) string {
	c.tb.Helper()
	for {
		line, ok := c.Next(ctx)
		if !ok {
			err := c.Wait(ctx)
			c.tb.Fatalf("%s ended (%v) before saying a line starting with %q\n%s", c.name, err, prefixes, c.Output())
		}
		if strings.HasPrefix(line, ErrorPrefix) {
			c.tb.Fatalf("%s: %s\n%s", c.name, line, c.Output())
		}
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				return line
			}
		}
	}
}

// Interrupt asks the child to end the way Ctrl-C does. Windows cannot deliver an interrupt to
// another process; the child is killed there.
func (c *Child) Interrupt() {
	c.tb.Helper()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return
		}
		c.Kill()
	}
}

// Kill kills the child at once, without letting it run another instruction: SIGKILL on
// Unix, TerminateProcess on Windows. Its stdout can still be read to its end; [Child.Wait]
// reaps it. A child the test killed may exit with an error at the end of the test.
func (c *Child) Kill() {
	c.tb.Helper()
	c.killed = true
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.tb.Fatalf("kill %s: %v", c.name, err)
	}
}

// Wait reads the child's remaining lines and returns its exit status ([ExitCode] reads it)
// once it has exited. It fails the test when ctx ends first.
func (c *Child) Wait(ctx context.Context) error {
	c.tb.Helper()
	for {
		if _, ok := c.Next(ctx); !ok {
			break
		}
	}
	select {
	case <-c.exited:
		return c.waitErr
	case <-ctx.Done():
		c.tb.Fatalf("%s: not reaped within the deadline: %v", c.name, context.Cause(ctx))
		return nil
	}
}

// Finish closes the child's stdin, which tells it to finish, and waits for it to exit
// successfully, failing the test if it does not.
func (c *Child) Finish(ctx context.Context) {
	c.tb.Helper()
	c.stdin.Close()
	if err := c.Wait(ctx); err != nil {
		c.tb.Fatalf("%s: %v\n%s", c.name, err, c.Output())
	}
}

// InterruptOnStop makes the end of the test interrupt the child as well as close its stdin
// (kill it, on Windows): for a program that does not read its stdin, such as "litedir lock".
func (c *Child) InterruptOnStop() { c.interrupt = true }

// stop ends the child when the test ends: closing stdin asks it to finish; one that has not
// finished within the grace period is killed. An unexpected failed exit fails the test.
func (c *Child) stop() {
	c.stdin.Close()
	if c.interrupt {
		select {
		case <-c.exited:
		default:
			if err := c.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
				// Windows cannot interrupt another process.
				c.killed = true
				c.cmd.Process.Kill()
			}
		}
	}
	grace := stopGrace * time.Duration(testdir.Slowdown())
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for open := true; open; {
		select {
		case _, ok := <-c.lines:
			open = ok
		case <-timer.C:
			c.tb.Errorf("%s: still running %v after the end of the test; killing it", c.name, grace)
			c.killed = true
			c.cmd.Process.Kill()
			timer.Reset(grace)
		}
	}
	<-c.exited
	if c.waitErr != nil && !c.killed && !c.tb.Failed() {
		c.tb.Errorf("%s: %v\n%s", c.name, c.waitErr, c.Output())
	}
}

// Output formats what the child has said so far, for failure messages: the last 40 lines of
// its stdout and all of its stderr.
func (c *Child) Output() string {
	c.mu.Lock()
	seen := strings.Join(c.seen, "\n")
	skipped := ""
	if c.skipped > 0 {
		skipped = fmt.Sprintf("[%d lines skipped]\n", c.skipped)
	}
	c.mu.Unlock()
	return fmt.Sprintf("%s stdout:\n%s%s\n%s stderr:\n%s", c.name, skipped, seen, c.name, c.stderr.String())
}

// ExitCode returns the exit status in an error of [Child.Wait] or [exec.Cmd.Run]: 0 for
// nil, -1 for a process ended by a signal or not run at all.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	return -1
}

// Buffer is a [bytes.Buffer] safe for concurrent use: a process's output, or a log, that
// another goroutine fills while the test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what the buffer holds.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
