//go:build linux

package testfuse_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litedir/litedir/internal/testfuse"
)

// TestPolicies checks on real mounts that each policy refuses exactly the locks it names,
// with ENOSYS, and that the locks it takes exclude each other across open files.
func TestPolicies(t *testing.T) {
	for _, tt := range []struct {
		policy             testfuse.Policy
		flock, record, shm bool // locks taken: flock on a file, fcntl on a file, fcntl on a -shm
	}{
		{testfuse.RefuseAll, false, false, false},
		{testfuse.RefuseRecordLocks, true, false, false},
		{testfuse.RefuseSharedMemoryLocks, true, true, false},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			mnt, src := testfuse.Mount(t, tt.policy)
			var st unix.Statfs_t
			if err := unix.Statfs(mnt, &st); err != nil || st.Type != unix.FUSE_SUPER_MAGIC {
				t.Errorf("statfs: type %#x, %v; want FUSE", st.Type, err)
			}
			f := mustCreate(t, filepath.Join(mnt, "x.db"))
			shm := mustCreate(t, filepath.Join(mnt, "x.db-shm"))
			if _, err := os.Stat(filepath.Join(src, "x.db-shm")); err != nil {
				t.Errorf("the file is not in the source directory: %v", err)
			}
			check := func(what string, err error, taken bool) {
				t.Helper()
				switch {
				case taken && err != nil:
					t.Errorf("%s: got %v, want the lock", what, err)
				case !taken && !errors.Is(err, syscall.ENOSYS):
					t.Errorf("%s: got %v, want ENOSYS", what, err)
				}
			}
			check("flock", unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB), tt.flock)
			if tt.flock {
				other := mustCreate(t, filepath.Join(mnt, "x.db"))
				if err := unix.Flock(int(other.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
					t.Errorf("a second flock: got %v, want EWOULDBLOCK", err)
				}
			}
			lk := unix.Flock_t{Type: unix.F_WRLCK, Start: 1 << 30, Len: 1}
			check("F_OFD_SETLK", unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk), tt.record)
			lk = unix.Flock_t{Type: unix.F_WRLCK, Start: 120, Len: 1}
			check("F_OFD_SETLK on -shm", unix.FcntlFlock(shm.Fd(), unix.F_OFD_SETLK, &lk), tt.shm)
		})
	}
}

func mustCreate(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
