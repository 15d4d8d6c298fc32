package ncruces

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

// TestOpenRefusesSymlink checks that a database file that is a symbolic
// link is refused with ErrSymlink, in every mode, and that neither the
// link's target nor its directory is touched: SQLite would otherwise put the
// -wal and -shm beside the target, out of reach of the lock of the link's
// directory.
func TestOpenRefusesSymlink(t *testing.T) {
	elsewhere := testdir.New(t)
	target := filepath.Join(elsewhere, "real.db")
	db := mustOpen(t, Config{Path: target})
	mustExec(t, db, "CREATE TABLE t (x)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := testdir.ReadFile(t, target)

	dir := testdir.New(t)
	link := filepath.Join(dir, "x.db")
	testdir.Symlink(t, target, link)
	for _, cfg := range []Config{
		{Path: link},
		{Path: link, NoCreate: true},
		{Path: link, ReadOnly: true},
		{Path: link, QueryOnly: true, NoCreate: true},
	} {
		db, err := Open(context.Background(), cfg)
		if err == nil {
			db.Close()
		}
		var pe *fs.PathError
		if !errors.Is(err, ErrSymlink) || !errors.Is(err, ErrCantOpen) || !errors.As(err, &pe) {
			t.Errorf("Open(%+v) = %v, want ErrSymlink in a *fs.PathError", cfg, err)
		}
	}
	if got := testdir.ReadFile(t, target); !slices.Equal(got, before) {
		t.Error("the link's target changed")
	}
	if names := testdir.Names(t, elsewhere); !slices.Equal(names, []string{"real.db"}) {
		t.Errorf("files beside the target = %v, want only real.db", names)
	}
	if names := testdir.Names(t, dir); !slices.Equal(names, []string{"x.db"}) {
		t.Errorf("files beside the link = %v, want only x.db", names)
	}
}

// TestOpenDirectory checks that a database path that is a directory is
// reported as ErrIsDir, also read-only, where SQLite would otherwise open the
// directory and fail its first read with a disk I/O error.
func TestOpenDirectory(t *testing.T) {
	parent := testdir.New(t)
	dir := filepath.Join(parent, "x.db")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		{Path: dir},
		{Path: dir, ReadOnly: true},
		{Path: dir, ReadOnly: true, NoCreate: true},
		{Path: dir, QueryOnly: true, NoCreate: true},
	} {
		db, err := Open(context.Background(), cfg)
		if err == nil {
			db.Close()
		}
		var pe *fs.PathError
		if !errors.Is(err, ErrIsDir) || errors.Is(err, ErrIO) || !errors.As(err, &pe) {
			t.Errorf("Open(%+v) = %v, want ErrIsDir (and not ErrIO) in a *fs.PathError", cfg, err)
		}
	}
	if names := testdir.Names(t, parent); !slices.Equal(names, []string{"x.db"}) {
		t.Errorf("files = %v, want only x.db", names)
	}
	if names := testdir.Names(t, dir); len(names) != 0 {
		t.Errorf("files in the directory = %v, want none", names)
	}
}

// TestOpenFileModes checks that a new database file is created 0600, like
// the directory's lock file, whatever the umask lets through, and that its
// -wal, -shm and -journal files take the database file's permissions, as in
// SQLite's own unix VFS.
func TestOpenFileModes(t *testing.T) {
	switch runtime.GOOS {
	case "windows", "plan9", "js", "wasip1":
		t.Skipf("no Unix permission bits on %s", runtime.GOOS)
	}
	dir := testdir.New(t)
	perm := func(name string) fs.FileMode {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}

	wal := mustOpen(t, Config{Path: filepath.Join(dir, "wal.db")})
	mustExec(t, wal, "CREATE TABLE t (x)")
	mustExec(t, wal, "INSERT INTO t VALUES (1)")
	want := []string{"wal.db", "wal.db-wal"}
	if Platform().SharedMemory && !Platform().LockingExclusive && locking != "dotlk" {
		want = append(want, "wal.db-shm")
	}
	for _, name := range want {
		if got := perm(name); got != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, got)
		}
	}

	// A database made group-readable on purpose shares that with its
	// journal. The file is made so before SQLite first opens it: in
	// EXCLUSIVE locking mode (some profiles) the journal of the first
	// transaction is kept, with the mode it was created with.
	path := filepath.Join(dir, "journal.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	rollback := mustOpen(t, Config{Path: path, Pragmas: []Pragma{{"journal_mode", "DELETE"}}})
	mustExec(t, rollback, "CREATE TABLE t (x)")
	conn := mustConn(t, rollback)
	mustExec(t, conn, "BEGIN")
	mustExec(t, conn, "INSERT INTO t VALUES (1)")
	if got := perm("journal.db-journal"); got != 0o640 {
		t.Errorf("journal.db-journal: mode %v, want 0640 like the database", got)
	}
	mustExec(t, conn, "COMMIT")
}
