//go:build !litedir_wasm2go

package ncruces

import "github.com/ncruces/go-sqlite3/vfs"

// sharedMemoryCopy reports whether the driver emulates shared memory by
// copying. On v0.32 that is the build expression of its vfs/shm_copy.go,
// (windows && (386 || arm || amd64 || arm64 || riscv64 || ppc64le ||
// loong64)) || sqlite3_dotlk: wherever it has shared memory with LockFileEx
// or with dot-file locks.
func sharedMemoryCopy() bool {
	return vfs.SupportsSharedMemory && (locking == "lockfileex" || locking == "dotlk")
}
