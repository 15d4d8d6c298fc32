// Same build expression as the driver's vfs/lock_other.go.
//go:build !(linux || darwin || windows || freebsd || openbsd || netbsd || dragonfly || illumos || sqlite3_flock || sqlite3_dotlk)

package ncruces

// locking: the driver has no file locking here (vfs.SupportsFileLocking is
// false); databases open only with nolock=1.
const locking = "none"
