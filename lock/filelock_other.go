//go:build !unix && !windows

package lock

import "os"

// supported is Supported here.
const supported = false

// errWouldBlock is never returned here: lockFile takes no lock to wait for.
var errWouldBlock = ErrUnsupported

// plan9, js and wasip1 offer no advisory locks (plan9's exclusive-use files would refuse even a
// reader of the owner record), so lockFile reports ErrUnsupported, as Go's own
// cmd/go/internal/lockedfile/internal/filelock does. Acquire then fails, or, with
// Options.AllowInProcess, holds a lock that table.go's in-process table keeps: it excludes the
// other Acquire calls of this process, and no other process.

// lockFile takes no lock: there is none to take.
func lockFile(*os.File, Mode) error { return ErrUnsupported }

// unlockFile is never called: no lock is ever taken.
func unlockFile(*os.File) error { return ErrUnsupported }

// heldShared is never asked: lockFile never reports contention.
func heldShared(*os.File) bool { return false }

// unsupported reports whether err is lockFile's answer.
func unsupported(err error) bool { return err == ErrUnsupported }
