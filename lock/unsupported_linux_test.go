//go:build linux

package lock

import (
	"testing"

	"github.com/litedir/litedir/internal/testfuse"
)

// TestFilesystemWithoutLocks runs on a real FUSE mount that refuses every lock with ENOSYS,
// as FUSE filesystems without lock support answer: Acquire fails with ErrUnsupported, and with
// AllowInProcess holds an in-process lock that says so. On a mount that refuses record locks
// but takes flock, the lock is a real one.
func TestFilesystemWithoutLocks(t *testing.T) {
	t.Run("refuse all", func(t *testing.T) {
		mnt, _ := testfuse.Mount(t, testfuse.RefuseAll)
		checkUnsupported(t, mnt)
	})
	t.Run("refuse record locks", func(t *testing.T) {
		mnt, _ := testfuse.Mount(t, testfuse.RefuseRecordLocks)
		l := mustAcquire(t, mnt, Options{AllowInProcess: true})
		if l.InProcess() {
			t.Errorf("InProcess: got true, want a flock lock on a filesystem that takes flock")
		}
	})
}
