//go:build litedir_wasm2go

package ncruces

import "github.com/ncruces/go-sqlite3/vfs"

// sharedMemoryCopy reports whether the driver linked emulates shared memory
// by copying, which build tags alone cannot tell here: the build expression
// of vfs/shm_copy.go is sqlite3_dotlk from v0.35.3 on, where Windows maps the
// -shm file instead, but it still includes windows on v0.33.0 to v0.35.2. The
// driver's version decides; one that cannot be told (a driver replaced by a
// directory) counts as copying, which costs concurrency but never data.
func sharedMemoryCopy() bool {
	switch locking {
	case "dotlk":
		return true
	case "lockfileex":
		return vfs.SupportsSharedMemory && !versionAtLeast(driverVersion(), 0, 35, 3)
	}
	return false
}
