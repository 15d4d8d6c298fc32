package workspace_test

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
)

// TestPlatformModes checks, on the platform the test runs on, that the
// profile's promise holds for a real workspace: the locking and journal
// modes SQLite reports are the ones the profile names, Status reports the
// journal mode SQLite is in (not the one litedir asked for), the files on
// disk match that mode, and a second connection sees what the profile says
// it sees. The interesting runs are the ones on less capable platforms:
// .ci/cross runs it on linux/s390x (no WAL shared memory: EXCLUSIVE locking
// mode, WAL index in heap memory) and on wasip1 (no file locking: nolock=1,
// rollback journal).
func TestPlatformModes(t *testing.T) {
	p := ncruces.Platform()
	// The profile class, from the driver's capabilities alone.
	switch {
	case !p.FileLocking:
		if !p.NoLock || !p.SingleConnection || p.LockingExclusive || p.JournalMode != "delete" {
			t.Errorf("profile without file locking: got %+v, want NoLock, one connection, journal_mode delete", p)
		}
	case !p.SharedMemory || p.SharedMemoryCopy:
		if !p.LockingExclusive || !p.SingleConnection || p.NoLock || p.JournalMode != "wal" {
			t.Errorf("profile without (real) WAL shared memory: got %+v, want LockingExclusive, one connection, journal_mode wal", p)
		}
	default:
		if p.LockingExclusive || p.SingleConnection || p.NoLock || p.JournalMode != "wal" {
			t.Errorf("fully capable profile: got %+v, want WAL with a read pool and normal locking", p)
		}
	}

	dir := testdir.New(t)
	ws := mustOpen(t, dir, nil)
	ctx := testdir.Context(t)
	mustExec(t, ws, "CREATE TABLE t (x); INSERT INTO t VALUES (1)")

	st, err := ws.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Profile.LockingExclusive != p.LockingExclusive || st.Profile.NoLock != p.NoLock {
		t.Errorf("Status.Profile: got %+v, want %+v", st.Profile, p)
	}
	// What SQLite itself says, asked on the writer connection.
	var journal, locking string
	if err := ws.DB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		t.Fatal(err)
	}
	if err := ws.DB().QueryRowContext(ctx, "PRAGMA locking_mode").Scan(&locking); err != nil {
		t.Fatal(err)
	}
	journal, locking = strings.ToLower(journal), strings.ToLower(locking)
	if st.JournalMode != journal {
		t.Errorf("Status.JournalMode: got %q, SQLite reports %q", st.JournalMode, journal)
	}
	if journal != p.JournalMode || st.WantJournalMode != p.JournalMode {
		t.Errorf("journal mode: SQLite reports %q, Status wants %q, want %q (the profile's)", journal, st.WantJournalMode, p.JournalMode)
	}
	wantLocking := "normal"
	if p.LockingExclusive {
		wantLocking = "exclusive"
	}
	if locking != wantLocking {
		t.Errorf("PRAGMA locking_mode: got %q, want %q", locking, wantLocking)
	}
	if p.SingleConnection && st.Readers != 0 {
		t.Errorf("Status.Readers: got %d, want 0 (one connection)", st.Readers)
	}

	// The files: a WAL database has a -wal file after a write and before
	// close; only WAL in normal locking mode maps the -shm file (in
	// EXCLUSIVE mode the WAL index is in heap memory); a rollback journal
	// leaves neither.
	wal, shm := exists(t, st.Path+"-wal"), exists(t, st.Path+"-shm")
	switch {
	case journal == "wal" && p.LockingExclusive:
		if !wal || shm || st.WALSize == 0 {
			t.Errorf("WAL in EXCLUSIVE mode: -wal %v (Status.WALSize %d), -shm %v; want a -wal file and no -shm", wal, st.WALSize, shm)
		}
	case journal == "wal":
		if !wal || !shm || st.WALSize == 0 {
			t.Errorf("WAL: -wal %v (Status.WALSize %d), -shm %v; want both", wal, st.WALSize, shm)
		}
	default:
		if wal || shm || st.WALSize != 0 {
			t.Errorf("journal_mode %s: -wal %v (Status.WALSize %d), -shm %v; want neither", journal, wal, st.WALSize, shm)
		}
	}

	// A second connection of its own, as another process would open the
	// database to read it.
	other, err := ncruces.Open(ctx, ncruces.Config{
		Path:     st.Path,
		ReadOnly: true,
		Pragmas:  []ncruces.Pragma{{Name: "busy_timeout", Value: "0"}},
	})
	if p.LockingExclusive {
		if !errors.Is(err, ncruces.ErrBusy) {
			t.Errorf("open beside a workspace in EXCLUSIVE locking mode: got %v, want ErrBusy", err)
		}
		if err == nil {
			other.Close()
		}
		return
	}
	if err != nil {
		t.Fatalf("open beside the workspace: %v", err)
	}
	defer other.Close()
	var n int
	if err := other.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("second connection's count: got %d, %v, want 1", n, err)
	}
}

// exists reports whether path exists.
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
