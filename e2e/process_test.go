package e2e_test

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
)

// The tests of this package that need other processes re-execute the test
// binary. A child runs the same test function, finds its configuration in the
// environment variable named after the test (see childConfig) and plays its
// role instead of the test. This file holds both sides of that conversation.

// signalDeadline bounds every wait for a line from a child. It is generous:
// a child that compiles SQLite without a warm cache takes seconds, and under
// -race several times that. A wait that runs out fails the test with the
// child's output.
const signalDeadline = 2 * time.Minute

// stopGrace is how long a child has to finish once its stdin is closed at
// the end of a test, before it is killed. Finishing is closing a workspace:
// an optimize and a checkpoint.
const stopGrace = 30 * time.Second

// childTimeout is the least -test.timeout of a child process.
const childTimeout = 5 * time.Minute

// Lines every child role uses.
const (
	readyLine = "ready"
	errorLine = "error" // prefix of a line reporting a failure in a child's goroutine
)

// childConfig reports whether this process is a child of the test t and, if
// so, decodes its configuration into cfg. The configuration is the JSON in
// the environment variable named after the top-level test.
func childConfig(t *testing.T, cfg any) bool {
	env, ok := os.LookupEnv(envName(t))
	if !ok {
		return false
	}
	if err := json.Unmarshal([]byte(env), cfg); err != nil {
		t.Fatalf("child configuration %q: %v", env, err)
	}
	return true
}

// envName is the environment variable that carries a child's configuration:
// the name of the top-level test, which is what -test.run selects in the
// child.
func envName(t *testing.T) string {
	name, _, _ := strings.Cut(t.Name(), "/")
	return name
}

// parentLink is a child's side of the conversation: lines to the parent on
// stdout, commands from the parent on stdin. It is safe for concurrent use.
type parentLink struct {
	mu sync.Mutex // serializes lines on stdout
	in *bufio.Scanner
}

func newParentLink() *parentLink {
	return &parentLink{in: bufio.NewScanner(os.Stdin)}
}

// say writes one line to the parent. Lines from several goroutines never
// interleave.
func (p *parentLink) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// fail reports a failure to the parent as an errorLine, which ends the
// parent's waitFor with the message, and fails the child. Like t.Fatal, it
// must be called from the child's test goroutine.
func (p *parentLink) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	p.say("%s: %s", errorLine, msg)
	t.Fatal(msg)
}

// next returns the parent's next command, or false when stdin has ended: the
// parent is done with this child (or gone), and the child should finish.
// Only one goroutine may call next.
func (p *parentLink) next() (string, bool) {
	if !p.in.Scan() {
		return "", false
	}
	return p.in.Text(), true
}

// child is the parent's handle on a child process.
type child struct {
	t      *testing.T
	name   string // "child 2", for messages
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // the child's stdout, line by line; closed at EOF
	exited chan struct{} // closed once the child has been reaped
	stderr lockedBuffer

	// Written by the reader goroutine before exited is closed.
	waitErr error

	seen      []string // stdout lines read so far, for failure messages
	killed    bool     // the test killed the child: a failed exit is expected
	interrupt bool     // stop interrupts the child rather than only closing its stdin
}

// startChild starts the test binary as a child of the test t, passing it cfg
// in the environment variable named after the test, and returns at once. The
// child is stopped and reaped when the test ends.
func startChild(t *testing.T, name string, cfg any) *child {
	t.Helper()
	return startChildEnv(t, name, cfg, nil)
}

// startChildEnv is startChild with env (KEY=value entries) added to the
// environment the child inherits, for settings that are per process, such as
// the engine cache's directory.
func startChildEnv(t *testing.T, name string, cfg any, env []string) *child {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// -test.timeout bounds an orphan whose parent died without closing its
	// stdin (it reads EOF then anyway; this is a second line of defence):
	// 5 minutes, or as long as the parent may still run, for a child that
	// lives through a long soak test.
	timeout := childTimeout
	if d, ok := t.Deadline(); ok {
		timeout = max(timeout, time.Until(d).Round(time.Second))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+envName(t)+"$", "-test.count=1", "-test.timeout="+timeout.String())
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, envName(t)+"="+string(js))
	return startProcess(t, name, cmd, false)
}

// startProcess starts cmd, which must have no standard streams of its own
// yet, as a child of the test t, and returns at once. The child is stopped
// and reaped when the test ends: its stdin is closed, and if interrupt is
// true (a program that does not read stdin, such as "litedir lock") it is
// also sent an interrupt.
func startProcess(t *testing.T, name string, cmd *exec.Cmd, interrupt bool) *child {
	t.Helper()
	c := &child{
		t:         t,
		name:      name,
		cmd:       cmd,
		lines:     make(chan string, 64),
		exited:    make(chan struct{}),
		interrupt: interrupt,
	}
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go c.read(stdout)
	t.Cleanup(c.stop)
	return c
}

