//go:build windows

package lock

import (
	"os"

	"golang.org/x/sys/windows"
)

// supported is Supported here.
const supported = true

// errWouldBlock is the platform's "lock held elsewhere" result of a non-blocking lock.
var errWouldBlock = windows.ERROR_LOCK_VIOLATION

// LockFileEx locks one byte at offset 1<<62 (high 32 bits 1<<30, low 32 bits 0). Windows locks
// are mandatory for I/O through other handles: locking the owner record would make it
// unreadable to the very contenders it is written for. No record reaches this far, and a lock
// may lie beyond the end of the file.
const (
	lockOffsetLow  = 0
	lockOffsetHigh = 1 << 30
)

// sysLock takes a LockFileEx lock on f without blocking.
func sysLock(f *os.File, m Mode) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if m == Exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	return withHandle(f, func(h windows.Handle) error {
		return windows.LockFileEx(h, flags, 0, 1, 0, lockRange())
	})
}

// sysUnlock releases the LockFileEx lock on f.
func sysUnlock(f *os.File) error {
	return withHandle(f, func(h windows.Handle) error {
		return windows.UnlockFileEx(h, 0, 1, 0, lockRange())
	})
}

// sysHeldShared reports whether the lock on f, held elsewhere, is held shared: a shared lock can
// then be taken. The probe is released at once.
func sysHeldShared(f *os.File) bool {
	if sysLock(f, Shared) != nil {
		return false
	}
	sysUnlock(f) // closing f drops the probe anyway
	return true
}

// lockRange returns the OVERLAPPED structure that carries the locked offset. The handle is
// synchronous, so LockFileEx completes (or fails) before returning.
func lockRange() *windows.Overlapped {
	return &windows.Overlapped{Offset: lockOffsetLow, OffsetHigh: lockOffsetHigh}
}

// withHandle calls fn with the handle of f.
func withHandle(f *os.File, fn func(windows.Handle) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	err = rc.Control(func(fd uintptr) { fnErr = fn(windows.Handle(fd)) })
	if err != nil {
		return err
	}
	return fnErr
}
