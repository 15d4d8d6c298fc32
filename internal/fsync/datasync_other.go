//go:build !linux

package fsync

import "os"

// datasync flushes f with [os.File.Sync]: F_FULLFSYNC on darwin, where a
// plain fsync leaves the data in the drive's cache, FlushFileBuffers on
// Windows, fsync(2) on the other Unix systems (which retries EINTR itself).
func datasync(f *os.File) error { return f.Sync() }
