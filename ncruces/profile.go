package ncruces

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/ncruces/go-sqlite3/vfs"
)

// Profile is what this platform's driver build can do (file locking, shared
// memory for the WAL index) and what litedir does about it. [Open] applies
// the profile of [Config].Profile, or [Platform] when that is nil.
//
// The driver's capabilities come from build constraints in its vfs package;
// the per-build files of this package (profile_ofd.go, profile_bsd.go,
// profile_windows.go, profile_dotlk.go, profile_other.go) share those
// constraints and only name the locking mechanism. What differs between the
// driver litedir pins (v0.32, on wazero) and the ones the litedir_wasm2go tag
// builds against (v0.33 and later) follows the driver actually linked:
// SupportsSharedMemory is the driver's own constant (from v0.34 shared memory
// no longer depends on the CPU, so big-endian ones have it), and whether
// Windows copies shared memory is told by profile_wazero.go and
// profile_wasm2go.go.
type Profile struct {
	GOOS, GOARCH string

	// Locking is the driver's file-locking mechanism: "ofd" (open file
	// description locks, Linux and macOS), "flock" (BSD locks: the BSDs,
	// illumos and the sqlite3_flock tag), "lockfileex" (Windows), "dotlk"
	// (dot-file locks, the sqlite3_dotlk tag) or "none".
	Locking string

	// FileLocking is vfs.SupportsFileLocking: without it SQLite can only open
	// a database with nolock=1.
	FileLocking bool

	// SharedMemory is vfs.SupportsSharedMemory: without it WAL works only in
	// EXCLUSIVE locking mode, with the WAL index in heap memory.
	SharedMemory bool

	// SharedMemoryCopy is true where the driver emulates shared memory by
	// copying the WAL index in and out of each connection: sqlite3_dotlk
	// builds, and Windows up to driver v0.35.2 (from v0.35.3 on, with
	// -tags litedir_wasm2go, the driver maps the -shm file there like
	// SQLite's own Windows VFS). Concurrent WAL connections can then
	// corrupt the database (ncruces/go-sqlite3 issue #404), so litedir does
	// not use it.
	SharedMemoryCopy bool

	// ImmediateIsExclusive is true with BSD locks: BEGIN IMMEDIATE takes the
	// same lock as BEGIN EXCLUSIVE. With a rollback journal a writer then
	// also blocks readers; in WAL mode the two were the same already.
	ImmediateIsExclusive bool

	// SingleConnection is true when litedir uses one connection per database
	// (no separate read pool); Open then uses MaxConns 1.
	SingleConnection bool

	// LockingExclusive is true when Open sets PRAGMA locking_mode=EXCLUSIVE
	// right after busy_timeout, because shared memory is missing or copied:
	// SQLite then keeps the WAL index in heap memory and holds the database
	// lock until the connection closes, so no other process can read it
	// meanwhile.
	LockingExclusive bool

	// NoLock is true when the build has no file locking: Open adds nolock=1
	// to the DSN, uses a rollback journal (journal_mode=DELETE) and one
	// connection. Only litedir's directory lock keeps other processes out.
	NoLock bool

	// JournalMode is the journal mode Open asks for: "wal" or "delete".
	JournalMode string

	// FullFsync is true on darwin (macOS, iOS), where fsync only hands the
	// data to the drive, whose cache may still lose it or write it out of
	// order; only F_FULLFSYNC flushes it. The driver issues F_FULLFSYNC only
	// where SQLite asks for a full sync, so Open turns on
	// checkpoint_fullfsync=ON (the checkpoint and WAL-header syncs, which
	// order the WAL before the database) and fullfsync=ON (the commit syncs:
	// FULL's durability; at NORMAL in WAL mode commits do not sync, so it
	// costs nothing there but still protects the rollback-journal
	// transaction that creates a database). Pragmas that set either one
	// explicitly win. See [Config].Pragmas.
	FullFsync bool

	// Filesystem is the filesystem of the database the profile is for, as
	// [Profile.OnFilesystem] was given it; zero in the profile of
	// [Platform], which is for no database in particular.
	Filesystem Filesystem

	// FilesystemMode is the mode OnFilesystem applied.
	FilesystemMode FilesystemMode

	// Notes are human-readable reasons for every adjustment, for status
	// output and the CLI. Empty on fully capable platforms and filesystems.
	Notes []string
}

