//go:build unix || windows

package ncruces

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

// diskFullCase is one error of the system and whether it means a full disk.
type diskFullCase struct {
	name string
	err  error
	full bool
}

// testIsDiskFull checks isDiskFull, and diskFull and fullFile built on it,
// for each case: bare, and wrapped as os and the default VFS return it.
func testIsDiskFull(t *testing.T, cases []diskFullCase) {
	t.Helper()
	for _, tc := range cases {
		wrapped := map[string]error{
			"bare":         tc.err,
			"PathError":    &fs.PathError{Op: "write", Path: "/x/litedir.db-wal", Err: tc.err},
			"SyscallError": os.NewSyscallError("pwrite", tc.err),
			"fmt":          fmt.Errorf("write: %w", &fs.PathError{Op: "write", Path: "x", Err: tc.err}),
		}
		for how, err := range wrapped {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				if got := isDiskFull(err); got != tc.full {
					t.Errorf("isDiskFull(%v): got %v, want %v", err, got, tc.full)
				}
				// What SQLite sees from a write of the litedir VFS.
				f := &fullFile{File: failingFile{err: err}}
				_, werr := f.WriteAt([]byte("x"), 0)
				terr := f.Truncate(0)
				serr := f.Sync(vfs.SYNC_NORMAL)
				for op, got := range map[string]error{"WriteAt": werr, "Truncate": terr, "Sync": serr} {
					if tc.full {
						// Compared with what the VFS contract asks for:
						// the error of the system, tagged with FULL.
						if want := vfs.SystemError(err, sqlite3.FULL); got != want {
							t.Errorf("%s: got %#v, want %#v (%v tagged with SQLITE_FULL)", op, got, want, err)
						}
					} else if got != err {
						t.Errorf("%s: got %#v, want %v unchanged", op, got, err)
					}
				}
			})
		}
	}
	if isDiskFull(nil) || diskFull(nil) != nil {
		t.Errorf("isDiskFull(nil), diskFull(nil): got %v, %v; want false, nil", isDiskFull(nil), diskFull(nil))
	}
	if other := errors.New("disk full"); isDiskFull(other) {
		t.Errorf("isDiskFull(%q): got true, want false (errors are classified by code, never by message)", other)
	}
}

// failingFile is a vfs.File whose writes, truncations and syncs fail with err.
type failingFile struct {
	vfs.File
	err error
}

func (f failingFile) WriteAt([]byte, int64) (int, error) { return 0, f.err }
func (f failingFile) Truncate(int64) error               { return f.err }
func (f failingFile) Sync(vfs.SyncFlag) error            { return f.err }
