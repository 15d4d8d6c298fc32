//go:build !unix && !windows

package lock

import (
	"errors"
	"os"
)

// supported is Supported here.
const supported = false

// errWouldBlock is never returned here: sysLock has nothing to wait for.
var errWouldBlock = errors.New("lock: would block")

// plan9, js and wasip1 offer no advisory locks (plan9's exclusive-use files would refuse even a
// reader of the owner record). The lock file and its owner record work as elsewhere, and
// table.go's in-process table still makes Acquire calls in this process exclude each other;
// another process is not excluded.

// sysLock does nothing: there is no operating-system lock to take.
func sysLock(*os.File, Mode) error { return nil }

// sysUnlock does nothing.
func sysUnlock(*os.File) error { return nil }

// sysHeldShared is never asked: sysLock never reports contention.
func sysHeldShared(*os.File) bool { return false }
