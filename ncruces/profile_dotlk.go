// Same build expression as the driver's vfs/os_dotlk.go.
//go:build sqlite3_dotlk

package ncruces

// locking: the driver takes a directory next to the database as a lock
// (name.db.lock) and shares the WAL index only inside the process.
const locking = "dotlk"
