//go:build !linux

package committer

import "os"

// datasync flushes f to disk (on macOS with F_FULLFSYNC, which Go's Sync
// uses there).
func datasync(f *os.File) error { return f.Sync() }
