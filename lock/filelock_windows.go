//go:build windows

package lock

import (
	"errors"
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

// lockFile takes a LockFileEx lock on f without blocking.
func lockFile(f *os.File, m Mode) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if m == Exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	return withHandle(f, func(h windows.Handle) error {
		return windows.LockFileEx(h, flags, 0, 1, 0, lockRange())
	})
}

// unlockFile releases the LockFileEx lock on f.
func unlockFile(f *os.File) error {
	return withHandle(f, func(h windows.Handle) error {
		return windows.UnlockFileEx(h, 0, 1, 0, lockRange())
	})
}

// heldShared reports whether the lock on f, held elsewhere, is held shared: a shared lock can
// then be taken. The probe is released at once.
func heldShared(f *os.File) bool {
	if lockFile(f, Shared) != nil {
		return false
	}
	unlockFile(f) // closing f drops the probe anyway
	return true
}

// unsupported reports whether err, from lockFile, means that the file's volume has no byte-range
// locks: ERROR_NOT_SUPPORTED and ERROR_CALL_NOT_IMPLEMENTED (errors.ErrUnsupported), and
// ERROR_INVALID_FUNCTION, which file system drivers and network redirectors answer for an
// operation they do not implement.
func unsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, windows.ERROR_INVALID_FUNCTION)
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
