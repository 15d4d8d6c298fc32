package lock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
)

// The multi-process tests re-execute the test binary. The child runs the same test function,
// which finds its configuration in an environment variable named after the test and plays the
// holder (runHolder) instead of the test.

// holderConfig tells a child process which lock to hold.
type holderConfig struct {
	Dir     string
	Mode    Mode
	Program string
	Meta    map[string]string
}

// Lines the child writes to stdout, and reads from stdin.
const (
	readyLine    = "holder ready"
	releaseLine  = "release"
	releasedLine = "holder released"
)

// runHolder plays the child's role if this process is a child of the test t: it acquires the
// configured lock, says readyLine, holds the lock until stdin delivers a line or ends, releases
// it and says releasedLine. It reports whether it played the child.
func runHolder(t *testing.T) bool {
	env, ok := os.LookupEnv(t.Name())
	if !ok {
		return false
	}
	var cfg holderConfig
	if err := json.Unmarshal([]byte(env), &cfg); err != nil {
		t.Fatalf("child config %q: %v", env, err)
	}
	l, err := Acquire(t.Context(), cfg.Dir, Options{Mode: cfg.Mode, Program: cfg.Program, Meta: cfg.Meta})
	if err != nil {
		t.Fatalf("child Acquire: %v", err)
	}
	fmt.Println(readyLine)
	bufio.NewReader(os.Stdin).ReadString('\n') // a line or EOF: either means release
	if err := l.Release(); err != nil {
		t.Fatalf("child Release: %v", err)
	}
	fmt.Println(releasedLine)
	return true
}

// holder is a child process holding a lock.
type holder struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // the child's stdout, closed when it ends
	stderr bytes.Buffer
	output []string // stdout lines seen so far, for failure messages
	waited bool
}

// startHolder starts a child that holds the lock cfg describes, and waits until it holds it.
// The child is stopped when the test ends.
func startHolder(t *testing.T, cfg holderConfig) *holder {
	t.Helper()
	test, _, _ := strings.Cut(t.Name(), "/")
	env, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{t: t, lines: make(chan string, 16)}
	h.cmd = exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	// The race detector sleeps a second when a process exits, by default; the child has no
	// goroutines left to race with by then.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	h.cmd.Env = append(os.Environ(), test+"="+string(env), "GORACE="+gorace)
	h.cmd.Stderr = &h.stderr
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	t.Cleanup(h.stop)
	h.waitFor(readyLine)
	return h
}

// pid returns the child's process id.
func (h *holder) pid() int { return h.cmd.Process.Pid }

// waitFor reads the child's stdout until the line want, failing the test if the child ends
// first.
func (h *holder) waitFor(want string) {
	h.t.Helper()
	wait := signalDeadline(h.t)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-h.lines:
			if !ok {
				err := h.wait()
				h.t.Fatalf("child ended (%v) before %q; stdout:\n%s\nstderr:\n%s", err, want, strings.Join(h.output, "\n"), h.stderr.String())
			}
			if line == want {
				return
			}
			h.output = append(h.output, line)
		case <-timer.C:
			h.t.Fatalf("no %q from child within %v", want, wait)
		}
	}
}

// release tells the child to release its lock and waits until it has.
func (h *holder) release() {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, releaseLine+"\n"); err != nil {
		h.t.Fatal(err)
	}
	h.waitFor(releasedLine)
}

// kill kills the child without letting it release its lock, and waits until it is gone.
func (h *holder) kill() {
	h.t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		h.t.Fatal(err)
	}
	for range h.lines {
	}
	h.wait()
}

// wait reaps the child once its stdout is drained.
func (h *holder) wait() error {
	if h.waited {
		return nil
	}
	h.waited = true
	return h.cmd.Wait()
}

// stop ends the child: closing stdin makes it release and exit; one that does not is killed.
func (h *holder) stop() {
	h.stdin.Close()
	timer := time.NewTimer(signalDeadline(h.t))
	defer timer.Stop()
	for done := false; !done; {
		select {
		case _, ok := <-h.lines:
			done = !ok
		case <-timer.C:
			h.cmd.Process.Kill()
		}
	}
	if err := h.wait(); err != nil && !h.t.Failed() {
		h.t.Errorf("child: %v; stderr:\n%s", err, h.stderr.String())
	}
}

