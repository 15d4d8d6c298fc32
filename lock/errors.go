package lock

import (
	"errors"
	"fmt"
)

var (
	// ErrLocked matches every error that reports the directory as held by someone else: a
	// [*LockedError], and the error Acquire returns when its context ends while waiting.
	ErrLocked = errors.New("lock: directory in use")

	// ErrSymlink reports that the lock file is a symbolic link. The lock file is never
	// followed, so a planted link cannot make the lock truncate or write another file.
	ErrSymlink = errors.New("lock: lock file is a symbolic link")

	// ErrNotRegular reports that the lock file is not a regular file (a directory, a device,
	// a FIFO, a socket...).
	ErrNotRegular = errors.New("lock: lock file is not a regular file")

	// ErrInvalidOptions reports [Options] that Acquire cannot use (a lock name that is not a
	// plain file name, an unknown mode). The wrapping error says which.
	ErrInvalidOptions = errors.New("lock: invalid options")

	// ErrUnsupported reports a lock file that cannot be locked at all: the platform has no
	// advisory locks ([Supported] is false), or the filesystem that holds the file refuses
	// them (ENOSYS, EOPNOTSUPP or ENOLCK from a FUSE or network filesystem). It also matches
	// [errors.ErrUnsupported], and the error that wraps it holds the system's answer, if any.
	// [Options.AllowInProcess] accepts a lock that excludes only this process's holders
	// instead.
	ErrUnsupported error = unsupportedErr{}
)

// unsupportedErr is the type of ErrUnsupported, which matches errors.ErrUnsupported too.
type unsupportedErr struct{}

func (unsupportedErr) Error() string { return "lock: file locks are not supported here" }

func (unsupportedErr) Is(target error) bool { return target == errors.ErrUnsupported }

// LockedError reports that the directory is held by someone else. It matches [ErrLocked].
type LockedError struct {
	Dir  string // the data directory
	Path string // the lock file
	Mode Mode   // the mode that was requested

	// Owner is who holds the lock, as far as the owner record tells: zero when the lock is held
	// shared, when the holder has not written its record yet, or when the record is unreadable.
	Owner Owner

	// HeldShared reports that the lock was found held by shared holders, who write no record.
	HeldShared bool
}

// Error names the directory and, as far as known, the holder, e.g.
// "lock: /data/x is in use by pid 1234 (myapp/1.4.2 on host, started 2026-11-23T18:45:00Z)".
func (e *LockedError) Error() string {
	switch {
	case !e.Owner.IsZero():
		return fmt.Sprintf("lock: %s is in use by %s", e.Dir, e.Owner)
	case e.HeldShared:
		return fmt.Sprintf("lock: %s is in use by shared holders", e.Dir)
	}
	return fmt.Sprintf("lock: %s is in use by an unknown process", e.Dir)
}

// Is reports whether target is [ErrLocked].
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// busy is how the platform layer reports contention; Acquire turns it into a *LockedError.
type busy struct {
	owner  Owner // the record found in the lock file
	shared bool  // the holders hold the lock shared
}

func (b *busy) Error() string { return "lock: lock file is held" }
