package lock

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
)

// The multi-process tests re-execute the test binary (internal/testproc). The child runs the
// same test function, which finds its holderConfig in the environment and plays the holder
// (runHolder) instead of the test.

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
	var cfg holderConfig
	if !testproc.IsChild(t, &cfg) {
		return false
	}
	l, err := acquire(t.Context(), cfg.Dir, Options{Mode: cfg.Mode, Program: cfg.Program, Meta: cfg.Meta})
	if err != nil {
		t.Fatalf("child Acquire: %v", err)
	}
	p := testproc.NewParent()
	p.Say(readyLine)
	p.Next() // a line or EOF: either means release
	if err := l.Release(); err != nil {
		t.Fatalf("child Release: %v", err)
	}
	p.Say(releasedLine)
	return true
}

// startHolder starts a child that holds the lock cfg describes, and waits until it holds it.
// The child is stopped when the test ends.
func startHolder(t *testing.T, cfg holderConfig) *testproc.Child {
	t.Helper()
	h := testproc.Start(t, "holder", cfg)
	h.WaitFor(testdir.Context(t), readyLine)
	return h
}

// release tells the holder h to release its lock and waits until it has.
func release(t *testing.T, h *testproc.Child) {
	t.Helper()
	h.Send(releaseLine)
	h.WaitFor(testdir.Context(t), releasedLine)
}

func TestAcrossProcesses(t *testing.T) {
	if runHolder(t) {
		return
	}
	if !Supported {
		t.Skip("no inter-process locks on this platform")
	}
	for _, tt := range modePairs {
		t.Run(tt.first.String()+"/"+tt.second.String(), func(t *testing.T) {
			child, parent := tt.first, tt.second
			dir := testdir.New(t)
			meta := map[string]string{"addr": "127.0.0.1:7070", "note": "héllo \"world\""}
			h := startHolder(t, holderConfig{Dir: dir, Mode: child, Program: "holder/1.0", Meta: meta})

			// The record is visible without locking while the child holds the lock.
			rec := mustReadOwner(t, dir)
			if child == Exclusive {
				host, _ := os.Hostname()
				if rec.PID != h.Pid() || rec.Program != "holder/1.0" || rec.Host != host || rec.StartedAt.IsZero() || !maps.Equal(rec.Meta, meta) {
					t.Errorf("ReadOwner: got %+v, want pid %d, program holder/1.0, host %q, meta %v", rec, h.Pid(), host, meta)
				}
			} else if !rec.IsZero() {
				t.Errorf("ReadOwner of shared holder: got %+v, want zero", rec)
			}

			l, err := acquire(t.Context(), dir, Options{Mode: parent})
			if !tt.wantLocked {
				if err != nil {
					t.Fatalf("Acquire: got %v, want nil", err)
				}
				mustRelease(t, l)
			} else {
				le := wantLocked(t, err, dir, parent)
				if child == Exclusive {
					if !sameOwner(le.Owner, rec) {
						t.Errorf("LockedError.Owner: got %+v, want %+v", le.Owner, rec)
					}
					for _, want := range []string{dir, "pid " + strconv.Itoa(h.Pid()), "holder/1.0"} {
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

			release(t, h)
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
			l, err = acquire(t.Context(), dir, Options{Wait: 10 * time.Minute})
			done <- err
		}()
		waitSignal(t, waiting, "Acquire waiting")
		release(t, h)
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
		_, err := acquire(t.Context(), dir, Options{Wait: 20 * time.Millisecond})
		if le := wantLocked(t, err, dir, Exclusive); le.Owner.PID != h.Pid() {
			t.Errorf("LockedError.Owner.PID: got %d, want %d", le.Owner.PID, h.Pid())
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
		_, err := acquire(ctx, dir, Options{Wait: time.Hour})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(%v, context.Canceled): got false, want true", err)
		}
		if le := wantLocked(t, err, dir, Exclusive); le.Owner.PID != h.Pid() {
			t.Errorf("LockedError.Owner.PID: got %d, want %d", le.Owner.PID, h.Pid())
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
			_, err := acquire(ctx, dir, Options{Wait: time.Hour})
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
				want = h.Pid()
			}
			if got := mustReadOwner(t, dir); got.PID != want {
				t.Fatalf("ReadOwner: got pid %d, want %d", got.PID, want)
			}
			// The child holds the lock in the mode asked: an exclusive Acquire is refused,
			// and told whether shared holders refused it.
			_, err := acquire(t.Context(), dir, Options{})
			if le := wantLocked(t, err, dir, Exclusive); le.HeldShared != (mode == Shared) {
				t.Fatalf("LockedError.HeldShared while a %v holder lives: got %v, want %v", mode, le.HeldShared, mode == Shared)
			}
			// SIGKILL or TerminateProcess: the child cannot release or clear its record, but
			// the system drops its lock when the process dies.
			h.Kill()
			h.Wait(testdir.Context(t))
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