func TestAcrossProcesses(t *testing.T) {
	if runHolder(t) {
		return
	}
	if !Supported {
		t.Skip("no inter-process locks on this platform")
	}
	tests := []struct {
		child, parent Mode
		wantLocked    bool
	}{
		{Exclusive, Exclusive, true},
		{Exclusive, Shared, true},
		{Shared, Exclusive, true},
		{Shared, Shared, false},
	}
	for _, tt := range tests {
		t.Run(tt.child.String()+"/"+tt.parent.String(), func(t *testing.T) {
			dir := testdir.New(t)
			meta := map[string]string{"addr": "127.0.0.1:7070", "note": "héllo \"world\""}
			h := startHolder(t, holderConfig{Dir: dir, Mode: tt.child, Program: "holder/1.0", Meta: meta})

			// The record is visible without locking while the child holds the lock.
			rec := mustReadOwner(t, dir)
			if tt.child == Exclusive {
				host, _ := os.Hostname()
				if rec.PID != h.pid() || rec.Program != "holder/1.0" || rec.Host != host || rec.StartedAt.IsZero() || !maps.Equal(rec.Meta, meta) {
					t.Errorf("ReadOwner: got %+v, want pid %d, program holder/1.0, host %q, meta %v", rec, h.pid(), host, meta)
				}
			} else if !rec.IsZero() {
				t.Errorf("ReadOwner of shared holder: got %+v, want zero", rec)
			}

			l, err := Acquire(t.Context(), dir, Options{Mode: tt.parent})
			if !tt.wantLocked {
				if err != nil {
					t.Fatalf("Acquire: got %v, want nil", err)
				}
				mustRelease(t, l)
			} else {
				le := wantLocked(t, err, dir, tt.parent)
				if tt.child == Exclusive {
					if !sameOwner(le.Owner, rec) {
						t.Errorf("LockedError.Owner: got %+v, want %+v", le.Owner, rec)
					}
					for _, want := range []string{dir, "pid " + strconv.Itoa(h.pid()), "holder/1.0"} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q: want it to contain %q", err, want)
						}
					}
				} else {
					if !le.HeldShared || !le.Owner.IsZero() {
						t.Errorf("LockedError{HeldShared, Owner}: got {%v, %+v}, want {true, zero}", le.HeldShared, le.Owner)
					}
					if !strings.Contains(err.Error(), "shared holders") {
						t.Errorf("error %q: want it to contain %q", err, "shared holders")
					}
				}
			}

			h.release()
			if got := mustReadOwner(t, dir); !got.IsZero() {
				t.Errorf("ReadOwner after child released: got %+v, want zero", got)
			}
			l = mustAcquire(t, dir, Options{})
			if got := mustReadOwner(t, dir); got.PID != os.Getpid() {
				t.Errorf("ReadOwner after Acquire: got pid %d, want %d", got.PID, os.Getpid())
			}
			mustRelease(t, l)
		})
	}
}

