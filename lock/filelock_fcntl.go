//go:build aix || (solaris && !illumos)

package lock

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// supported is Supported here.
const supported = true

// errWouldBlock is the platform's "lock held elsewhere" result of a non-blocking lock.
// POSIX lets F_SETLK fail with EACCES as well; lockFile maps that to this.
var errWouldBlock = unix.EAGAIN

// AIX has no flock(2) in golang.org/x/sys/unix. Solaris before 11.4 has none at all, so, like
// cmd/go's filelock, the lock is a POSIX fcntl(2) record lock over the whole file there. Those
// locks belong to the process, not to the open file: table.go keeps one open file per lock
// file so that in-process holders still exclude each other and no stray close drops a lock.

// lockFile takes an fcntl(2) lock on f without blocking.
func lockFile(f *os.File, m Mode) error {
	typ := int16(unix.F_WRLCK)
	if m == Shared {
		typ = unix.F_RDLCK
	}
	err := fcntl(f, unix.F_SETLK, typ)
	if errors.Is(err, unix.EACCES) {
		return errWouldBlock
	}
	return err
}

// unlockFile releases the fcntl(2) lock on f.
func unlockFile(f *os.File) error {
	return fcntl(f, unix.F_SETLK, unix.F_UNLCK)
}

// heldShared reports whether the lock on f, held by another process, is held shared: F_GETLK
// reports the type of a lock that blocks an exclusive one.
func heldShared(f *os.File) bool {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var getErr error
	if err := rc.Control(func(fd uintptr) { getErr = unix.FcntlFlock(fd, unix.F_GETLK, &lk) }); err != nil {
		return false
	}
	return getErr == nil && lk.Type == unix.F_RDLCK
}

// unsupported reports whether err, from lockFile, means that the file's filesystem has no
// record locks: ENOSYS, ENOTSUP and EOPNOTSUPP (errors.ErrUnsupported), and ENOLCK, as NFS
// answers without a lock manager.
func unsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, unix.ENOLCK)
}

// fcntl applies a lock of type typ over the whole file (Start 0, Len 0), retrying when a signal
// interrupts it.
func fcntl(f *os.File, cmd int, typ int16) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	err = rc.Control(func(fd uintptr) {
		for {
			lk := unix.Flock_t{Type: typ, Whence: io.SeekStart}
			lockErr = unix.FcntlFlock(fd, cmd, &lk)
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
