package workspace_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestOpenReservedName checks that no workspace can be named so that its
// lock file is the migration lock of another workspace in the directory:
// "<name>.migrate.lock" belongs to the shared workspace <name>.
func TestOpenReservedName(t *testing.T) {
	for _, name := range []string{"litedir.migrate", "agent.MIGRATE"} {
		dir := filepath.Join(testdir.New(t), "never")
		_, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Name: name})
		if !errors.Is(err, workspace.ErrInvalidOptions) {
			t.Errorf("Open(Name %q) = %v, want ErrInvalidOptions", name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(Name %q) created the directory", name)
		}
	}
	// Only the suffix is reserved.
	mustOpen(t, testdir.New(t), &workspace.Options{Name: "migrate"})
	mustOpen(t, testdir.New(t), &workspace.Options{Name: "x.migrated"})
}

// TestCheckName checks that CheckName refuses exactly the names Open
// refuses, with the same error, and that neither creates anything for them.
func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		name  string
		valid bool
	}{
		{"", true},
		{"agent", true},
		{"migrate", true},
		{strings.Repeat("n", workspace.MaxNameLen), true},
		{strings.Repeat("n", workspace.MaxNameLen+1), false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{`a\b`, false},
		{"nul\x00byte", false},
		{"x.migrate", false},
		{"x.Migrate", false},
	} {
		err := workspace.CheckName(tt.name)
		if (err == nil) != tt.valid || (err != nil && !errors.Is(err, workspace.ErrInvalidOptions)) {
			t.Errorf("CheckName(%q) = %v, want valid %v (or ErrInvalidOptions)", tt.name, err, tt.valid)
		}
		if tt.valid {
			continue
		}
		dir := filepath.Join(testdir.New(t), "never")
		_, openErr := workspace.Open(testdir.Context(t), dir, &workspace.Options{Name: tt.name})
		if err == nil || openErr == nil || !strings.Contains(openErr.Error(), err.Error()) {
			t.Errorf("name %q: Open returned %v, want the error of CheckName, %v", tt.name, openErr, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(Name %q) created the directory", tt.name)
		}
	}
}

// TestOpenNameTooLong checks that a Name whose files the file system could
// not hold is refused before anything is created.
func TestOpenNameTooLong(t *testing.T) {
	dir := filepath.Join(testdir.New(t), "never")
	name := strings.Repeat("n", 250)
	for _, open := range []func(context.Context, string, *workspace.Options) (*workspace.Workspace, error){workspace.Open, workspace.OpenReadOnly} {
		_, err := open(testdir.Context(t), dir, &workspace.Options{Name: name})
		if !errors.Is(err, workspace.ErrInvalidOptions) {
			t.Errorf("got %v, want ErrInvalidOptions", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Error("the directory was created")
		}
	}
	// The longest name allowed works: every file name it makes fits, the
	// migration lock of a shared workspace too.
	opts := &workspace.Options{Name: strings.Repeat("n", workspace.MaxNameLen), Migrations: schema(1)}
	if !ncruces.Platform().SingleConnection {
		opts.Sharing = lock.Shared
	}
	ws := mustOpen(t, testdir.New(t), opts)
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
}

// TestOpenDoneContext checks that Open and OpenReadOnly with a context that
// is already done create nothing, not even the directory.
func TestOpenDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dir := filepath.Join(testdir.New(t), "never")
	if _, err := workspace.Open(ctx, dir, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Open = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open with a done context created the directory (Stat: %v)", err)
	}
	existing := testdir.New(t)
	if _, err := workspace.OpenReadOnly(ctx, existing, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("OpenReadOnly = %v, want context.Canceled", err)
	}
	testdir.SameFiles(t, map[string][]byte{}, testdir.Snapshot(t, existing))
}

// TestOpenRenamedDirectory checks that an open workspace whose directory was
// renamed is not handed out for a new directory under the old name: that
// one gets its own entry and its own lock.
func TestOpenRenamedDirectory(t *testing.T) {
	parent := testdir.New(t)
	x, y := filepath.Join(parent, "x"), filepath.Join(parent, "y")
	old := mustOpen(t, x, &workspace.Options{Migrations: schema(1)})
	if err := os.Rename(x, y); err != nil {
		t.Skipf("cannot rename a directory with open files here: %v", err)
	}
	if err := os.Mkdir(x, 0o700); err != nil {
		t.Fatal(err)
	}
	if xi, err := os.Stat(x); err == nil {
		if yi, err := os.Stat(y); err == nil && os.SameFile(xi, yi) {
			// Wine gives every directory one file index: nothing there can
			// tell the two apart, and the registry relies on it.
			t.Skip("this file system reports the new and the renamed directory as the same file")
		}
	}

	fresh := mustOpen(t, x, &workspace.Options{Migrations: schema(1)})
	if fresh.ReadDB() == old.ReadDB() {
		t.Fatal("Open of the new directory returned the entry of the renamed one")
	}
	mustExec(t, fresh, "INSERT INTO notes(body) VALUES ('new')")
	if n := count(t, old, "SELECT count(*) FROM notes"); n != 0 {
		t.Errorf("rows in the renamed workspace = %d, want 0", n)
	}
	if _, err := os.Stat(filepath.Join(x, "litedir.db")); err != nil {
		t.Errorf("database of the new directory: %v", err)
	}
	// The new directory is locked by this process.
	if l, err := acquireLock(testdir.Context(t), x, lock.Options{}); !errors.Is(err, lock.ErrLocked) {
		if l != nil {
			l.Release()
		}
		t.Errorf("lock of the new directory = %v, want ErrLocked", err)
	}
	// The renamed directory is still found under its new name.
	viaY := mustOpen(t, y, nil)
	if viaY.ReadDB() != old.ReadDB() {
		t.Error("Open of the renamed directory opened a second entry")
	}
}

// TestOpenSymlinkedDatabase checks that a database file that is a symbolic
// link is refused by Open and OpenReadOnly, like a symlinked lock file: the
// -wal would go beside the target, where this directory's lock does not
// reach, and two workspaces could write one database.
func TestOpenSymlinkedDatabase(t *testing.T) {
	other := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	mustExec(t, other, "INSERT INTO notes(body) VALUES ('theirs')")
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	targetDir := other.Dir()
	before := testdir.Snapshot(t, targetDir)

	dir := testdir.New(t)
	testdir.Symlink(t, other.Path(), filepath.Join(dir, "litedir.db"))
	_, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1)})
	var pe *fs.PathError
	if !errors.Is(err, ncruces.ErrSymlink) || !errors.As(err, &pe) {
		t.Errorf("Open = %v, want ncruces.ErrSymlink in a *fs.PathError", err)
	}
	_, err = workspace.OpenReadOnly(testdir.Context(t), dir, nil)
	if !errors.Is(err, ncruces.ErrSymlink) {
		t.Errorf("OpenReadOnly = %v, want ncruces.ErrSymlink", err)
	}
	testdir.SameFiles(t, before, testdir.Snapshot(t, targetDir))
	if _, err := os.Lstat(filepath.Join(dir, "litedir.db-wal")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("-wal beside the link: %v", err)
	}
}

