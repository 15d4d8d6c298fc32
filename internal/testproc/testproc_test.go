package testproc

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

// childConfig is the configuration of the children of this package's tests.
type childConfig struct {
	Role string
	Code int    // the exit status of the "exit" role
	Env  string // a variable the "env" role reports
}

// runChild plays the child's role cfg.Role.
func runChild(t *testing.T, cfg childConfig) {
	p := NewParent()
	switch cfg.Role {
	case "echo": // echo every command until stdin ends, then say bye on stderr
		p.Say("ready")
		for line, ok := p.Next(); ok; line, ok = p.Next() {
			p.Say("echo %s", line)
		}
		fmt.Fprintln(os.Stderr, "bye on stderr")
	case "chatty": // say more lines than Output keeps, then wait for stdin to end
		for i := range 2 * keepLines {
			p.Say("line %d", i)
		}
		p.Say("ready")
		for _, ok := p.Next(); ok; _, ok = p.Next() {
		}
	case "fail": // report a failure
		p.Say("ready")
		p.Fail(t, "broken on purpose")
	case "exit": // exit with cfg.Code without a word
		os.Exit(cfg.Code)
	case "env":
		p.Say("env %s", os.Getenv(cfg.Env))
	case "interrupt": // wait for an interrupt, ignoring stdin
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		p.Say("ready")
		<-ctx.Done()
		p.Say("interrupted")
	default:
		t.Fatalf("unknown role %q", cfg.Role)
	}
}

// needExec skips tb where a process cannot start another.
func needExec(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS == "wasip1" || runtime.GOOS == "js" {
		tb.Skipf("no child processes on %s", runtime.GOOS)
	}
}