// read passes the child's stdout on, line by line, and reaps the child once
// its stdout ends: exec.Cmd.Wait must not run before the reads are done.
func (c *child) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		c.lines <- sc.Text()
	}
	// A line too long for the scanner: keep the pipe drained so that the
	// child never blocks on it.
	io.Copy(io.Discard, stdout)
	close(c.lines)
	c.waitErr = c.cmd.Wait()
	close(c.exited)
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// send writes one command line to the child.
func (c *child) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("%s: send %q: %v\n%s", c.name, line, err, c.output())
	}
}

// next returns the child's next line, or false once its stdout has ended.
// It fails the test when ctx ends first.
func (c *child) next(ctx context.Context) (string, bool) {
	c.t.Helper()
	select {
	case line, ok := <-c.lines:
		if ok {
			c.seen = append(c.seen, line)
		}
		return line, ok
	case <-ctx.Done():
		c.t.Fatalf("%s: no line within the deadline: %v\n%s", c.name, context.Cause(ctx), c.output())
		return "", false
	}
}

// waitFor reads the child's lines until want. It fails the test if the child
// reports an error, ends first, or ctx ends first.
func (c *child) waitFor(ctx context.Context, want string) {
	c.t.Helper()
	for {
		line, ok := c.next(ctx)
		switch {
		case !ok:
			err := c.wait(ctx)
			c.t.Fatalf("%s ended (%v) before saying %q\n%s", c.name, err, want, c.output())
		case line == want:
			return
		case strings.HasPrefix(line, errorLine):
			c.t.Fatalf("%s: %s\n%s", c.name, line, c.output())
		}
	}
}

// waitForPrefix reads the child's lines until one that starts with one of
// prefixes, and returns it. It fails the test like waitFor.
func (c *child) waitForPrefix(ctx context.Context, prefixes ...string) string {
	c.t.Helper()
	for {
		line, ok := c.next(ctx)
		if !ok {
			err := c.wait(ctx)
			c.t.Fatalf("%s ended (%v) before saying a line starting with %q\n%s", c.name, err, prefixes, c.output())
		}
		if strings.HasPrefix(line, errorLine) {
			c.t.Fatalf("%s: %s\n%s", c.name, line, c.output())
		}
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				return line
			}
		}
	}
}

// signalInterrupt asks the child to end the way Ctrl-C does. Windows cannot
// deliver an interrupt to another process; the child is killed there.
func (c *child) signalInterrupt() {
	c.t.Helper()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return
		}
		c.kill()
	}
}

// kill kills the child at once, without letting it run another instruction:
// SIGKILL on Unix, TerminateProcess on Windows. Its stdout can still be read
// to its end; wait reaps it.
func (c *child) kill() {
	c.t.Helper()
	c.killed = true
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.t.Fatalf("kill %s: %v", c.name, err)
	}
}

// wait reads the child's remaining lines and returns its exit status once it
// has exited. It fails the test when ctx ends first.
func (c *child) wait(ctx context.Context) error {
	c.t.Helper()
	for {
		if _, ok := c.next(ctx); !ok {
			break
		}
	}
	select {
	case <-c.exited:
		return c.waitErr
	case <-ctx.Done():
		c.t.Fatalf("%s: not reaped within the deadline: %v", c.name, context.Cause(ctx))
		return nil
	}
}

// finish closes the child's stdin, which tells it to finish, and waits for it
// to exit successfully.
func (c *child) finish(ctx context.Context) {
	c.t.Helper()
	c.stdin.Close()
	if err := c.wait(ctx); err != nil {
		c.t.Fatalf("%s: %v\n%s", c.name, err, c.output())
	}
}

// stop ends the child when the test ends: closing stdin asks it to finish;
// one that has not finished by the deadline is killed. An unexpected failed
// exit fails the test.
func (c *child) stop() {
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
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	for open := true; open; {
		select {
		case line, ok := <-c.lines:
			if ok {
				c.seen = append(c.seen, line)
			}
			open = ok
		case <-timer.C:
			c.t.Errorf("%s: still running at the end of the test; killing it", c.name)
			c.killed = true
			c.cmd.Process.Kill()
			timer.Reset(stopGrace)
		}
	}
	<-c.exited
	if c.waitErr != nil && !c.killed && !c.t.Failed() {
		c.t.Errorf("%s: %v\n%s", c.name, c.waitErr, c.output())
	}
}

// exitCode returns the exit status in the error of wait: 0 for nil, -1
// for a child ended by a signal or not run at all.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	return -1
}

// output formats what the child said so far, for failure messages. Only the
// last lines of stdout are kept: a writer child says thousands.
func (c *child) output() string {
	seen := c.seen
	const keep = 40
	skipped := ""
	if len(seen) > keep {
		skipped = fmt.Sprintf("[%d lines skipped]\n", len(seen)-keep)
		seen = seen[len(seen)-keep:]
	}
	return fmt.Sprintf("%s stdout:\n%s%s\n%s stderr:\n%s", c.name, skipped, strings.Join(seen, "\n"), c.name, c.stderr.String())
}

// lockedBuffer is a bytes.Buffer that exec.Cmd's copying goroutine may fill
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
