// Package fsync makes durable what litedir writes outside SQLite: the
// contents of a file, the data of an open file, and the names in a
// directory. It also places finished copies (Link, Rename), so that every
// system call through which litedir's own code makes something durable or
// gives it its final name goes through this one package.
//
// # The test hook
//
// Tests cannot see a system call from Go, so each function here first
// reports what it is about to do to the hook that [SetHook] installs: tests
// check that the calls come, and come in the right order (a copy synced
// before it is linked into place, its directory synced after), and can make
// a call fail as a failing disk would. On Linux, CI also runs litedir under
// strace and checks the system calls themselves (.ci/strace), which is what
// catches a function here whose body no longer syncs. Without a hook, each
// call costs one atomic load more.
//
// The package is internal: the ncruces, committer and workspace packages
// share it, and it is no API.
package fsync

import (
	"errors"
	"os"
	"runtime"
)

// File syncs the contents of the file at path to stable storage, as
// [os.File.Sync] does: fsync(2), F_FULLFSYNC on darwin, FlushFileBuffers on
// Windows.
func File(path string) error {
	if err := hook(Call{Op: OpFile, Path: path}); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// Data syncs the data of the open file f and the metadata needed to read it
// back (its size), as SQLite's own sync does: fdatasync(2) on Linux,
// F_FULLFSYNC on darwin (where a plain fsync does not reach the disk), and
// [os.File.Sync] elsewhere. The group committer's syncer makes the WAL
// durable with it. An interrupted call is retried. The error is an
// [*fs.PathError] naming f.
//
// It syncs through f itself, not a new descriptor: on Linux a writeback
// error is reported once per open file description, so only a descriptor
// kept open across the writes sees every one.
func Data(f *os.File) error {
	if err := hook(Call{Op: OpData, Path: f.Name()}); err != nil {
		return err
	}
	return datasync(f)
}

// Dir syncs the directory dir, so that the names created, renamed or
// removed in it survive a power loss. Windows has no directory sync, and
// SQLite's own Windows VFS syncs none, so Dir does nothing there. A file
// system that cannot sync a directory (EINVAL, ENOTSUP, or
// [errors.ErrUnsupported]) is no error, as in SQLite's unixSync. If dir
// cannot be opened, the error is the [*fs.PathError] of [os.Open], with Op
// "open".
func Dir(dir string) error {
	if err := hook(Call{Op: OpDir, Path: dir}); err != nil {
		return err
	}
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

// Link makes newname a hard link to oldname, as [os.Link] does; it fails if
// newname exists, which makes it the way to place a finished copy without
// replacing anything. It syncs nothing: sync the file before (File) and
// the directory after (Dir).
func Link(oldname, newname string) error {
	if err := hook(Call{Op: OpLink, Path: oldname, To: newname}); err != nil {
		return err
	}
	return os.Link(oldname, newname)
}

// Rename renames oldname to newname, replacing newname, as [os.Rename]
// does. It syncs nothing: sync the file before (File) and the directory
// after (Dir).
func Rename(oldname, newname string) error {
	if err := hook(Call{Op: OpRename, Path: oldname, To: newname}); err != nil {
		return err
	}
	return os.Rename(oldname, newname)
}
