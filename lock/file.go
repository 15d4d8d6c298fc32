package lock

import (
	"errors"
	"io/fs"
	"os"
)

// openLockFile opens the lock file at path for reading and writing, creating it with mode 0600
// if it does not exist. It refuses symbolic links and anything that is not a regular file.
func openLockFile(path string) (*os.File, fs.FileInfo, error) {
	return openRegular(path, os.O_RDWR|os.O_CREATE)
}

// openRecordFile opens the existing lock file at path for reading, with the same checks.
func openRecordFile(path string) (*os.File, fs.FileInfo, error) {
	return openRegular(path, os.O_RDONLY)
}

// openRegular opens path with flag through the platform's no-follow open (sysOpen) and checks
// that it got a regular file.
func openRegular(path string, flag int) (*os.File, fs.FileInfo, error) {
	// Look before opening: opening a FIFO for reading would block until a writer comes, and
	// a directory or a symlink deserves a clearer error than the EISDIR or ELOOP of open.
	if fi, err := os.Lstat(path); err == nil {
		if err := checkType(fi.Mode()); err != nil {
			return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
	f, err := sysOpen(path, flag)
	if err != nil {
		// A link swapped in after the Lstat makes the no-follow open fail, with ELOOP on most
		// systems but EMLINK on FreeBSD and EFTYPE on NetBSD: ask the file system instead.
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, nil, &fs.PathError{Op: "open", Path: path, Err: ErrSymlink}
		}
		return nil, nil, pathError("open", path, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkType(fi.Mode())
	}
	if err != nil {
		// Not a regular file, so no lock of this process can live on it and closing is safe
		// even where closing any descriptor drops the process's locks (fcntl).
		f.Close()
		return nil, nil, pathError("open", path, err)
	}
	return f, fi, nil
}

// checkType returns ErrSymlink or ErrNotRegular unless mode is that of a regular file.
func checkType(mode fs.FileMode) error {
	switch {
	case mode&fs.ModeSymlink != 0:
		return ErrSymlink
	case !mode.IsRegular():
		return ErrNotRegular
	}
	return nil
}

// pathError returns err if it already is an *fs.PathError, and err wrapped in one otherwise.
func pathError(op, path string, err error) error {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return err
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}
