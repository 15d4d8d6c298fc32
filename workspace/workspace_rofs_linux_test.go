package workspace_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// readOnlyMount makes dir visible read-only at a new path, with a read-only
// bind mount, and unmounts it when the test ends. It skips, saying why, where
// mounting is not allowed (not root, no CAP_SYS_ADMIN, a container without
// mount rights).
func readOnlyMount(t *testing.T, dir string) string {
	t.Helper()
	ro := filepath.Join(testdir.New(t), "ro")
	if err := os.Mkdir(ro, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, ro, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot bind-mount %s (need root or CAP_SYS_ADMIN): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(ro, 0); err != nil {
			t.Errorf("unmount %s: %v", ro, err)
		}
	})
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot remount %s read-only: %v", ro, err)
	}
	if err := os.WriteFile(filepath.Join(ro, "probe"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Skipf("SKIPPED LOUDLY: the read-only bind mount %s accepts writes (%v)", ro, err)
	}
	return ro
}

// TestOpenReadOnlyOnReadOnlyMount checks that OpenReadOnly on a read-only
// file system says so, with ErrReadOnlyFS and the system's EROFS in the
// chain, instead of "unable to open database file" from the first pragma,
// and changes nothing.
func TestOpenReadOnlyOnReadOnlyMount(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	ro := readOnlyMount(t, dir)
	before := testdir.Snapshot(t, dir)

	_, err := workspace.OpenReadOnly(testdir.Context(t), ro, nil)
	t.Logf("OpenReadOnly: %v", err)
	if !errors.Is(err, ncruces.ErrReadOnlyFS) || !errors.Is(err, syscall.EROFS) {
		t.Errorf("OpenReadOnly = %v, want ncruces.ErrReadOnlyFS and EROFS", err)
	}
	_, err = workspace.Open(testdir.Context(t), ro, nil)
	t.Logf("Open: %v", err)
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("Open = %v, want EROFS", err)
	}
	testdir.SameFiles(t, before, testdir.Snapshot(t, dir))
}

// TestOpenReadOnlyOnReadOnlyMountWhileOwned checks OpenReadOnly through a
// read-only mount of a workspace that its owner has open elsewhere: the
// -wal and -shm files exist, and SQLite reads through them, or says why not.
func TestOpenReadOnlyOnReadOnlyMountWhileOwned(t *testing.T) {
	if ncruces.Platform().LockingExclusive {
		t.Skip("the owner holds the database file exclusively on this platform")
	}
	dir := testdir.New(t)
	owner := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	mustExec(t, owner, "INSERT INTO notes(body) VALUES ('x')")
	ro := readOnlyMount(t, dir)

	ws, err := workspace.OpenReadOnly(testdir.Context(t), ro, nil)
	if err != nil {
		if !errors.Is(err, ncruces.ErrReadOnlyFS) {
			t.Fatalf("OpenReadOnly = %v, want success or ncruces.ErrReadOnlyFS", err)
		}
		t.Logf("OpenReadOnly: %v", err)
		return
	}
	defer ws.Close()
	if n := count(t, ws, "SELECT count(*) FROM notes"); n != 1 {
		t.Errorf("rows = %d, want 1", n)
	}
}