func TestWait(t *testing.T) {
	if runHolder(t) {
		return
	}
	if !Supported {
		t.Skip("no inter-process locks on this platform")
	}
	t.Run("released", func(t *testing.T) {
		dir := testdir.New(t)
		h := startHolder(t, holderConfig{Dir: dir, Program: "holder/1.0"})
		waiting := hookWait(t)
		done := make(chan error, 1)
		var l *Lock
		go func() {
			var err error
			l, err = Acquire(t.Context(), dir, Options{Wait: 10 * time.Minute})
			done <- err
		}()
		waitSignal(t, waiting, "Acquire waiting")
		h.release()
		if err := waitResult(t, done); err != nil {
			t.Fatalf("Acquire with Wait: got %v, want nil", err)
		}
		if got := mustReadOwner(t, dir); got.PID != os.Getpid() {
			t.Errorf("ReadOwner: got pid %d, want %d", got.PID, os.Getpid())
		}
		mustRelease(t, l)
	})
	t.Run("elapsed", func(t *testing.T) {
		dir := testdir.New(t)
		h := startHolder(t, holderConfig{Dir: dir, Program: "holder/1.0"})
		_, err := Acquire(t.Context(), dir, Options{Wait: 20 * time.Millisecond})
		if le := wantLocked(t, err, dir, Exclusive); le.Owner.PID != h.pid() {
			t.Errorf("LockedError.Owner.PID: got %d, want %d", le.Owner.PID, h.pid())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		dir := testdir.New(t)
		h := startHolder(t, holderConfig{Dir: dir, Program: "holder/1.0"})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// Cancel once Acquire waits; the hour-long Wait leaves only the context to end it.
		testHookWait = cancel
		t.Cleanup(func() { testHookWait = nil })
		_, err := Acquire(ctx, dir, Options{Wait: time.Hour})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled): got false, want true", err)
		}
		if le := wantLocked(t, err, dir, Exclusive); le.Owner.PID != h.pid() {
			t.Errorf("LockedError.Owner.PID: got %d, want %d", le.Owner.PID, h.pid())
		}
	})
	t.Run("deadline", func(t *testing.T) {
		dir := testdir.New(t)
		startHolder(t, holderConfig{Dir: dir, Program: "holder/1.0"})
		// The premise is a deadline that passes while Acquire waits. On a busy machine 20 ms
		// may pass before Acquire first looks at the lock: then it must fail with the
		// deadline alone (it has not seen the lock held), and the test tries again with ten
		// times the time, until Acquire has waited.
		for timeout := 20 * time.Millisecond; ; timeout *= 10 {
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			_, err := Acquire(ctx, dir, Options{Wait: time.Hour})
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Acquire with a %v deadline: got %v, want context.DeadlineExceeded", timeout, err)
			}
			if errors.Is(err, ErrLocked) {
				break // it waited, saw the lock held, and says both
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Err != context.DeadlineExceeded {
				t.Fatalf("Acquire with a %v deadline: got %v, want ErrLocked, or a *fs.PathError holding context.DeadlineExceeded alone", timeout, err)
			}
			if timeout > signalDeadline(t) {
				t.Fatalf("Acquire with a %v deadline: got %v before it ever looked at the lock", timeout, err)
			}
			t.Logf("the %v deadline passed before Acquire looked at the lock; trying a longer one", timeout)
		}
	})
}

func TestKilledHolder(t *testing.T) {
	if runHolder(t) {
		return
	}
	if !Supported {
		t.Skip("no inter-process locks on this platform")
	}
	// The child holds the lock in mode; once it is killed, an exclusive Acquire (which any
	// holder, shared or not, keeps out) must get the lock.
	for _, mode := range []Mode{Exclusive, Shared} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := testdir.New(t)
			h := startHolder(t, holderConfig{Dir: dir, Mode: mode, Program: "victim/1.0"})
			// A shared holder writes no record; an exclusive one does.
			want := 0
			if mode == Exclusive {
				want = h.pid()
			}
			if got := mustReadOwner(t, dir); got.PID != want {
				t.Fatalf("ReadOwner: got pid %d, want %d", got.PID, want)
			}
			// The child holds the lock in the mode asked: an exclusive Acquire is refused,
			// and told whether shared holders refused it.
			_, err := Acquire(t.Context(), dir, Options{})
			if le := wantLocked(t, err, dir, Exclusive); le.HeldShared != (mode == Shared) {
				t.Fatalf("LockedError.HeldShared while a %v holder lives: got %v, want %v", mode, le.HeldShared, mode == Shared)
			}
			// SIGKILL or TerminateProcess: the child cannot release or clear its record, but
			// the system drops its lock when the process dies.
			h.kill()
			if got := mustReadOwner(t, dir); got.PID != want {
				t.Errorf("ReadOwner after kill: got pid %d, want %d (stale for an exclusive holder, none for a shared one)", got.PID, want)
			}

			// Windows drops the locks of a dead process "after a time that depends upon
			// available system resources" (LockFileEx docs), so wait for it; flock and fcntl
			// locks are gone when kill returns.
			l := mustAcquire(t, dir, Options{Program: "survivor/1.0", Wait: signalDeadline(t)})
			if got := mustReadOwner(t, dir); !sameOwner(got, l.Owner()) {
				t.Errorf("ReadOwner after Acquire: got %+v, want %+v", got, l.Owner())
			}
		})
	}
}
