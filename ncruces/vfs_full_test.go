package ncruces

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/litedir/litedir/internal/testdir"
)

// TestOpenUsesFullVFS checks that Open's connections run on the litedir VFS
// (whose full-disk errors are SQLITE_FULL), and that the wrapper hides
// nothing SQLite needs from the default VFS's files: WAL mode, which needs
// their shared memory, is granted where the platform has it, and the lock
// state file control answers.
//
// That a full disk is reported as ErrFull is checked on a real full
// filesystem by the e2e test TestDiskFull.
func TestOpenUsesFullVFS(t *testing.T) {
	var (
		mu    sync.Mutex
		names []string
	)
	record := func(c *sqlite3.Conn) error {
		name, err := c.FileControl("main", sqlite3.FCNTL_VFSNAME)
		if err != nil {
			return err
		}
		mu.Lock()
		names = append(names, name.(string))
		mu.Unlock()
		return nil
	}
	path := filepath.Join(testdir.New(t), "x.db")
	db, err := Open(context.Background(), Config{Path: path, Init: record, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, `CREATE TABLE t (x)`)

	mu.Lock()
	if len(names) == 0 {
		t.Error("Init never ran")
	}
	for _, name := range names {
		if name != vfsName {
			t.Errorf("VFS: got %q, want %q", name, vfsName)
		}
	}
	mu.Unlock()

	if mode, want := journalMode(t, db), wantJournalMode(DefaultPragmas()); Platform().SharedMemory && mode != want {
		t.Errorf("journal mode through the wrapper: got %q, want %q", mode, want)
	}

	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(interface{ Raw() *sqlite3.Conn }).Raw()
		state, err := c.FileControl("main", sqlite3.FCNTL_LOCKSTATE)
		if err != nil {
			return err
		}
		if level := state.(vfs.LockLevel); level > vfs.LOCK_EXCLUSIVE {
			t.Errorf("lock state through the wrapper: got %v, want a known level", level)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