// TestOpenReadOnlyDatabaseIsDirectory checks that a database path that is a
// directory is reported as such, not as a disk I/O error.
func TestOpenReadOnlyDatabaseIsDirectory(t *testing.T) {
	dir := testdir.New(t)
	if err := os.Mkdir(filepath.Join(dir, "litedir.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(context.Context, string, *workspace.Options) (*workspace.Workspace, error){
		"Open": workspace.Open, "OpenReadOnly": workspace.OpenReadOnly,
	} {
		ws, err := open(testdir.Context(t), dir, nil)
		if err == nil {
			ws.Close()
		}
		var pe *fs.PathError
		if !errors.Is(err, ncruces.ErrIsDir) || errors.Is(err, ncruces.ErrIO) || !errors.As(err, &pe) {
			t.Errorf("%s = %v, want ncruces.ErrIsDir (not ErrIO) in a *fs.PathError", name, err)
		}
	}
}

// TestOpenJoinsLockWait checks that Opens that join an Open already waiting
// for a lock that another holder has get the holder in a *lock.LockedError,
// each after its own LockWait or when its context ends, and not a bare
// context error after waiting as long as the first Open.
func TestOpenJoinsLockWait(t *testing.T) {
	dir := testdir.New(t)
	held, err := acquireLock(testdir.Context(t), dir, lock.Options{Program: "holder/1.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	waiting := make(chan struct{})
	workspace.SetTestHookContended(t, func() { close(waiting) })
	first := make(chan error, 1)
	go func() {
		ws, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{LockWait: time.Hour})
		if err == nil {
			err = ws.Close()
		}
		first <- err
	}()
	select {
	case <-waiting:
	case err := <-first:
		t.Fatalf("first Open returned %v before waiting for the lock", err)
	}

	check := func(name string, err error) {
		t.Helper()
		var locked *lock.LockedError
		if !errors.As(err, &locked) {
			t.Errorf("%s = %v, want a *lock.LockedError", name, err)
			return
		}
		if locked.Owner.Program != "holder/1.0" || locked.Owner.PID != os.Getpid() {
			t.Errorf("%s: owner = %+v, want holder/1.0 in this process", name, locked.Owner)
		}
	}
	// Each waiter on its own terms, whatever the first Open waits for: at
	// once, after its own LockWait, when its context ends.
	short, cancel := context.WithTimeout(testdir.Context(t), 10*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, open := range []func() error{
		func() error { _, err := workspace.Open(testdir.Context(t), dir, nil); return err },
		func() error {
			_, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{LockWait: 10 * time.Millisecond})
			return err
		},
		func() error {
			_, err := workspace.Open(short, dir, &workspace.Options{LockWait: time.Hour})
			return err
		},
	} {
		wg.Go(func() { errs[i] = open() })
	}
	wg.Wait()
	check("Open without LockWait", errs[0])
	check("Open with a short LockWait", errs[1])
	check("Open with a short context", errs[2])
	if !errors.Is(errs[2], context.DeadlineExceeded) {
		t.Errorf("Open with a short context = %v, want context.DeadlineExceeded too", errs[2])
	}

	// The first Open gets the lock once it is free.
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Errorf("first Open: %v", err)
	}
}

// TestOpenMigrationsInSubdirectory checks that Open refuses migrations laid
// out as //go:embed migrations/*.sql gives them, naming the subdirectory,
// instead of opening with an empty schema.
func TestOpenMigrationsInSubdirectory(t *testing.T) {
	fsys := fstest.MapFS{}
	for name, f := range schema(1) {
		fsys["migrations/"+name] = f
	}
	_, err := workspace.Open(testdir.Context(t), testdir.New(t), &workspace.Options{Migrations: fsys})
	var pe *fs.PathError
	if !errors.Is(err, migrations.ErrSubdirectory) || !errors.As(err, &pe) || pe.Path != "migrations" {
		t.Errorf("Open = %v, want migrations.ErrSubdirectory naming migrations", err)
	}
}
