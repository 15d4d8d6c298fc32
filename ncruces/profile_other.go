// Same build expression as the driver's vfs/lock_other.go.
//go:build !(linux || darwin || windows || freebsd || openbsd || netbsd || dragonfly || illumos || sqlite3_flock || sqlite3_dotlk)

package ncruces

// locking: the driver has no file locking here (vfs.SupportsFileLocking is
// false); databases open only with nolock=1.
//
// This is litedir's default on wasip1 and js (and solaris, aix, plan9):
// nolock=1 with a rollback journal, rather than the sqlite3_dotlk build tag
// (profile_dotlk.go), which would let SQLite exclude a second instance with a
// lock directory beside the database. The reason is how WebAssembly
// instances end: no signal reaches them, so a host stops one by closing it,
// which is a kill, and a killed instance leaves its dot-lock behind; every
// later open then fails with SQLITE_BUSY until someone removes the lock by
// hand, and nothing can tell a stale one from a live one (every wasip1
// instance reports pid 3). Without the tag one instance at a time per
// directory is the embedder's rule to keep; builds that run several
// instances on one directory should use -tags sqlite3_dotlk and clear stale
// locks themselves.
const locking = "none"
