package workspace_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// insertBlobs writes n rows of size bytes through Write.
func insertBlobs(t *testing.T, ws *workspace.Workspace, n, size int) {
	t.Helper()
	for range n {
		if err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
			_, err := q.ExecContext(context.Background(), "INSERT INTO notes(body) VALUES (hex(randomblob(?)))", size/2)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckpointYieldsToHeldReader: a reader that holds one snapshot while
// more than the RESTART bound is written does not make the writers wait for
// it (each RESTART used to wait the whole busy timeout: 10 s); the WAL grows
// meanwhile and shrinks back once the reader lets go.
func TestCheckpointYieldsToHeldReader(t *testing.T) {
	if p := ncruces.Platform(); p.JournalMode != "wal" || p.SingleConnection {
		t.Skip("needs WAL and a read pool")
	}
	// A busy timeout longer than the test's context: a checkpoint that
	// waited for it would fail the test.
	ws := mustOpen(t, testdir.New(t), &workspace.Options{
		Migrations: schema(1),
		Pragmas:    []ncruces.Pragma{{Name: "busy_timeout", Value: "60000"}},
	})
	ctx := testdir.Context(t)
	tx, err := ws.ReadDB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	insertBlobs(t, ws, 5000, 8000) // 40 MB: past the 32 MiB RESTART bound
	st := ws.WriteStats()
	if st.CheckpointsSkipped == 0 {
		t.Errorf("no checkpoint was skipped or given up while the reader held the WAL: %+v", st)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for {
		s, err := ws.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.WALSize <= 64<<20 {
			break
		}
		insertBlobs(t, ws, 10, 8000)
	}
}

// TestExternalCheckpoints: with ExternalCheckpoints, or a wal_autocheckpoint
// of 0 or less (SQLite's own "off"), litedir runs no checkpoint at all, not
// even at Close: the WAL keeps every frame.
func TestExternalCheckpoints(t *testing.T) {
	if p := ncruces.Platform(); p.JournalMode != "wal" {
		t.Skip("needs WAL")
	}
	for name, opts := range map[string]*workspace.Options{
		"option":   {Migrations: schema(1), ExternalCheckpoints: true},
		"pragma":   {Migrations: schema(1), Pragmas: []ncruces.Pragma{{Name: "wal_autocheckpoint", Value: "0"}}},
		"negative": {Migrations: schema(1), Pragmas: []ncruces.Pragma{{Name: "wal_autocheckpoint", Value: "-1"}}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := testdir.New(t)
			ws, err := workspace.Open(testdir.Context(t), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			insertBlobs(t, ws, 1500, 8000) // 12 MB: past PASSIVE's 1000 pages
			if st := ws.WriteStats(); st.Checkpoints != 0 || st.WALRestarts != 0 {
				t.Errorf("checkpoints ran: %+v", st)
			}
			if err := ws.Close(); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(ws.Path() + "-wal")
			if err != nil {
				t.Fatalf("the WAL is gone after Close: %v", err)
			}
			if fi.Size() < 12e6 {
				t.Errorf("WAL after Close = %d bytes: something checkpointed it", fi.Size())
			}
		})
	}
}

// TestFailStop: after an fsync of the WAL fails, the Writes of that batch
// fail, and so does every later Write, until the workspace is reopened.
func TestFailStop(t *testing.T) {
	if p := ncruces.Platform(); p.JournalMode != "wal" {
		t.Skip("the syncer needs WAL")
	}
	dir := testdir.New(t)
	ws, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{
		Migrations: schema(1),
		Pragmas:    []ncruces.Pragma{{Name: "synchronous", Value: "FULL"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(testdir.Context(t), insertNote("before")); err != nil {
		t.Fatal(err)
	}
	wal := workspace.WALPath(ws.Path())
	t.Cleanup(fsync.SetHook(func(c fsync.Call) error {
		if c.Op == fsync.OpData && c.Path == wal {
			return &fs.PathError{Op: "fdatasync", Path: c.Path, Err: syscall.EIO}
		}
		return nil
	}))
	if err := ws.Write(testdir.Context(t), insertNote("failed")); err == nil || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Write with a failing fsync = %v, want EIO", err)
	}
	for range 2 {
		if err := ws.Write(testdir.Context(t), insertNote("after")); !errors.Is(err, workspace.ErrFailStop) {
			t.Fatalf("Write after a failed fsync = %v, want ErrFailStop", err)
		}
		if _, err := ws.SQL().ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES ('front')"); !errors.Is(err, workspace.ErrFailStop) {
			t.Fatalf("front Exec after a failed fsync = %v, want ErrFailStop", err)
		}
	}
	ws.Close()
	// Reopened, the workspace writes again.
	ws2 := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	if err := ws2.Write(testdir.Context(t), insertNote("reopened")); err != nil {
		t.Fatal(err)
	}
}
