//go:build unix

package fsync

import (
	"fmt"
	"syscall"
	"testing"
)

func TestCannotSyncUnix(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EINVAL, syscall.ENOTSUP} {
		if !cannotSync(fmt.Errorf("sync: %w", errno)) {
			t.Errorf("cannotSync(%v): got false, want true", errno)
		}
	}
	if cannotSync(syscall.EIO) {
		t.Error("cannotSync(EIO): got true, want false: an I/O error is a failed sync")
	}
}
