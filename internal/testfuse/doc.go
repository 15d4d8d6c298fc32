// Package testfuse mounts, for tests, a loopback FUSE filesystem that refuses
// file locks the way some FUSE and network filesystems do: all of them, the
// byte-range (fcntl) ones only, or those on SQLite's -shm files only. Built on
// github.com/hanwen/go-fuse/v2; Linux only, as root (elsewhere [Mount] skips
// the test and says why).
//
// The kernel forwards every lock to the filesystem (go-fuse's EnableLocks),
// which either takes it on the underlying file, as go-fuse's loopback does,
// or answers ENOSYS: what a FUSE server without lock support answers, and
// what the lock package and SQLite's driver then see. statfs(2) reports the
// mount as FUSE, and /proc/self/mountinfo as "fuse.litedirtest".
package testfuse
