//go:build unix && !aix && !(solaris && !illumos)

package lock

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// supported is Supported here.
const supported = true

// errWouldBlock is the platform's "lock held elsewhere" result of a non-blocking lock.
var errWouldBlock = unix.EWOULDBLOCK

// sysLock takes a flock(2) lock on f without blocking. flock rather than fcntl: fcntl locks
// belong to the process and vanish when it closes any descriptor for the file, while flock
// locks belong to this open file alone, so two Acquire calls in one process conflict too.
func sysLock(f *os.File, m Mode) error {
	how := unix.LOCK_EX
	if m == Shared {
		how = unix.LOCK_SH
	}
	return flock(f, how|unix.LOCK_NB)
}

// sysUnlock releases the flock(2) lock on f.
func sysUnlock(f *os.File) error {
	return flock(f, unix.LOCK_UN)
}

// sysHeldShared reports whether the lock on f, held elsewhere, is held shared: a shared lock can
// then be taken. The probe is released at once.
func sysHeldShared(f *os.File) bool {
	if flock(f, unix.LOCK_SH|unix.LOCK_NB) != nil {
		return false
	}
	flock(f, unix.LOCK_UN) // closing f drops the probe anyway
	return true
}

// flock calls flock(2) on f, retrying when a signal interrupts it.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	err = rc.Control(func(fd uintptr) {
		for {
			lockErr = unix.Flock(int(fd), how)
			if !errors.Is(lockErr, unix.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return lockErr
}
