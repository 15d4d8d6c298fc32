//go:build unix

package ncruces

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// ignoringEINTR calls fn until it does not fail with EINTR: statfs on a network filesystem can
// be interrupted by a signal while it waits for the server.
func ignoringEINTR(fn func() error) error {
	for {
		err := fn()
		if err != unix.EINTR {
			return err
		}
	}
}

// cString returns the NUL-terminated string at the start of b.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
