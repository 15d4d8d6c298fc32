package e2e_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testfuse"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestFUSEWithoutLocks runs writer processes on FUSE filesystems that refuse locks (a
// go-fuse loopback, internal/testfuse, served by this test process) and shows the fallback:
//
//   - record locks refused, flock taken (as NFS with local_lock=flock and no lock manager):
//     SQLite's locks fail even in EXCLUSIVE locking mode, and the writer runs with nolock=1
//     and a rollback journal under the directory lock, which still keeps a second process
//     out; 16 FULL writers are killed and nothing acknowledged is lost;
//   - every lock refused: an Open is refused, naming the filesystem, unless it accepts an
//     in-process lock, which its owner record then shows to every other process.
func TestFUSEWithoutLocks(t *testing.T) {
	var cfg writerConfig
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	if !ncruces.Platform().FileLocking {
		t.Skip("the platform has no SQLite locks to fall back from")
	}

	t.Run("record locks refused", func(t *testing.T) {
		ctx := testdir.Context(t)
		mnt, _ := testfuse.Mount(t, testfuse.RefuseRecordLocks)
		dir := filepath.Join(mnt, "ws")
		c := testproc.Start(t, "writer", writerConfig{Dir: dir, Writers: 16, Pragmas: []ncruces.Pragma{{Name: "synchronous", Value: "FULL"}}})
		if line, _ := c.Next(ctx); line != "synchronous 2" {
			t.Fatalf("got %q, want %q\n%s", line, "synchronous 2", c.Output())
		}
		c.WaitFor(ctx, readyLine)
		// flock works there: the directory lock keeps this process out.
		mustLockedBy(t, mustNotOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin}), c.Pid())
		acked := killAfterAcks(t, ctx, c, 300)

		ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
		st, err := ws.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p := st.Profile; !p.NoLock || st.JournalMode != "delete" || !strings.Contains(strings.Join(p.Notes, "\n"), "refuses SQLite's locks") {
			t.Errorf("Status: profile %+v, journal mode %q; want nolock, a rollback journal and a note on the fallback", p, st.JournalMode)
		}
		stored := mustHaveAcked(t, ctx, ws, acked)
		t.Logf("%d messages acknowledged, %d committed", len(acked), len(stored))
	})

	t.Run("all locks refused", func(t *testing.T) {
		ctx := testdir.Context(t)
		mnt, _ := testfuse.Mount(t, testfuse.RefuseAll)
		dir := filepath.Join(mnt, "ws")
		// Refused outright: the error names the filesystem and the option.
		_, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
		if !errors.Is(err, workspace.ErrFilesystem) || !errors.Is(err, lock.ErrUnsupported) || !strings.Contains(err.Error(), "fuse."+testfuse.Name) {
			t.Fatalf("Open: got %v, want ErrFilesystem and lock.ErrUnsupported naming the filesystem", err)
		}
		// Accepted by a writer: another process reads in its owner record that its lock is
		// its own process's only, and is itself still refused.
		c := testproc.Start(t, "writer", writerConfig{Dir: dir, Writers: 4, InProcessLock: true})
		c.Next(ctx)
		c.WaitFor(ctx, readyLine)
		o, err := lock.ReadOwner(dir, "")
		if err != nil || o.PID != c.Pid() || !o.InProcess {
			t.Errorf("ReadOwner: got %+v, %v, want the writer's record, in-process", o, err)
		}
		if _, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin}); !errors.Is(err, workspace.ErrFilesystem) {
			t.Errorf("Open beside the in-process owner: got %v, want ErrFilesystem", err)
		}
		acked := killAfterAcks(t, ctx, c, 100)
		ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin, InProcessLock: true})
		st, err := ws.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.LockInProcess || !st.Profile.NoLock {
			t.Errorf("Status: LockInProcess %v, profile %+v; want an in-process lock and nolock", st.LockInProcess, st.Profile)
		}
		mustHaveAcked(t, ctx, ws, acked)
	})
}
