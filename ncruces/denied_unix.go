//go:build unix

package ncruces

import "golang.org/x/sys/unix"

// writable reports whether access(2) lets this process write path.
func writable(path string) bool {
	return unix.Access(path, unix.W_OK) == nil
}
