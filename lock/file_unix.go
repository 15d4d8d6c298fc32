//go:build unix

package lock

import (
	"os"

	"golang.org/x/sys/unix"
)

// sysOpen opens path without following a symbolic link in its last element (O_NOFOLLOW), so
// the lock never writes through a link. os.OpenFile adds O_CLOEXEC: the lock file must not leak
// into child processes, where it would keep the lock alive after this process releases it.
func sysOpen(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag|unix.O_NOFOLLOW, 0o600)
}
