package ncruces

import (
	"errors"

	"github.com/ncruces/go-sqlite3"
)

// The error classes below are SQLite primary result codes. The driver
// returns an *sqlite3.Error, or a bare [sqlite3.ExtendedErrorCode] when SQLite
// has no message to add; both match an [sqlite3.ErrorCode] target on their
// primary code, so
//
//	errors.Is(err, ncruces.ErrBusy)
//
// is true for SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_TIMEOUT, ...
// anywhere in err's chain, however it was wrapped. Classify by code, never by
// message text.
var (
	// ErrBusy reports that another connection holds a lock that the busy
	// timeout did not outlast (SQLITE_BUSY), or that a read transaction's
	// snapshot went stale before it could write (SQLITE_BUSY_SNAPSHOT).
	ErrBusy error = sqlite3.BUSY

	// ErrLocked reports a conflict inside one connection, such as dropping a
	// table while a statement still reads it (SQLITE_LOCKED).
	ErrLocked error = sqlite3.LOCKED

	// ErrNotADatabase reports a file that is not an SQLite database
	// (SQLITE_NOTADB). SQLite does not modify such a file.
	ErrNotADatabase error = sqlite3.NOTADB

	// ErrCorrupt reports a malformed database image (SQLITE_CORRUPT).
	ErrCorrupt error = sqlite3.CORRUPT

	// ErrReadOnly reports a write on a read-only connection or file
	// (SQLITE_READONLY), including connections opened with Config.ReadOnly
	// and Config.QueryOnly.
	ErrReadOnly error = sqlite3.READONLY

	// ErrCantOpen reports a database file that cannot be opened or created,
	// such as a missing file with Config.NoCreate (SQLITE_CANTOPEN).
	ErrCantOpen error = sqlite3.CANTOPEN

	// ErrFull reports a full disk or a database at its size limit
	// (SQLITE_FULL).
	ErrFull error = sqlite3.FULL

	// ErrInterrupted reports an operation interrupted by its context
	// (SQLITE_INTERRUPT).
	ErrInterrupted error = sqlite3.INTERRUPT

	// ErrConstraint reports a violated UNIQUE, NOT NULL, CHECK or FOREIGN KEY
	// constraint (SQLITE_CONSTRAINT).
	ErrConstraint error = sqlite3.CONSTRAINT

	// ErrIO reports an operating-system I/O error (SQLITE_IOERR); the
	// underlying OS error, when there is one, is in the chain too.
	ErrIO error = sqlite3.IOERR
)

// Extended result codes for the causes of ErrCantOpen that litedir's VFS
// (see [Open]) reports itself. Each also matches [ErrCantOpen], and the
// error's chain holds an [*fs.PathError] naming the file.
var (
	// ErrSymlink reports a database file that is a symbolic link
	// (SQLITE_CANTOPEN_SYMLINK), which Open refuses, as SQLite does with
	// SQLITE_OPEN_NOFOLLOW: SQLite would put the -wal and -shm files beside
	// the link's target, out of reach of any lock beside the link.
	ErrSymlink error = sqlite3.CANTOPEN_SYMLINK

	// ErrIsDir reports a database path that is a directory
	// (SQLITE_CANTOPEN_ISDIR). A read-only open would otherwise succeed and
	// fail its first read with ErrIO.
	ErrIsDir error = sqlite3.CANTOPEN_ISDIR
)

// ErrReadOnlyFS reports a database that [Open] could not open because its
// directory is on a read-only file system. Read-only opens fail there too
// when the database is in WAL mode and its -wal and -shm files are missing:
// SQLite must create them to read it. The error also matches the driver's
// error class (ErrCantOpen, usually) and, on Unix, syscall.EROFS.
var ErrReadOnlyFS = errors.New("ncruces: read-only file system")

// ErrInvalidPragma is matched by every [*PragmaError]: a pragma name or value
// that [MergePragmas] or [Open] refuses to put into SQL.
var ErrInvalidPragma = errors.New("ncruces: invalid pragma")

// ErrInvalidConfig reports a [Config] that [Open] cannot use (no path, a
// negative MaxConns, a path with a NUL byte).
var ErrInvalidConfig = errors.New("ncruces: invalid config")

// ErrNoMem reports a value or a statement too large for the SQLite engine's
// memory (SQLITE_NOMEM). The Wasm engine has at most 4 GiB of linear memory,
// shared by the page cache and every value bound or read, so a single value
// of a few hundred megabytes can exhaust it where native SQLite would not.
// The connection stays usable after it.
var ErrNoMem error = sqlite3.NOMEM

// IsSharedMemoryError reports whether err says that SQLite could not share a
// WAL index through the database's filesystem: SQLITE_PROTOCOL (a lock on the
// index kept failing, "locking protocol" on NFS), or SQLITE_IOERR_SHMOPEN,
// SQLITE_IOERR_SHMSIZE, SQLITE_IOERR_SHMMAP or SQLITE_IOERR_SHMLOCK (the -shm
// file could not be opened, grown, mapped or locked). The profile of
// [Profile.Exclusive] needs no shared memory.
func IsSharedMemoryError(err error) bool {
	return errors.Is(err, sqlite3.PROTOCOL) ||
		errors.Is(err, sqlite3.IOERR_SHMOPEN) || errors.Is(err, sqlite3.IOERR_SHMSIZE) ||
		errors.Is(err, sqlite3.IOERR_SHMMAP) || errors.Is(err, sqlite3.IOERR_SHMLOCK)
}

// IsLockingError reports whether err says that the database's filesystem
// refused SQLite's file locks: SQLITE_IOERR_LOCK, SQLITE_IOERR_RDLOCK,
// SQLITE_IOERR_UNLOCK or SQLITE_IOERR_CHECKRESERVEDLOCK, which the driver
// reports when a lock fails with anything but "held elsewhere" (ENOSYS,
// EOPNOTSUPP from a FUSE filesystem). Contention is SQLITE_BUSY instead. The
// profile of [Profile.NoLocking] takes no lock.
func IsLockingError(err error) bool {
	return errors.Is(err, sqlite3.IOERR_LOCK) || errors.Is(err, sqlite3.IOERR_RDLOCK) ||
		errors.Is(err, sqlite3.IOERR_UNLOCK) || errors.Is(err, sqlite3.IOERR_CHECKRESERVEDLOCK)
}