// fatalTB is a testing.TB whose Fatalf records the message and ends the goroutine, as
// t.Fatalf does, without failing the real test: for checking that a wait fails.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// fatal runs fn on a goroutine of its own and returns the message it failed with, or ""
// if it returned.
func (f *fatalTB) fatal(fn func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestChild(t *testing.T) {
	var cfg childConfig
	if IsChild(t, &cfg) {
		runChild(t, cfg)
		return
	}
	needExec(t)

	t.Run("lines", func(t *testing.T) {
		ctx := testdir.Context(t)
		c := Start(t, "echoer", childConfig{Role: "echo"})
		if c.Name() != "echoer" || c.Pid() <= 0 {
			t.Errorf("Name, Pid: got %q, %d, want echoer and a pid", c.Name(), c.Pid())
		}
		c.WaitFor(ctx, "ready")
		c.Send("one")
		c.Send("two")
		if line, ok := c.Next(ctx); !ok || line != "echo one" {
			t.Errorf("Next: got %q, %v, want %q, true", line, ok, "echo one")
		}
		if got := c.WaitForPrefix(ctx, "nothing", "echo t"); got != "echo two" {
			t.Errorf("WaitForPrefix: got %q, want %q", got, "echo two")
		}
		c.Finish(ctx)
		out := c.Output()
		for _, want := range []string{"echoer stdout:\nready\necho one\necho two\n", "echoer stderr:\nbye on stderr\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("Output: got %q, want %q in it", out, want)
			}
		}
		if _, ok := c.Next(ctx); ok {
			t.Error("Next after Finish: got a line, want the end")
		}
	})

	t.Run("output keeps the last lines", func(t *testing.T) {
		ctx := testdir.Context(t)
		c := Start(t, "chatty", childConfig{Role: "chatty"})
		c.WaitFor(ctx, "ready")
		out := c.Output()
		want := fmt.Sprintf("[%d lines skipped]\nline %d\n", keepLines+1, keepLines+1)
		if !strings.Contains(out, want) || strings.Contains(out, fmt.Sprintf("line %d\n", keepLines)) {
			t.Errorf("Output: got %q, want it to start with %q", out, want)
		}
		if n := strings.Count(out, "\n"); n != keepLines+3 {
			t.Errorf("Output: got %d lines, want %d", n, keepLines+3)
		}
	})

	t.Run("config and env", func(t *testing.T) {
		ctx := testdir.Context(t)
		cmd := Command(t, childConfig{Role: "env", Env: "TESTPROC_VALUE"})
		cmd.Env = append(cmd.Env, "TESTPROC_VALUE=héllo world")
		c := StartCmd(t, "env", cmd)
		if got := c.WaitForPrefix(ctx, "env "); got != "env héllo world" {
			t.Errorf("got %q, want %q", got, "env héllo world")
		}
		c.Finish(ctx)
	})

	t.Run("exit code", func(t *testing.T) {
		ctx := testdir.Context(t)
		c := Start(t, "exiter", childConfig{Role: "exit", Code: 3})
		err := c.Wait(ctx)
		if got := ExitCode(err); got != 3 {
			t.Errorf("ExitCode(%v): got %d, want 3", err, got)
		}
		c.killed = true // the failed exit is the point: stop must not report it
		if got := ExitCode(nil); got != 0 {
			t.Errorf("ExitCode(nil): got %d, want 0", got)
		}
	})

	t.Run("kill", func(t *testing.T) {
		ctx := testdir.Context(t)
		c := Start(t, "victim", childConfig{Role: "echo"})
		c.WaitFor(ctx, "ready")
		c.Kill()
		err := c.Wait(ctx)
		if err == nil {
			t.Fatal("Wait after Kill: got nil, want a failed exit")
		}
		if strings.Contains(c.Output(), "bye") {
			t.Errorf("killed child finished its role: %s", c.Output())
		}
	})

	t.Run("wait fails", func(t *testing.T) {
		ctx := testdir.Context(t)
		f := &fatalTB{TB: t}
		c := Start(f, "failer", childConfig{Role: "fail"})
		c.WaitFor(ctx, "ready")
		msg := f.fatal(func() { c.WaitFor(ctx, "never said") })
		if !strings.Contains(msg, "failer: "+ErrorPrefix+": broken on purpose") {
			t.Errorf("WaitFor of a child that fails: got %q, want the child's error line", msg)
		}
		msg = f.fatal(func() { c.WaitForPrefix(ctx, "never") })
		if !strings.Contains(msg, "failer ended") {
			t.Errorf("WaitForPrefix of a child that ended: got %q, want it to say the child ended", msg)
		}
		c.killed = true // it failed on purpose

		c = Start(f, "silent", childConfig{Role: "echo"})
		c.WaitFor(ctx, "ready")
		done, cancel := context.WithCancel(ctx)
		cancel()
		if msg := f.fatal(func() { c.Next(done) }); !strings.Contains(msg, "silent: no line within the deadline") {
			t.Errorf("Next with a done context: got %q, want it to fail", msg)
		}
	})

	t.Run("stop", func(t *testing.T) {
		var c *Child
		t.Run("sub", func(t *testing.T) {
			c = Start(t, "left", childConfig{Role: "echo"})
			c.WaitFor(testdir.Context(t), "ready")
		})
		// The subtest has ended: its child has been told to finish and reaped.
		select {
		case <-c.exited:
		default:
			t.Fatal("child still running after its test ended")
		}
		if c.waitErr != nil || c.killed {
			t.Errorf("child stopped at the end of its test: got %v, killed %v, want a clean exit", c.waitErr, c.killed)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		ctx := testdir.Context(t)
		c := Start(t, "interrupted", childConfig{Role: "interrupt"})
		c.WaitFor(ctx, "ready")
		c.Interrupt()
		if runtime.GOOS == "windows" {
			if err := c.Wait(ctx); err == nil {
				t.Error("Wait after Interrupt on Windows: got nil, want the exit of a killed process")
			}
			return
		}
		c.WaitFor(ctx, "interrupted")
		if err := c.Wait(ctx); err != nil {
			t.Errorf("Wait after Interrupt: got %v, want nil", err)
		}
	})

	t.Run("interrupt on stop", func(t *testing.T) {
		var c *Child
		t.Run("sub", func(t *testing.T) {
			c = Start(t, "deaf", childConfig{Role: "interrupt"})
			c.InterruptOnStop()
			c.WaitFor(testdir.Context(t), "ready")
		})
		select {
		case <-c.exited:
		default:
			t.Fatal("child still running after its test ended")
		}
		if runtime.GOOS != "windows" && (c.waitErr != nil || c.killed || !strings.Contains(c.Output(), "interrupted")) {
			t.Errorf("child interrupted at the end of its test: got %v, killed %v, want a clean exit after an interrupt\n%s", c.waitErr, c.killed, c.Output())
		}
	})
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&b, "%d", i) })
	}
	wg.Wait()
	got := b.String()
	if len(got) != 4 {
		t.Fatalf("Buffer after 4 writes: got %q, want 4 bytes", got)
	}
	for _, d := range "0123" {
		if !strings.ContainsRune(got, d) {
			t.Errorf("Buffer: got %q, want %q in it", got, d)
		}
	}
}

func TestTopLevel(t *testing.T) {
	t.Run("sub/deeper", func(t *testing.T) {
		if got := topLevel(t); got != "TestTopLevel" {
			t.Errorf("topLevel: got %q, want TestTopLevel", got)
		}
		if got := envName(t); got != envPrefix+"TestTopLevel" {
			t.Errorf("envName: got %q, want %q", got, envPrefix+"TestTopLevel")
		}
	})
	var cfg childConfig
	if IsChild(t, &cfg) {
		t.Fatal("IsChild in the parent: got true, want false")
	}
	t.Setenv(envName(t), `{"Role":"x","Code":7}`)
	if !IsChild(t, &cfg) || cfg != (childConfig{Role: "x", Code: 7}) {
		t.Errorf("IsChild with the variable set: got %+v, want {x 7}", cfg)
	}
}
