//go:build (unix && !aix && !(solaris && !illumos)) || windows

package lock

import (
	"errors"
	"io/fs"
	"os"
)

// On these platforms a lock belongs to the open file (flock locks the open file description,
// LockFileEx the handle), so every Acquire opens its own file and locks it: two Acquire calls
// in one process conflict like two processes do, and closing one file touches no other lock.

// fileLock is a lock held through its own open file.
type fileLock struct {
	f *os.File
}

func (l *fileLock) file() *os.File { return l.f }

func (l *fileLock) unlock() error {
	// Unlock explicitly before closing. A flock lock lives as long as any duplicate of the
	// descriptor, and a child that another goroutine is forking holds one until it execs
	// (O_CLOEXEC closes it only then): closing alone could leave the lock held a little longer.
	var errs []error
	if err := sysUnlock(l.f); err != nil {
		errs = append(errs, &fs.PathError{Op: "unlock", Path: l.f.Name(), Err: err})
	}
	if err := l.f.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// tryLock opens the lock file at path and locks it in mode m without blocking. On contention
// it returns a *busy error describing the holder.
func tryLock(path string, m Mode) (held, error) {
	f, _, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := takeLock(f, path, m); err != nil {
		f.Close()
		return nil, err
	}
	return &fileLock{f: f}, nil
}

// readRecordFile reads the owner record of the lock file at path.
func readRecordFile(path string) ([]byte, error) {
	f, _, err := openRecordFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRecord(f)
}
