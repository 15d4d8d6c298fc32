//go:build !unix

package fsync

import "errors"

// cannotSync reports whether err says that the file system cannot sync a
// directory.
func cannotSync(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
