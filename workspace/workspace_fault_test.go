package workspace_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/litedir/litedir/internal/fault"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// diskFault fails one operation on one file, through the litedir VFS
// (internal/fault), while it is on.
type diskFault struct {
	on   atomic.Bool
	hits atomic.Int64
}

// mustFault makes op on the file path fail with errno while the returned
// fault is on (it starts off), until the test ends.
func mustFault(t *testing.T, path string, op fault.Op, errno error) *diskFault {
	t.Helper()
	want, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(path)
	d := &diskFault{}
	t.Cleanup(fault.Set(func(o fault.Op, p string, _ int64) error {
		if o != op || !d.on.Load() || filepath.Base(p) != base {
			return nil
		}
		if fi, err := os.Stat(filepath.Dir(p)); err != nil || !os.SameFile(fi, want) {
			return nil
		}
		d.hits.Add(1)
		return &fs.PathError{Op: string(o), Path: p, Err: errno}
	}))
	return d
}

// TestCheckpointIOErrorStopsWrites checks fail-stop after a checkpoint: once
// a checkpoint's write to the database file fails with an I/O error, the
// page cache cannot be trusted, and every later Write and front statement
// fails with ErrFailStop until the workspace is reopened.
func TestCheckpointIOErrorStopsWrites(t *testing.T) {
	if ncruces.Platform().JournalMode != "wal" {
		t.Skip("no WAL on this platform: no checkpoints")
	}
	dir := testdir.New(t)
	opts := &workspace.Options{
		Migrations: schema(1),
		// A PASSIVE checkpoint after every commit.
		Pragmas: []ncruces.Pragma{{Name: "wal_autocheckpoint", Value: "1"}},
	}
	ws, err := workspace.Open(testdir.Context(t), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx := testdir.Context(t)
	if err := ws.Write(ctx, insertNote("before")); err != nil {
		t.Fatal(err)
	}
	db := mustFault(t, ws.Path(), fault.Write, syscall.EIO)
	db.on.Store(true)
	// This Write commits; the checkpoint after its commit fails.
	ws.Write(ctx, insertNote("trigger"))
	if db.hits.Load() == 0 {
		t.Fatalf("no checkpoint wrote %s after a commit with wal_autocheckpoint=1", ws.Path())
	}
	for i := range 2 {
		err := ws.Write(ctx, insertNote(fmt.Sprint("after ", i)))
		if !errors.Is(err, workspace.ErrFailStop) || !errors.Is(err, ncruces.ErrIO) {
			t.Errorf("Write after a failed checkpoint: got %v, want ErrFailStop wrapping the I/O error", err)
		}
		if _, err := ws.SQL().ExecContext(ctx, "INSERT INTO notes(body) VALUES ('front')"); !errors.Is(err, workspace.ErrFailStop) {
			t.Errorf("front Exec after a failed checkpoint: got %v, want ErrFailStop", err)
		}
	}
	db.on.Store(false)
	ws.Close()

	ws2 := mustOpen(t, dir, opts)
	if err := ws2.Write(ctx, insertNote("reopened")); err != nil {
		t.Errorf("Write after reopening: %v", err)
	}
	if n := count(t, ws2, "SELECT count(*) FROM notes WHERE body LIKE 'after%' OR body = 'front'"); n != 0 {
		t.Errorf("writes refused after the failure: %d of them in the database, want 0", n)
	}
	if n := notes(t, ws2, "before"); n != 1 {
		t.Errorf("the write acknowledged before the failure: %d rows, want 1", n)
	}
}

// TestFailedCommitFailsTheBatch checks that when the COMMIT of a batch
// fails (its WAL write fails: an I/O error, a full disk), every caller of
// the batch gets an error matching ErrBatchAborted (and the cause's class),
// none of their rows is in the database, and the workspace goes on once the
// disk works again. No root and no tmpfs: the fault is injected in the
// litedir VFS.
func TestFailedCommitFailsTheBatch(t *testing.T) {
	if ncruces.Platform().JournalMode != "wal" {
		t.Skip("no WAL on this platform: the COMMIT to fail writes it")
	}
	cases := []struct {
		name  string
		errno error
		class error
	}{
		{"EIO", syscall.EIO, ncruces.ErrIO},
		{"ENOSPC", errNoSpace, ncruces.ErrFull},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.errno == nil || (tc.errno == errNoSpace && runtime.GOOS == "windows") {
				t.Skip("no ENOSPC here (a full disk is ERROR_DISK_FULL on Windows)")
			}
			ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
			ctx := testdir.Context(t)
			if err := ws.Write(ctx, insertNote("before")); err != nil {
				t.Fatal(err)
			}
			wal := mustFault(t, workspace.WALPath(ws.Path()), fault.Write, tc.errno)

			// The occupying Write keeps the writer busy while the batch's
			// Writes queue up; they then commit together.
			queued := queueHook(t)
			release, occupied := occupy(t, ws, queued)
			wal.on.Store(true)
			const n = 5
			results := make(chan error, n)
			for i := range n {
				go func() { results <- ws.Write(ctx, insertNote(fmt.Sprint("batch ", i))) }()
				wait(t, queued, fmt.Sprint("Write ", i, " queued"))
			}
			release()
			// The occupying Write wrote nothing: it fails with the
			// batch if the others joined its transaction, and succeeds
			// if its own committed first.
			if err := <-occupied; err != nil && !errors.Is(err, workspace.ErrBatchAborted) {
				t.Errorf("the occupying Write: got %v, want nil or ErrBatchAborted", err)
			}
			for range n {
				err := <-results
				if !errors.Is(err, workspace.ErrBatchAborted) || !errors.Is(err, tc.class) {
					t.Errorf("a Write whose COMMIT failed: got %v, want ErrBatchAborted and %v", err, tc.class)
				}
			}
			if wal.hits.Load() == 0 {
				t.Fatal("no COMMIT wrote the WAL")
			}

			wal.on.Store(false)
			if got := count(t, ws, "SELECT count(*) FROM notes WHERE body LIKE 'batch %'"); got != 0 {
				t.Errorf("rows of the failed batch in the database: %d, want 0", got)
			}
			if err := ws.Write(ctx, insertNote("after")); err != nil {
				t.Errorf("Write once the disk works again: %v", err)
			}
			if got := notes(t, ws, "before") + notes(t, ws, "after"); got != 2 {
				t.Errorf("acknowledged rows: got %d, want 2", got)
			}
		})
	}
}
