// Package observe lets litedir's crash-simulation test see the files of its
// databases change.
//
// A test that simulates power losses (ncruces/crash_test.go) must see every
// change that reaches a database's files, in order: SQLite's writes,
// truncations, syncs and deletions, which all pass through the litedir VFS,
// the syncs of the directory that the VFS makes itself, and the syncs that
// litedir makes with its own descriptors outside SQLite (the group
// committer's syncer), which call [Sync]. No observer is set outside that
// test; each hook then costs one atomic load.
//
// Tests can also see every new SQLite connection before its pragmas run
// ([SetConn]), to install a callback that records what SQLite runs on it.
//
// The package is internal: it is no API.
package observe

import (
	"sync/atomic"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
)

// Observer receives the changes. Paths are as SQLite names the files
// (absolute); the calls come from many goroutines at once.
type Observer interface {
	// Opened reports that path was opened with flags; created says that
	// the open created it.
	Opened(path string, flags vfs.OpenFlag, created bool)
	// Wrote reports that p was written at off; p is only valid during the
	// call. Reported after the write, so that a sync reported as starting
	// later certainly covers it.
	Wrote(path string, p []byte, off int64)
	// Truncated reports that path was truncated, or extended, to size.
	Truncated(path string, size int64)
	// Allocated reports that path was extended to at least size (a size
	// hint; it never shrinks the file).
	Allocated(path string, size int64)
	// Syncing reports that a sync of path with flags starts; the returned
	// function is called with its result once it has ended.
	Syncing(path string, flags vfs.SyncFlag) (done func(error))
	// Deleted reports that path was removed from its directory.
	Deleted(path string)
	// DirSynced reports that the directory dir was synced successfully.
	DirSynced(dir string)
}

type observerBox struct{ Observer }

var observer atomic.Pointer[observerBox]

// Set makes o the observer until the returned function restores the
// previous one. For tests.
func Set(o Observer) (restore func()) {
	old := observer.Swap(&observerBox{o})
	return func() { observer.Store(old) }
}

// Current returns the observer, or nil.
func Current() Observer {
	if b := observer.Load(); b != nil {
		return b.Observer
	}
	return nil
}

func noDone(error) {}

// Sync must be called by code that syncs one of a database's files
// with its own descriptor, outside SQLite (such as the workspace's group
// commit syncing the -wal file), right before the sync; it calls the
// returned function with the sync's result. Such a sync is assumed to be the
// strongest the platform has (fdatasync on Linux, F_FULLFSYNC on darwin),
// like the syncs SQLite asks for with SQLITE_SYNC_FULL.
//
// It exists for litedir's crash-simulation test, which records every change
// to the files to rebuild what a power loss can leave; outside that test it
// does nothing and costs one atomic load. It is safe for concurrent use.
func Sync(path string) (done func(error)) {
	if o := Current(); o != nil {
		return o.Syncing(path, vfs.SYNC_FULL)
	}
	return noDone
}

type connBox struct{ f func(*sqlite3.Conn) }

var connHook atomic.Pointer[connBox]

// SetConn makes f see every new connection that litedir opens (ncruces.Open,
// for every pool), before anything runs on it, until the returned function
// restores the previous one: f can install an authorizer there, whose
// callbacks tell in order what SQLite prepares, the connection's pragmas
// included. Callbacks f installs may be replaced once the pragmas have run
// (the committer sets its own authorizer). f is called from many goroutines
// at once, for the connections of every test of the process. For tests.
func SetConn(f func(*sqlite3.Conn)) (restore func()) {
	old := connHook.Swap(&connBox{f})
	return func() { connHook.Store(old) }
}

// Conn must be called with every new connection before its pragmas run.
// Outside tests it does nothing and costs one atomic load.
func Conn(c *sqlite3.Conn) {
	if b := connHook.Load(); b != nil && b.f != nil {
		b.f(c)
	}
}
