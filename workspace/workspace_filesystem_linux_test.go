//go:build linux

package workspace_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testfuse"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestFUSEFallback opens workspaces on real FUSE mounts that refuse some locks (internal/testfuse)
// and checks each step of the fallback: the profile Open ends with, what SQLite reports, what
// Status and the log say, and that the workspace works.
func TestFUSEFallback(t *testing.T) {
	if !ncruces.Platform().SharedMemory || ncruces.Platform().LockingExclusive {
		t.Skip("the platform profile is single-connection already: nothing to fall back from")
	}
	for _, tt := range []struct {
		name    string
		policy  testfuse.Policy
		opts    workspace.Options
		journal string // the journal mode Open ends with
		locking string // PRAGMA locking_mode
		logs    []string
	}{
		{
			// The -shm cannot be locked: forced local, Open starts with shared memory and falls
			// back to EXCLUSIVE locking mode, which needs none.
			name: "shm refused, forced local", policy: testfuse.RefuseSharedMemoryLocks,
			opts:    workspace.Options{Filesystem: ncruces.FilesystemLocal},
			journal: "wal", locking: "exclusive",
			logs: []string{"Filesystem local on a filesystem that is not", "falling back"},
		},
		{
			// Detected as FUSE: EXCLUSIVE locking mode from the start, and it works.
			name: "shm refused, auto", policy: testfuse.RefuseSharedMemoryLocks,
			journal: "wal", locking: "exclusive",
			logs: []string{"one connection in EXCLUSIVE locking mode"},
		},
		{
			// SQLite's locks are refused, flock works: EXCLUSIVE locking mode fails too, and
			// nolock=1 with a rollback journal runs under the directory lock.
			name: "record locks refused", policy: testfuse.RefuseRecordLocks,
			journal: "delete", locking: "normal",
			logs: []string{"falling back", "refuses SQLite's locks"},
		},
		{
			// Nothing can be locked; the caller accepts an in-process lock.
			name: "all locks refused, in-process lock", policy: testfuse.RefuseAll,
			opts:    workspace.Options{InProcessLock: true},
			journal: "delete", locking: "normal",
			logs: []string{"excludes only this process", "falling back"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testdir.Context(t)
			mnt, _ := testfuse.Mount(t, tt.policy)
			dir := filepath.Join(mnt, "ws")
			var log testproc.Buffer
			opts := tt.opts
			opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
			opts.Migrations = schema(1)
			ws := mustOpen(t, dir, &opts)
			if err := ws.Write(ctx, func(q workspace.Querier) error {
				_, err := q.ExecContext(ctx, "INSERT INTO notes (body) VALUES ('on fuse')")
				return err
			}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			st, err := ws.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p := st.Profile
			if p.Filesystem.Type != "fuse."+testfuse.Name || p.Filesystem.Local() {
				t.Errorf("Status.Profile.Filesystem: got %+v, want the FUSE mount", p.Filesystem)
			}
			if st.JournalMode != tt.journal || st.WantJournalMode != tt.journal {
				t.Errorf("journal mode: got %q (wanted %q), want %q", st.JournalMode, st.WantJournalMode, tt.journal)
			}
			var locking string
			if err := ws.DB().QueryRowContext(ctx, "PRAGMA locking_mode").Scan(&locking); err != nil || locking != tt.locking {
				t.Errorf("PRAGMA locking_mode: got %q, %v, want %q", locking, err, tt.locking)
			}
			if !p.SingleConnection || st.Readers != 0 {
				t.Errorf("profile: SingleConnection %v, Readers %d; want one connection", p.SingleConnection, st.Readers)
			}
			if st.LockInProcess != tt.opts.InProcessLock {
				t.Errorf("Status.LockInProcess: got %v, want %v", st.LockInProcess, tt.opts.InProcessLock)
			}
			if n := count(t, ws, "SELECT count(*) FROM notes"); n != 1 {
				t.Errorf("rows: got %d, want 1", n)
			}
			r, err := ws.Check(ctx, true)
			if err != nil || r.Err() != nil {
				t.Errorf("Check: %v, %v", err, r.Err())
			}
			t.Logf("log:\n%s", log.String())
			for _, want := range tt.logs {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log: want a line containing %q; got\n%s", want, log.String())
				}
			}
			// A second Open of the directory in this process joins the entry and its profile.
			again := mustOpen(t, dir, &tt.opts)
			if st2, err := again.Status(ctx); err != nil || st2.Profile.NoLock != p.NoLock || st2.Profile.LockingExclusive != p.LockingExclusive {
				t.Errorf("second handle: %v, profile %+v", err, st2)
			}
		})
	}
}

