package ncruces

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrDenied is matched by every [*DeniedError]: the operating system refused
// an operation on one of a database's files that the file's permissions
// allow, as a sandbox does.
var ErrDenied = errors.New("ncruces: denied by a sandbox policy")

// DeniedError reports that opening a database failed because the operating
// system refused to create (or open) one of the files SQLite needs beside it
// — its -wal, -shm or -journal — although the directory's permissions allow
// it: a sandbox policy (Landlock, seccomp, an AppArmor or SELinux profile, a
// container's mount) is the likely cause. An [Open] that fails so has
// changed nothing on disk. It matches [ErrDenied], and the error it wraps:
// SQLite's own (ErrReadOnly or ErrCantOpen, and the system's EACCES or EPERM
// when SQLite passed it on), or the lock's that was denied.
type DeniedError struct {
	Op   string // "create", "open", or "lock" (the workspace's directory lock)
	Path string // the file
	Err  error  // what Open failed with
}

// Error names the file, the operation and the likely cause.
func (e *DeniedError) Error() string {
	return fmt.Sprintf("ncruces: %s %s: denied although the permissions allow it; a sandbox policy (Landlock, seccomp, AppArmor, SELinux, a container) is the likely cause: %v",
		e.Op, e.Path, e.Err)
}

// Unwrap returns the error Open failed with.
func (e *DeniedError) Unwrap() error { return e.Err }

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// deniedError returns err, which opening the database path with the journal
// mode journal (and EXCLUSIVE locking mode, exclusive) failed with, as a
// *DeniedError when the cause looks like a sandbox: SQLite could not write
// or create a file beside the database (ErrReadOnly, ErrCantOpen, or EACCES
// or EPERM from the system), yet access(2) says the directory and the
// database are writable. Sandboxes such as Landlock act on the operation,
// not on the permissions that access(2) checks. The file is the one the
// system named, or else the first companion file the mode needs that does
// not exist yet.
func deniedError(path, journal string, exclusive bool, err error) error {
	if !errors.Is(err, ErrReadOnly) && !errors.Is(err, ErrCantOpen) &&
		!errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) {
		return err
	}
	if errors.Is(err, ErrReadOnlyFS) || !writable(filepath.Dir(path)) || !writable(path) {
		return err
	}
	if pe, ok := errors.AsType[*fs.PathError](err); ok && errors.Is(pe.Err, fs.ErrPermission) {
		op := "open"
		if _, serr := os.Lstat(pe.Path); errors.Is(serr, fs.ErrNotExist) {
			op = "create"
		}
		return &DeniedError{Op: op, Path: pe.Path, Err: err}
	}
	var needs []string
	switch {
	case journal != "wal":
		needs = []string{"-journal"}
	case exclusive:
		needs = []string{"-wal"}
	default:
		needs = []string{"-wal", "-shm"}
	}
	for _, suffix := range needs {
		if _, serr := os.Lstat(path + suffix); errors.Is(serr, fs.ErrNotExist) {
			return &DeniedError{Op: "create", Path: path + suffix, Err: err}
		}
	}
	return err
}
