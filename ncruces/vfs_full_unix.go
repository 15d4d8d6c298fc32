//go:build unix

package ncruces

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// isDiskFull reports whether err is ENOSPC, or EDQUOT: a quota is a full
// disk to the user it applies to.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// dirSyncs is true where syncDir syncs directories.
const dirSyncs = true

// syncDir syncs the directory dir: fsync on Linux, F_FULLFSYNC on darwin
// (Go's File.Sync). A directory that cannot be opened, or a file system
// that cannot sync one (EINVAL, ENOTSUP), is no error, as in SQLite's
// unixSync.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// readOnlyFS returns an error matching syscall.EROFS if dir is on a
// read-only file system, and nil otherwise. access(2) reports EROFS for
// every caller, root too.
func readOnlyFS(dir string) error {
	if err := unix.Access(dir, unix.W_OK); errors.Is(err, unix.EROFS) {
		return &fs.PathError{Op: "access", Path: dir, Err: err}
	}
	return nil
}
