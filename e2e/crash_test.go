package e2e_test

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// crashConfig configures a child of TestCrashReleasesLock: exactly one of
// its roles is set.
type crashConfig struct {
	Owner  *ownerConfig
	Waiter *waiterConfig
}

// waiterConfig configures the waiter child: a process that finds a
// workspace owned by another and waits for it.
type waiterConfig struct {
	Dir  string
	Wait time.Duration
}

// runWaiter plays the waiter child. It opens cfg.Dir once without waiting,
// which must fail with a *lock.LockedError, and says "held <pid>", naming
// the owner; then it opens the workspace again with Options.LockWait
// cfg.Wait, and once it has it says "locked <messages>", with the number of
// messages it finds. It holds the workspace until stdin ends.
func runWaiter(t *testing.T, cfg waiterConfig) {
	ctx := t.Context()
	p := testproc.NewParent()
	if err := ncruces.Initialize(nil); err != nil {
		p.Fail(t, "initialize: %v", err)
	}
	opts := &workspace.Options{Program: "e2e-waiter", Migrations: migrations.Builtin}
	ws, err := workspace.Open(ctx, cfg.Dir, opts)
	var le *lock.LockedError
	if !errors.As(err, &le) {
		if ws != nil {
			ws.Close()
		}
		p.Fail(t, "open without waiting: got %v, want a *lock.LockedError", err)
	}
	p.Say("held %d", le.Owner.PID)

	opts.LockWait = cfg.Wait
	if ws, err = workspace.Open(ctx, cfg.Dir, opts); err != nil {
		p.Fail(t, "open waiting %v: %v", cfg.Wait, err)
	}
	var n int
	if err := ws.ReadDB().QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		p.Fail(t, "count: %v", err)
	}
	p.Say("locked %d", n)
	for {
		if _, ok := p.Next(); !ok {
			break
		}
	}
	if err := ws.Close(); err != nil {
		p.Fail(t, "close: %v", err)
	}
}

// TestCrashReleasesLock kills the owner of a workspace with SIGKILL while a
// waiter, started before the kill with a wait of a minute, waits for it:
// the waiter gets the workspace once the owner is dead, finds what the owner
// committed, and after the waiter is done a new owner opens the workspace
// without waiting. The waiter is a process using the library
// (Options.LockWait) in one subtest and "litedir lock -wait 60s" in the
// other. Nothing here is timed: the kernel, not a timeout, frees the lock.
// A soak run does 10 rounds.
func TestCrashReleasesLock(t *testing.T) {
	var cfg crashConfig
	if testproc.IsChild(t, &cfg) {
		switch {
		case cfg.Owner != nil:
			runOwner(t, *cfg.Owner)
		case cfg.Waiter != nil:
			runWaiter(t, *cfg.Waiter)
		default:
			t.Fatalf("child without a role: %+v", cfg)
		}
		return
	}
	needLocks(t)
	const rows = 10
	for round := range scaled(1) {
		t.Run(fmt.Sprintf("library%d", round), func(t *testing.T) {
			ctx := testdir.Context(t)
			dir := t.TempDir()
			owner := testproc.Start(t, "owner", crashConfig{Owner: &ownerConfig{Dir: dir, Program: "e2e-owner", Rows: rows}})
			owner.WaitFor(ctx, readyLine)
			waiter := testproc.Start(t, "waiter", crashConfig{Waiter: &waiterConfig{Dir: dir, Wait: time.Minute}})
			// The waiter found the owner in place: it waits from here on.
			if line := waiter.WaitForPrefix(ctx, "held "); line != fmt.Sprintf("held %d", owner.Pid()) {
				t.Fatalf("waiter: got %q, want %q (the owner's pid)", line, fmt.Sprintf("held %d", owner.Pid()))
			}

			killOwner(t, owner)
			if line := waiter.WaitForPrefix(ctx, "locked "); line != fmt.Sprintf("locked %d", rows) {
				t.Errorf("waiter: got %q, want %q", line, fmt.Sprintf("locked %d", rows))
			}
			waiter.Finish(ctx)
			mustReopenAfterCrash(t, dir, rows)
		})
		t.Run(fmt.Sprintf("cli%d", round), func(t *testing.T) {
			ctx := testdir.Context(t)
			dir := t.TempDir()
			owner := testproc.Start(t, "owner", crashConfig{Owner: &ownerConfig{Dir: dir, Program: "e2e-owner", Rows: rows}})
			owner.WaitFor(ctx, readyLine)
			waiter := startLitedir(t, "litedir lock -wait", "lock", "-wait", "60s", "-program", "e2e-cli-waiter", dir)
			// Without -wait, the command is refused at once, naming the
			// owner. (The waiter has no line for "waiting": it may be
			// polling already, or start after the kill; either way it was
			// started before it.)
			r := litedir(t, ctx, "lock", dir)
			if want := fmt.Sprintf("pid %d", owner.Pid()); r.code != 3 || !strings.Contains(r.stderr, want) {
				t.Errorf("lock without -wait: got exit status %d, stderr %q; want 3 and %q in it", r.code, r.stderr, want)
			}

			killOwner(t, owner)
			line := waiter.WaitForPrefix(ctx, "locked ")
			m := lockedLine.FindStringSubmatch(line)
			if m == nil || m[2] != strconv.Itoa(waiter.Pid()) {
				t.Errorf("waiter: got %q, want \"locked %s (pid %d)\"", line, dir, waiter.Pid())
			}
			holder, err := lock.ReadOwner(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if holder.PID != waiter.Pid() || holder.Program != "e2e-cli-waiter" {
				t.Errorf("owner record: got %v, want pid %d (e2e-cli-waiter)", holder, waiter.Pid())
			}
			// Windows has no interrupt to send: the waiter is killed there.
			waiter.Interrupt()
			if runtime.GOOS != "windows" {
				waiter.WaitForPrefix(ctx, "released ")
			}
			if err := waiter.Wait(ctx); err != nil && runtime.GOOS != "windows" {
				t.Errorf("waiter: got %v, want exit status 0 after an interrupt\n%s", err, waiter.Output())
			}
			mustReopenAfterCrash(t, dir, rows)
		})
	}
}

// killOwner kills the owner child and reaps it, which must show it killed.
func killOwner(t *testing.T, owner *testproc.Child) {
	t.Helper()
	owner.Kill()
	if err := owner.Wait(testdir.Context(t)); err == nil {
		t.Fatalf("owner exited cleanly before it was killed\n%s", owner.Output())
	}
}

// mustReopenAfterCrash opens the workspace in dir without waiting, which
// must succeed, and checks that it holds the rows messages the killed owner
// committed and is sound.
func mustReopenAfterCrash(t *testing.T, dir string, rows int) {
	t.Helper()
	ctx := testdir.Context(t)
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		t.Fatalf("new owner: Open: %v", err)
	}
	defer func() {
		if err := ws.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if got := count(t, ctx, ws, `SELECT count(*) FROM messages`); got != rows {
		t.Errorf("messages: got %d, want %d", got, rows)
	}
	mustCheck(t, ctx, ws)
}
