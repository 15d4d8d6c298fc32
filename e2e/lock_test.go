package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// TestExclusiveAcrossProcesses checks that a second process cannot open a
// workspace that another process owns, that the error names the owner, and
// that the kernel frees the workspace when the owner is killed: no clean
// shutdown, only a stale owner record, which the next owner replaces.
func TestExclusiveAcrossProcesses(t *testing.T) {
	if isOwner(t) {
		return
	}
	needLocks(t)
	ctx := testdir.Context(t)
	dir := t.TempDir()
	const program = "e2e-child/1.0"
	meta := map[string]string{"addr": "127.0.0.1:7070", "role": "child"}
	const rows = 10
	c := startOwner(t, ctx, ownerConfig{Dir: dir, Program: program, Meta: meta, Rows: rows})

	err := mustNotOpen(t, ctx, dir, &workspace.Options{Program: "e2e-parent/1.0", Migrations: migrations.Builtin})
	le := mustLockedBy(t, err, c.Pid())
	if le.Owner.Program != program {
		t.Errorf("LockedError.Owner.Program: got %q, want %q", le.Owner.Program, program)
	}
	if !maps.Equal(le.Owner.Meta, meta) {
		t.Errorf("LockedError.Owner.Meta: got %v, want %v", le.Owner.Meta, meta)
	}
	for _, want := range []string{fmt.Sprintf("pid %d", c.Pid()), program} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the owner: want %q in it", err, want)
		}
	}

	c.Kill()
	if err := c.Wait(ctx); err == nil {
		t.Fatalf("owner exited cleanly before it was killed\n%s", c.Output())
	}
	// Killed, the owner had no chance to clear its record: the lock file
	// still names it, and only the lock itself can tell it is gone.
	stale, err := lock.ReadOwner(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if stale.PID != c.Pid() {
		t.Fatalf("owner record after the kill: got pid %d, want the dead owner's %d", stale.PID, c.Pid())
	}

	parentMeta := map[string]string{"role": "parent"}
	ws := mustOpen(t, ctx, dir, &workspace.Options{Program: "e2e-parent/1.0", Meta: parentMeta, Migrations: migrations.Builtin})
	owner, err := lock.ReadOwner(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if owner.PID != os.Getpid() || owner.Program != "e2e-parent/1.0" || !maps.Equal(owner.Meta, parentMeta) {
		t.Errorf("owner record after Open: got %v %v, want pid %d (e2e-parent/1.0) %v", owner, owner.Meta, os.Getpid(), parentMeta)
	}
	st, err := ws.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Locked || st.Owner.PID != os.Getpid() {
		t.Errorf("Status: got Locked %v, Owner.PID %d; want true, %d", st.Locked, st.Owner.PID, os.Getpid())
	}
	// What the owner committed before it died is there.
	if got := count(t, ctx, ws, `SELECT count(*) FROM messages`); got != rows {
		t.Errorf("messages: got %d, want %d", got, rows)
	}
	mustCheck(t, ctx, ws)
}

// TestLockedOpenChangesNothing checks that Opens refused because another
// process owns the workspace leave every byte of it as it was — the owner's
// record in the lock file, its database and its WAL — and that the owner goes
// on working afterwards.
func TestLockedOpenChangesNothing(t *testing.T) {
	if isOwner(t) {
		return
	}
	needLocks(t)
	ctx := testdir.Context(t)
	dir := t.TempDir()
	const rows = 20
	c := startOwner(t, ctx, ownerConfig{Dir: dir, Program: "e2e-child/1.0", Rows: rows})

	// The -shm file is left out: it is shared memory, not content, and a
	// reader may touch it.
	files := []string{lock.DefaultName + ".lock", lock.DefaultName + ".db", lock.DefaultName + ".db-wal"}
	if before := testdir.Snapshot(t, dir, files...); len(before[files[0]]) == 0 {
		t.Fatalf("the owner's lock file holds no record\n%s", c.Output())
	}

	tests := []struct {
		name    string
		opts    *workspace.Options
		timeout time.Duration // for the context of Open; 0 means the test's
	}{
		{"exclusive", nil, 0},
		{"migrations", &workspace.Options{Program: "intruder", Meta: map[string]string{"k": "v"}, Migrations: migrations.Builtin}, 0},
		{"shared", &workspace.Options{Sharing: lock.Shared, Migrations: migrations.Builtin}, 0},
		{"wait", &workspace.Options{LockWait: 100 * time.Millisecond}, 0},
		{"context", &workspace.Options{LockWait: time.Hour}, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testdir.Snapshot(t, dir, files...)
			if tt.timeout > 0 {
				// Acquire gave up because its context ended, not because
				// it found the lock held: the error says both. On a busy
				// machine the deadline may pass before Open reaches the
				// lock at all; then the error must still say the deadline,
				// and the test tries again with ten times the time.
				for timeout := tt.timeout; ; timeout *= 10 {
					openCtx, cancel := context.WithTimeout(ctx, timeout)
					err := mustNotOpen(t, openCtx, dir, tt.opts)
					cancel()
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("Open with a %v deadline: got %v, want an error matching context.DeadlineExceeded", timeout, err)
					}
					if errors.Is(err, lock.ErrLocked) {
						break
					}
					if timeout > time.Until(testdir.Deadline(t)) {
						t.Fatalf("Open with a %v deadline: got %v, never an error matching lock.ErrLocked", timeout, err)
					}
					t.Logf("the %v deadline passed before Open reached the lock (%v); trying a longer one", timeout, err)
				}
			} else {
				err := mustNotOpen(t, ctx, dir, tt.opts)
				mustLockedBy(t, err, c.Pid())
			}
			testdir.SameFiles(t, before, testdir.Snapshot(t, dir, files...))
		})
	}

	// The owner's workspace is intact from its own side, and it can still
	// write.
	c.Send("write 1")
	c.WaitFor(ctx, fmt.Sprintf("wrote %d", rows+1))
	c.Send("check")
	c.WaitFor(ctx, fmt.Sprintf("checked %d", rows+1))
	c.Finish(ctx)
}
