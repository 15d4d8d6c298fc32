package ncruces

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isDiskFull reports whether err is ERROR_DISK_FULL or
// ERROR_HANDLE_DISK_FULL.
func isDiskFull(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

// dirSyncs is false: Windows has no directory fsync, and SQLite's own
// Windows VFS syncs none either.
const dirSyncs = false

// readOnlyFS returns nil: a read-only volume reports the open itself as
// denied on Windows.
func readOnlyFS(string) error { return nil }
