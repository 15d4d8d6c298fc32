package testfuse

import "strings"

// Name is the FUSE subtype of the mounts: their type is "fuse." + Name.
const Name = "litedirtest"

// Policy says which locks the filesystem refuses.
type Policy int

const (
	// RefuseAll refuses every lock, flock(2) and fcntl(2) alike, as a FUSE filesystem that
	// implements none answers when the kernel forwards them.
	RefuseAll Policy = iota
	// RefuseRecordLocks refuses fcntl(2) record locks (POSIX and OFD, which SQLite takes) and
	// takes flock(2) locks (which the directory lock takes), as NFS mounted with
	// local_lock=flock does without a lock manager.
	RefuseRecordLocks
	// RefuseSharedMemoryLocks refuses every lock on files whose names end in "-shm" only:
	// SQLite's WAL index cannot be shared, its database locks work.
	RefuseSharedMemoryLocks
)

// String names the policy.
func (p Policy) String() string {
	switch p {
	case RefuseAll:
		return "refuse all locks"
	case RefuseRecordLocks:
		return "refuse record locks"
	case RefuseSharedMemoryLocks:
		return "refuse -shm locks"
	}
	return "Policy(?)"
}

// refuses reports whether p refuses a lock on the file name; flock says which kind.
func (p Policy) refuses(name string, flock bool) bool {
	switch p {
	case RefuseAll:
		return true
	case RefuseRecordLocks:
		return !flock
	case RefuseSharedMemoryLocks:
		return strings.HasSuffix(name, "-shm")
	}
	return false
}
