//go:build unix

package fsync

import (
	"errors"
	"syscall"
)

// cannotSync reports whether err says that the file system cannot sync a
// directory.
func cannotSync(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, errors.ErrUnsupported)
}