// TestFUSEWithoutLocksRefused checks that a directory whose filesystem cannot lock files is
// refused, with an error naming the filesystem and the fix, unless the caller accepts an
// in-process lock (TestFUSEFallback).
func TestFUSEWithoutLocksRefused(t *testing.T) {
	mnt, _ := testfuse.Mount(t, testfuse.RefuseAll)
	dir := filepath.Join(mnt, "ws")
	_, err := workspace.Open(testdir.Context(t), dir, nil)
	if !errors.Is(err, workspace.ErrFilesystem) || !errors.Is(err, lock.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Open: got %v, want ErrFilesystem and lock.ErrUnsupported", err)
	}
	t.Logf("Open: %v", err)
	for _, want := range []string{"fuse." + testfuse.Name, "InProcessLock", workspace.EnvInProcessLock, "local filesystem"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to name %q", err, want)
		}
	}
	// No database was made: the lock came first.
	if _, err := os.Stat(filepath.Join(dir, "litedir.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("database after the refused Open: %v, want none", err)
	}
	// Skipping the lock leaves SQLite without locks too, and nothing else to keep others out.
	_, err = workspace.Open(testdir.Context(t), dir, &workspace.Options{SkipLock: true})
	t.Logf("Open with SkipLock: %v", err)
	if !errors.Is(err, workspace.ErrFilesystem) || !strings.Contains(err.Error(), "SkipLock") {
		t.Errorf("Open with SkipLock: got %v, want ErrFilesystem naming SkipLock", err)
	}
}

// TestFUSEHotJournal: on a filesystem that refuses SQLite's record locks, a
// database left with a hot journal (a program killed in a transaction) opens
// in the nolock=1 fallback: SQLite asks, before it rolls the journal back,
// whether another connection holds a lock, and the litedir VFS answers as
// SQLite's own does under nolock=1, without the lock the filesystem refuses.
func TestFUSEHotJournal(t *testing.T) {
	if !ncruces.Platform().SharedMemory || ncruces.Platform().LockingExclusive {
		t.Skip("the platform profile is single-connection already: nothing to fall back from")
	}
	ctx := testdir.Context(t)
	// The crash state, made on a local directory: a rollback-journal
	// database copied with its journal in the middle of a transaction.
	local := testdir.New(t)
	path := workspace.DatabasePath(local, "")
	db, err := ncruces.Open(ctx, ncruces.Config{Path: path, Pragmas: []ncruces.Pragma{
		{Name: "busy_timeout", Value: "10000"}, {Name: "journal_mode", Value: "DELETE"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
		"INSERT INTO notes (body) VALUES ('committed')",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UPDATE notes SET body = 'never committed'"); err != nil {
		t.Fatal(err)
	}
	mnt, _ := testfuse.Mount(t, testfuse.RefuseRecordLocks)
	dir := filepath.Join(mnt, "ws")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-journal"} {
		b := testdir.ReadFile(t, path+suffix)
		if err := os.WriteFile(filepath.Join(dir, "litedir.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conn.ExecContext(ctx, "ROLLBACK")

	ws := mustOpen(t, dir, nil)
	var body string
	if err := ws.ReadDB().QueryRowContext(ctx, "SELECT body FROM notes").Scan(&body); err != nil || body != "committed" {
		t.Errorf("after the hot journal: %q, %v; want the committed row", body, err)
	}
	if err := ws.Write(ctx, func(q workspace.Querier) error {
		_, err := q.ExecContext(ctx, "INSERT INTO notes (body) VALUES ('after')")
		return err
	}); err != nil {
		t.Fatalf("Write after the hot journal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "litedir.db-journal")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a journal is still there after a commit: %v", err)
	}
}
