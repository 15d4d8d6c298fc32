package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
)

// The process keeps a table with one entry per lock file it holds, keyed by file identity
// (os.SameFile: device and inode), owning the one descriptor that carries the
// operating-system lock. An Acquire in this process checks the table first: a second holder
// joins the entry (shared) or is refused (exclusive) without asking the operating system.
//
// Three things need the table. fcntl(2) locks (filelock_fcntl.go) belong to the process: a
// second lock from the same process just succeeds, and the process loses its locks on a file as
// soon as it closes any descriptor for that file, even one opened only to read the owner record,
// so a descriptor opened for a file in the table is never closed before that entry's lock is
// released. Where the platform or the filesystem has no locks at all, an Acquire that allows it
// (Options.AllowInProcess) holds an entry with no operating-system lock, and the table is all
// that excludes the other Acquire calls of this process. And with flock and LockFileEx, where
// the locks of two open files would exclude each other anyway, one rule for every platform keeps
// the behaviour of Acquire the same everywhere.
//
// The table's mutex serializes every open, lock and close of lock files, so the checks cannot
// race.

// entry is a lock file held by this process.
type entry struct {
	f         *os.File    // carries the operating-system lock, if any
	fi        fs.FileInfo // identity of f, for os.SameFile
	mode      Mode
	inProcess bool       // no operating-system lock: only this table excludes
	n         int        // holders sharing the entry: 1 for Exclusive, any for Shared
	spare     []*os.File // other descriptors for the file, closed only after f is unlocked
}

var table struct {
	sync.Mutex
	entries []*entry
}

// find returns the entry for the file fi describes, or nil. The table must be locked.
func find(fi fs.FileInfo) *entry {
	for _, e := range table.entries {
		if os.SameFile(e.fi, fi) {
			return e
		}
	}
	return nil
}

// findPath returns the entry for the file at path, or nil. The table must be locked.
func findPath(path string) *entry {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	return find(fi)
}

// holder is one holder's share of an entry.
type holder struct {
	e *entry
}

// file returns the open lock file, for the owner record.
func (h *holder) file() *os.File { return h.e.f }

// inProcess reports whether the lock is held in this process's table only.
func (h *holder) inProcess() bool { return h.e.inProcess }

// unlock gives up this holder's share. The last holder releases the operating-system lock, then
// closes the file and every spare descriptor.
func (h *holder) unlock() error {
	table.Lock()
	defer table.Unlock()
	e := h.e
	if e.n--; e.n > 0 {
		return nil
	}
	table.entries = slices.DeleteFunc(table.entries, func(x *entry) bool { return x == e })
	var errs []error
	if !e.inProcess {
		// Unlock explicitly before closing. A flock lock lives as long as any duplicate of the
		// descriptor, and a child that another goroutine is forking holds one until it execs
		// (O_CLOEXEC closes it only then): closing alone could leave the lock held a little
		// longer.
		if err := unlockFile(e.f); err != nil {
			errs = append(errs, &fs.PathError{Op: "unlock", Path: e.f.Name(), Err: err})
		}
	}
	for _, f := range append(e.spare, e.f) {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// join adds a holder in mode m to e if the modes allow it, and reports contention otherwise.
// path names the lock file; allowInProcess says whether the new holder accepts a share of an
// entry that only this table holds (Options.AllowInProcess).
func (e *entry) join(path string, m Mode, allowInProcess bool) (*holder, error) {
	switch {
	case e.mode == Shared && m == Shared && e.inProcess && !allowInProcess:
		return nil, unsupportedError(path, nil)
	case e.mode == Shared && m == Shared:
		e.n++
		return &holder{e: e}, nil
	case e.mode == Shared:
		return nil, &busy{shared: true}
	}
	return nil, &busy{owner: readOwnerFrom(e.f)}
}

// tryLock locks the lock file at path in mode m without blocking. On contention it returns a
// *busy error describing the holder. Where the file cannot be locked (the error matches
// ErrUnsupported) and allowInProcess is set, the lock is held in the table alone.
func tryLock(path string, m Mode, allowInProcess bool) (*holder, error) {
	table.Lock()
	defer table.Unlock()
	if e := findPath(path); e != nil {
		return e.join(path, m, allowInProcess)
	}
	f, fi, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if e := find(fi); e != nil {
		// The path was replaced by a file this process holds after the Lstat above. Closing
		// f would drop the process's lock on it (fcntl).
		e.spare = append(e.spare, f)
		return e.join(path, m, allowInProcess)
	}
	e := &entry{f: f, fi: fi, mode: m, n: 1}
	if err := takeLock(f, path, m); err != nil {
		if !allowInProcess || !errors.Is(err, ErrUnsupported) {
			// No holder in this process, so closing f drops no lock of ours.
			f.Close()
			return nil, err
		}
		e.inProcess = true
	}
	table.entries = append(table.entries, e)
	return &holder{e: e}, nil
}

// takeLock locks f, the open lock file at path, in mode m without blocking. On contention it
// returns a *busy error describing the holder, read through f; where the file cannot be locked,
// an error matching ErrUnsupported. The caller closes f on any error.
func takeLock(f *os.File, path string, m Mode) error {
	err := lockFile(f, m)
	switch {
	case err == nil:
		return nil
	case unsupported(err):
		return unsupportedError(path, err)
	case !errors.Is(err, errWouldBlock):
		return &fs.PathError{Op: "lock", Path: path, Err: err}
	case m == Exclusive && heldShared(f):
		// Shared holders write no record, and a stale record may still be there until the
		// first of them clears it: ask the lock itself who holds it.
		return &busy{shared: true}
	}
	return &busy{owner: readOwnerFrom(f)}
}

// unsupportedError is the error of a lock file at path that cannot be locked: ErrUnsupported
// and the system's answer, if any, in an *fs.PathError.
func unsupportedError(path string, sysErr error) error {
	err := error(ErrUnsupported)
	if sysErr != nil && sysErr != ErrUnsupported {
		err = fmt.Errorf("%w: %w", ErrUnsupported, sysErr)
	}
	return &fs.PathError{Op: "lock", Path: path, Err: err}
}

// readRecordFile reads the owner record of the lock file at path, through the held descriptor
// if this process holds the file.
func readRecordFile(path string) ([]byte, error) {
	table.Lock()
	defer table.Unlock()
	if e := findPath(path); e != nil {
		return readRecord(e.f)
	}
	f, fi, err := openRecordFile(path)
	if err != nil {
		return nil, err
	}
	if e := find(fi); e != nil {
		e.spare = append(e.spare, f)
		return readRecord(e.f)
	}
	defer f.Close()
	return readRecord(f)
}
