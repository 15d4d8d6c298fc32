//go:build unix

package ncruces

import (
	"errors"
	"io/fs"
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

// readOnlyFS returns an error matching syscall.EROFS if dir is on a
// read-only file system, and nil otherwise. access(2) reports EROFS for
// every caller, root too.
func readOnlyFS(dir string) error {
	if err := unix.Access(dir, unix.W_OK); errors.Is(err, unix.EROFS) {
		return &fs.PathError{Op: "access", Path: dir, Err: err}
	}
	return nil
}
