//go:build unix

package ncruces

import (
	"syscall"
	"testing"
)

// TestIsDiskFull checks which errors of the system the litedir VFS reports as
// SQLITE_FULL: ENOSPC and EDQUOT, bare or wrapped the way os and the
// default VFS wrap them, and nothing else.
func TestIsDiskFull(t *testing.T) {
	testIsDiskFull(t, []diskFullCase{
		{"ENOSPC", syscall.ENOSPC, true},
		{"EDQUOT", syscall.EDQUOT, true},
		{"EIO", syscall.EIO, false},
		{"EACCES", syscall.EACCES, false},
		{"EFBIG", syscall.EFBIG, false},
		{"EROFS", syscall.EROFS, false},
	})
}