// OnFilesystem returns the profile p for a database on the filesystem f,
// with mode deciding how f counts:
//
//   - FilesystemAuto: on a filesystem that is not [Filesystem.Local]
//     (network, FUSE), the single-connection profile of [Profile.Exclusive]:
//     EXCLUSIVE locking mode keeps the WAL index in heap memory, so no -shm
//     is shared through the filesystem, and the connection holds the
//     database for as long as it is open. On a local filesystem, p as it is.
//   - FilesystemNetwork: the single-connection profile on any filesystem.
//   - FilesystemLocal: p as it is on any filesystem; on one that is not
//     local, a note names the risk.
//
// A profile that already uses one connection keeps its mode (a rollback
// journal without locks stays so). p itself is not changed.
func (p Profile) OnFilesystem(f Filesystem, mode FilesystemMode) Profile {
	p.Notes = slices.Clone(p.Notes)
	p.Filesystem, p.FilesystemMode = f, mode
	switch {
	case mode == FilesystemNetwork:
		return p.Exclusive(fmt.Sprintf("filesystem mode network (the database is on %s): EXCLUSIVE locking mode and one connection, no WAL index shared through the filesystem; other processes cannot read while the database is open", f))
	case mode == FilesystemAuto && !f.Local():
		return p.Exclusive(fmt.Sprintf("the database is on a %s filesystem (%s), whose shared memory and locks SQLite's WAL cannot trust: EXCLUSIVE locking mode and one connection, no WAL index shared through it; other processes cannot read while the database is open", f.Kind, f.Type))
	case mode == FilesystemLocal && !f.Local():
		p.Notes = append(p.Notes, fmt.Sprintf("filesystem mode local on a %s filesystem (%s): WAL's index is shared through it; processes on two hosts, or a filesystem that does not keep one host's mappings and locks coherent, can corrupt the database", f.Kind, f.Type))
	}
	return p
}

// Exclusive returns p with one connection in EXCLUSIVE locking mode, the
// profile that shares no WAL index through the filesystem, and note among
// its Notes. A profile without locks (NoLock) or already exclusive is
// returned as it is.
func (p Profile) Exclusive(note string) Profile {
	if p.NoLock || p.LockingExclusive {
		return p
	}
	p.LockingExclusive = true
	p.SingleConnection = true
	p.Notes = append(slices.Clone(p.Notes), note)
	return p
}

// NoLocking returns p without SQLite's file locks (nolock=1), a rollback
// journal and one connection, and note among its Notes: the profile for a
// filesystem that refuses SQLite's locks, where only the workspace's
// directory lock keeps other processes out. SQLite cannot open a database
// in WAL format without locks (SQLITE_CANTOPEN).
func (p Profile) NoLocking(note string) Profile {
	if p.NoLock {
		return p
	}
	p.NoLock = true
	p.SingleConnection = true
	p.LockingExclusive = false
	p.JournalMode = "delete"
	p.Notes = append(slices.Clone(p.Notes), note)
	return p
}

// Platform returns the profile of the running build: runtime.GOOS and
// runtime.GOARCH, the driver's vfs.SupportsFileLocking and
// vfs.SupportsSharedMemory, and the locking mechanism chosen by the same
// build constraints as the driver's. It returns a new value on every call.
func Platform() Profile {
	return profileFor(runtime.GOOS, runtime.GOARCH, locking, vfs.SupportsFileLocking, vfs.SupportsSharedMemory, sharedMemoryCopy())
}

// profileFor is the decision behind Platform, kept pure so that it can be
// tested for every platform class from any platform.
// shmCopy is whether the driver's shared memory is a copy (see
// sharedMemoryCopy); it only counts where there is shared memory at all.
func profileFor(goos, goarch, locking string, fileLocking, sharedMemory, shmCopy bool) Profile {
	p := Profile{
		GOOS:             goos,
		GOARCH:           goarch,
		Locking:          locking,
		FileLocking:      fileLocking,
		SharedMemory:     sharedMemory,
		SharedMemoryCopy: fileLocking && sharedMemory && shmCopy,
		JournalMode:      "wal",
		FullFsync:        goos == "darwin" || goos == "ios",
	}
	if !fileLocking {
		p.Locking = "none"
	}

	switch p.Locking {
	case "flock":
		p.ImmediateIsExclusive = true
		p.Notes = append(p.Notes, "BSD flock locks: BEGIN IMMEDIATE behaves like BEGIN EXCLUSIVE (with a rollback journal, a writer blocks readers)")
	case "dotlk":
		p.Notes = append(p.Notes, "dot-file locks (sqlite3_dotlk): one process at a time can use the database")
	}

	switch {
	case !fileLocking:
		p.NoLock = true
		p.SingleConnection = true
		p.JournalMode = "delete"
		p.Notes = append(p.Notes, "no file locking in this driver build: nolock=1, rollback journal, one connection; only the data-directory lock keeps other processes out")
	case p.SharedMemoryCopy:
		p.LockingExclusive = true
		p.SingleConnection = true
		p.Notes = append(p.Notes, "WAL shared memory is emulated by copying (ncruces/go-sqlite3 issue #404): EXCLUSIVE locking mode and one connection; other processes cannot read while the database is open")
	case !sharedMemory:
		p.LockingExclusive = true
		p.SingleConnection = true
		p.Notes = append(p.Notes, "no WAL shared memory on "+goos+"/"+goarch+": EXCLUSIVE locking mode and one connection; other processes cannot read while the database is open")
	}
	return p
}
