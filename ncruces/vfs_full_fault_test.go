package ncruces

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/litedir/litedir/internal/fault"
	"github.com/litedir/litedir/internal/testdir"
)

// TestVFSFaults checks that the litedir VFS asks internal/fault before
// each write, sync and truncation, fails the operation with the fault's
// error, and that SQLite reports it with the class a real failure has.
func TestVFSFaults(t *testing.T) {
	if Platform().JournalMode != "wal" {
		t.Skip("no WAL on this platform: the operations failed here are those of a WAL")
	}
	tests := []struct {
		name  string
		op    fault.Op
		file  string // the file that fails, beside x.db
		errno error
		sql   string
		want  error
	}{
		{"WAL write EIO", fault.Write, "x.db-wal", syscall.EIO, "INSERT INTO t VALUES (1)", ErrIO},
		{"WAL write ENOSPC", fault.Write, "x.db-wal", errNoSpace, "INSERT INTO t VALUES (1)", ErrFull},
		{"WAL sync", fault.Sync, "x.db-wal", syscall.EIO, "PRAGMA synchronous=FULL; INSERT INTO t VALUES (1)", ErrIO},
		{"WAL truncate", fault.Truncate, "x.db-wal", syscall.EIO, "INSERT INTO t VALUES (1); PRAGMA wal_checkpoint(TRUNCATE)", ErrIO},
		{"checkpoint write", fault.Write, "x.db", syscall.EIO, "INSERT INTO t VALUES (1); PRAGMA wal_checkpoint(PASSIVE)", ErrIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.errno == nil || (tt.want == ErrFull && !isDiskFull(tt.errno)) {
				t.Skip("no ENOSPC, or it is not a full disk here")
			}
			dir, err := filepath.EvalSymlinks(testdir.New(t))
			if err != nil {
				t.Fatal(err)
			}
			db := mustOpen(t, Config{Path: filepath.Join(dir, "x.db")})
			mustExec(t, db, "CREATE TABLE t (x)")
			var on atomic.Bool
			var hits atomic.Int64
			defer fault.Set(func(op fault.Op, path string, _ int64) error {
				if !on.Load() || op != tt.op || path != filepath.Join(dir, tt.file) {
					return nil
				}
				hits.Add(1)
				return &fs.PathError{Op: string(op), Path: path, Err: tt.errno}
			})()
			on.Store(true)
			_, err = db.Exec(tt.sql)
			if hits.Load() == 0 {
				t.Fatalf("%s of %s never reached the fault", tt.op, tt.file)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			on.Store(false)
			mustExec(t, db, "INSERT INTO t VALUES (2)")
		})
	}
}
