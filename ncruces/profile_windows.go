// Same build expression as the driver's vfs/os_windows.go, which is also
// left out by sqlite3_flock (os_bsd.go would clash with it).
//go:build windows && !(sqlite3_flock || sqlite3_dotlk)

package ncruces

// locking: the driver uses LockFileEx, like SQLite's Windows VFS.
const locking = "lockfileex"
