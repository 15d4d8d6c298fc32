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

// lockFile takes a flock(2) lock on f without blocking. flock rather than fcntl: fcntl locks
// belong to the process and vanish when it closes any descriptor for the file, while flock
// locks belong to the open file, as the lock of an Acquire should.
func lockFile(f *os.File, m Mode) error {
	how := unix.LOCK_EX
	if m == Shared {
		how = unix.LOCK_SH
	}
	return flock(f, how|unix.LOCK_NB)
}

// unlockFile releases the flock(2) lock on f.
func unlockFile(f *os.File) error {
	return flock(f, unix.LOCK_UN)
}

// heldShared reports whether the lock on f, held elsewhere, is held shared: a shared lock can
// then be taken. The probe is released at once.
func heldShared(f *os.File) bool {
	if flock(f, unix.LOCK_SH|unix.LOCK_NB) != nil {
		return false
	}
	flock(f, unix.LOCK_UN) // closing f drops the probe anyway
	return true
}

// unsupported reports whether err, from lockFile, means that the file's filesystem has no
// flock locks: ENOSYS, ENOTSUP and EOPNOTSUPP (errors.ErrUnsupported), as FUSE filesystems that
// refuse locks answer, and ENOLCK, as NFS answers without a lock manager.
func unsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, unix.ENOLCK)
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
