package observe

import (
	"errors"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

type syncLog struct {
	Observer // the methods this test does not call
	path     string
	flags    vfs.SyncFlag
	result   error
}

func (l *syncLog) Syncing(path string, flags vfs.SyncFlag) func(error) {
	l.path, l.flags = path, flags
	return func(err error) { l.result = err }
}

func TestSync(t *testing.T) {
	if Current() != nil {
		t.Fatal("an observer is set before any test set one")
	}
	Sync("/x/none")(nil) // no observer: nothing to report to, and no panic

	log := &syncLog{}
	restore := Set(log)
	if Current() != log {
		t.Errorf("Current after Set: got %v, want the observer set", Current())
	}
	failed := errors.New("sync failed")
	Sync("/x/db-wal")(failed)
	if log.path != "/x/db-wal" || log.flags != vfs.SYNC_FULL || log.result != failed {
		t.Errorf("reported: got %q, %v, %v, want /x/db-wal, SYNC_FULL, the sync's error", log.path, log.flags, log.result)
	}
	restore()
	if Current() != nil {
		t.Errorf("Current after restore: got %v, want nil", Current())
	}
}

func TestConn(t *testing.T) {
	Conn(nil) // no hook: nothing happens
	var seen []*sqlite3.Conn
	restore := SetConn(func(c *sqlite3.Conn) { seen = append(seen, c) })
	Conn(nil)
	restore()
	Conn(nil)
	if len(seen) != 1 {
		t.Errorf("the hook saw %d connections, want 1 (set, then restored)", len(seen))
	}
}
