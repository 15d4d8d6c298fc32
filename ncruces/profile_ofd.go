// Same build expression as the driver's vfs/os_ofd.go.
//go:build (linux || darwin) && !(sqlite3_flock || sqlite3_dotlk)

package ncruces

// locking: the driver uses open file description locks (F_OFD_SETLK), which
// belong to the open file rather than the process, so connections in one
// process exclude each other like connections in different processes.
const locking = "ofd"
