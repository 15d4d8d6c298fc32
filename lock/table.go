//go:build aix || (solaris && !illumos) || (!unix && !windows)

package lock

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"sync"
)

// On these platforms the operating system cannot make two holders in one process exclude each
// other: fcntl(2) locks belong to the process (a second lock from the same process just
// succeeds), and plan9, js and wasip1 have no locks at all. Worse, a process loses its fcntl
// locks on a file as soon as it closes any descriptor for that file, even one opened only to
// read the owner record.
//
// So this process keeps a table with one entry per lock file it holds, keyed by file identity
// (os.SameFile: device and inode), owning the one descriptor that carries the operating-system
// lock. Holders in this process are checked against the table first; a descriptor opened for a
// file in the table is never closed before that entry's lock is released. The table's mutex
// serializes every open, lock and close of lock files, so the checks cannot race.

// entry is a lock file held by this process.
type entry struct {
	f     *os.File    // carries the operating-system lock
	fi    fs.FileInfo // identity of f, for os.SameFile
	mode  Mode
	n     int        // holders sharing the entry: 1 for Exclusive, any for Shared
	spare []*os.File // other descriptors for the file, closed only after f is unlocked
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

// tableLock is one holder's share of an entry.
type tableLock struct {
	e *entry
}

func (l *tableLock) file() *os.File { return l.e.f }

func (l *tableLock) unlock() error {
	table.Lock()
	defer table.Unlock()
	e := l.e
	if e.n--; e.n > 0 {
		return nil
	}
	table.entries = slices.DeleteFunc(table.entries, func(x *entry) bool { return x == e })
	var errs []error
	if err := sysUnlock(e.f); err != nil {
		errs = append(errs, &fs.PathError{Op: "unlock", Path: e.f.Name(), Err: err})
	}
	for _, f := range append(e.spare, e.f) {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// join adds a holder in mode m to e if the modes allow it, and reports contention otherwise.
func (e *entry) join(m Mode) (held, error) {
	if e.mode == Shared && m == Shared {
		e.n++
		return &tableLock{e: e}, nil
	}
	if e.mode == Shared {
		return nil, &busy{shared: true}
	}
	return nil, &busy{owner: readOwnerFrom(e.f)}
}

// tryLock locks the lock file at path in mode m without blocking. On contention it returns a
// *busy error describing the holder.
func tryLock(path string, m Mode) (held, error) {
	table.Lock()
	defer table.Unlock()
	if e := findPath(path); e != nil {
		return e.join(m)
	}
	f, fi, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if e := find(fi); e != nil {
		// The path was replaced by a file this process holds after the Lstat above. Closing
		// f would drop the process's lock on it.
		e.spare = append(e.spare, f)
		return e.join(m)
	}
	if err := takeLock(f, path, m); err != nil {
		// No holder in this process, so closing f drops no lock of ours.
		f.Close()
		return nil, err
	}
	e := &entry{f: f, fi: fi, mode: m, n: 1}
	table.entries = append(table.entries, e)
	return &tableLock{e: e}, nil
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
