// Package fsync makes durable what litedir writes outside SQLite: the
// contents of a file, and the names in a directory.
//
// The package is internal: the ncruces and workspace packages share it, and
// it is no API.
package fsync

import (
	"errors"
	"os"
	"runtime"
)

// File syncs the contents of the file at path to stable storage, as
// [os.File.Sync] does (F_FULLFSYNC on darwin).
func File(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// Dir syncs the directory dir, so that the names created, renamed or
// removed in it survive a power loss. Windows has no directory sync, and
// SQLite's own Windows VFS syncs none, so Dir does nothing there. A file
// system that cannot sync a directory (EINVAL, ENOTSUP, or
// [errors.ErrUnsupported]) is no error, as in SQLite's unixSync. If dir
// cannot be opened, the error is the [*fs.PathError] of [os.Open], with Op
// "open".
func Dir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if cannotSync(err) {
		return nil
	}
	return err
}
