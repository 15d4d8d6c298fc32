//go:build !unix && !windows

package lock

import "os"

// sysOpen opens path. plan9 has no symbolic links; on js and wasip1 the Lstat in openRegular is
// the only guard against one, which is enough where the lock cannot exclude other processes
// anyway.
func sysOpen(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag, 0o600)
}
