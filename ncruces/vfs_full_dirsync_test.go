package ncruces

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/observe"
	"github.com/litedir/litedir/internal/testdir"
)

// dirLog is a fileObserver that logs the namespace events in one directory:
// "create NAME", "open NAME", "delete NAME", "dirsync".
type dirLog struct {
	dir string

	mu     sync.Mutex
	events []string
}

func (l *dirLog) add(path, event string) {
	if filepath.Dir(path) != l.dir {
		return
	}
	l.mu.Lock()
	l.events = append(l.events, event)
	l.mu.Unlock()
}

func (l *dirLog) Opened(path string, _ vfs.OpenFlag, created bool) {
	if created {
		l.add(path, "create "+filepath.Base(path))
	} else {
		l.add(path, "open "+filepath.Base(path))
	}
}
func (l *dirLog) Wrote(string, []byte, int64)              {}
func (l *dirLog) Truncated(string, int64)                  {}
func (l *dirLog) Allocated(string, int64)                  {}
func (l *dirLog) Deleted(path string)                      { l.add(path, "delete "+filepath.Base(path)) }
func (l *dirLog) DirSynced(dir string)                     { l.add(filepath.Join(dir, "x"), "dirsync") }
func (l *dirLog) Syncing(string, vfs.SyncFlag) func(error) { return func(error) {} }

func (l *dirLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// TestVFSSyncsDirectoryOnCreate checks that the litedir VFS syncs the
// directory right after it creates the database and its -wal file, and not
// when it opens files that exist.
func TestVFSSyncsDirectoryOnCreate(t *testing.T) {
	if !dirSyncs {
		t.Skip("no directory sync on this platform")
	}
	dir, err := filepath.EvalSymlinks(testdir.New(t))
	if err != nil {
		t.Fatal(err)
	}
	log := &dirLog{dir: dir}
	defer observe.Set(log)()

	path := filepath.Join(dir, "x.db")
	open := func() {
		db, err := Open(context.Background(), Config{Path: path, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, `CREATE TABLE IF NOT EXISTS t (x)`)
		mustExec(t, db, `INSERT INTO t VALUES (1)`)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	open()
	events := log.take()
	t.Logf("first open: %q", events)
	for _, name := range []string{"x.db", "x.db-wal"} {
		i := slices.Index(events, "create "+name)
		if i < 0 {
			t.Errorf("%s: not created through the VFS", name)
			continue
		}
		if i+1 >= len(events) || events[i+1] != "dirsync" {
			t.Errorf("%s: no directory sync right after it was created", name)
		}
	}

	// SQLite deletes the -wal file when the last connection closes, so the
	// second open creates it again: that is one directory sync, for it.
	open()
	events = log.take()
	t.Logf("second open: %q", events)
	if slices.Contains(events, "create x.db") {
		t.Error("x.db: reported created again")
	}
	creates, syncs := 0, 0
	for _, e := range events {
		switch {
		case e == "dirsync":
			syncs++
		case e == "create x.db-wal":
			creates++
		}
	}
	if syncs != creates {
		t.Errorf("directory syncs: got %d, want %d (one per created file)", syncs, creates)
	}
}

// TestVFSDirSyncIsReal checks that the directory sync after a create is a
// call of fsync.Dir, the function that makes the system call (whose body
// .ci/strace checks), and that its failure fails the open instead of being
// dropped: a name that may not survive a power loss must not hold
// acknowledged commits.
func TestVFSDirSyncIsReal(t *testing.T) {
	if !dirSyncs {
		t.Skip("no directory sync on this platform")
	}
	dir, err := filepath.EvalSymlinks(testdir.New(t))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		syncs []string
		fail  error
	)
	defer fsync.SetHook(func(c fsync.Call) error {
		if c.Op != fsync.OpDir || c.Path != dir {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		syncs = append(syncs, c.String())
		return fail
	})()

	path := filepath.Join(dir, "x.db")
	db := mustOpen(t, Config{Path: path})
	mustExec(t, db, `CREATE TABLE t (x)`)
	mu.Lock()
	got := len(syncs)
	mu.Unlock()
	// x.db and x.db-wal were created.
	if got < 2 {
		t.Errorf("fsync.Dir(%s) calls after creating x.db and its WAL: got %d (%q), want at least 2", dir, got, syncs)
	}

	mu.Lock()
	fail = &fs.PathError{Op: "sync", Path: dir, Err: syscall.EIO}
	mu.Unlock()
	other := filepath.Join(dir, "y.db")
	db2, err := Open(context.Background(), Config{Path: other, Logger: testLogger(t)})
	if err == nil {
		db2.Close()
		t.Fatalf("Open of a new database whose directory sync fails: got no error")
	}
	if !errors.Is(err, ErrIO) || !errors.Is(err, syscall.EIO) {
		t.Errorf("Open of a new database whose directory sync fails: got %v, want ErrIO wrapping EIO", err)
	}
}
