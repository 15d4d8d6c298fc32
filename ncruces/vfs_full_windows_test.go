package ncruces

import (
	"testing"

	"golang.org/x/sys/windows"
)

// TestIsDiskFull checks which errors of the system the litedir VFS reports as
// SQLITE_FULL: ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL, bare or wrapped
// the way os and the default VFS wrap them, and nothing else.
func TestIsDiskFull(t *testing.T) {
	testIsDiskFull(t, []diskFullCase{
		{"ERROR_DISK_FULL", windows.ERROR_DISK_FULL, true},
		{"ERROR_HANDLE_DISK_FULL", windows.ERROR_HANDLE_DISK_FULL, true},
		{"ERROR_WRITE_FAULT", windows.ERROR_WRITE_FAULT, false},
		{"ERROR_ACCESS_DENIED", windows.ERROR_ACCESS_DENIED, false},
		{"ERROR_LOCK_VIOLATION", windows.ERROR_LOCK_VIOLATION, false},
	})
}
