// Package fault lets litedir's tests make an operation on a database's
// files fail, as a failing or full disk would, at the layer SQLite sees:
// the litedir VFS (ncruces/vfs_full.go) asks [Check] before every write,
// truncation and sync of a file it opened, and fails the operation with
// the error a test's [Func] returns. Through it a test can fail the WAL
// write of a COMMIT, or the database write of a checkpoint, and watch what
// litedir reports to its callers, with no root, no full tmpfs and no
// timing.
//
// litedir's own syncs outside SQLite (the group committer's fsync of the
// WAL, the copies' syncs) go through internal/fsync, whose hook
// (fsync.SetHook) fails them the same way.
//
// No Func is set outside tests; [Check] then costs one atomic load.
//
// The package is internal: it is no API.
package fault

import "sync/atomic"

// Op is a file operation of the litedir VFS that a test can fail.
type Op string

// The operations.
const (
	Write    Op = "write"    // a write (pwrite) of the file
	Truncate Op = "truncate" // a truncation or extension of the file
	Sync     Op = "sync"     // a sync of the file
)

// Func decides the fate of one operation: it returns the error the
// operation fails with, or nil to let it run. path is the file as SQLite
// names it (absolute; "" for SQLite's temporary files); off is the offset
// of a write and the new size of a truncation, 0 for a sync. It is called
// from many goroutines at once, those of every test of the process, and
// should filter by path.
type Func func(op Op, path string, off int64) error

type funcBox struct{ f Func }

var current atomic.Pointer[funcBox]

// Set makes f decide every operation until the returned function restores
// the previous Func. For tests.
func Set(f Func) (restore func()) {
	old := current.Swap(&funcBox{f})
	return func() { current.Store(old) }
}

// Check returns the error with which the operation op on path at off must
// fail, or nil. The litedir VFS calls it before each operation, and
// returns the error instead of doing the operation. Safe for concurrent
// use.
func Check(op Op, path string, off int64) error {
	if b := current.Load(); b != nil && b.f != nil {
		return b.f(op, path, off)
	}
	return nil
}
