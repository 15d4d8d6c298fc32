// Same build expression as the driver's vfs/os_bsd.go.
//go:build ((freebsd || openbsd || netbsd || dragonfly || illumos) && !sqlite3_dotlk) || sqlite3_flock

package ncruces

// locking: the driver uses BSD flock, which has no byte ranges, so the
// RESERVED and EXCLUSIVE locks are the same lock.
const locking = "flock"
