package fsync

import (
	"fmt"
	"sync/atomic"
)

// Op is what a call of this package does, as the test hook sees it.
type Op string

// The calls of this package.
const (
	OpFile   Op = "file"   // File: the contents of a file, by path
	OpData   Op = "data"   // Data: the data of an open file
	OpDir    Op = "dir"    // Dir: the names in a directory
	OpLink   Op = "link"   // Link: a hard link, Path to To
	OpRename Op = "rename" // Rename: Path renamed to To
)

// Call is one call of this package, as the test hook sees it.
type Call struct {
	Op   Op
	Path string // the file or directory; the old name for OpLink and OpRename
	To   string // the new name for OpLink and OpRename
}

// String returns "op path" or "op path -> to".
func (c Call) String() string {
	if c.To != "" {
		return fmt.Sprintf("%s %s -> %s", c.Op, c.Path, c.To)
	}
	return fmt.Sprintf("%s %s", c.Op, c.Path)
}

type hookBox struct{ f func(Call) error }

var current atomic.Pointer[hookBox]

// SetHook makes every call of this package call h first, from the caller's
// goroutine, until the returned function restores the previous hook. When h
// returns an error, the call fails with it and does nothing else (no system
// call), as if the disk had failed: tests inject faults that way. h sees the
// calls of every goroutine, and of every test of the process that runs at
// the same time: it should filter by path. For tests.
func SetHook(h func(Call) error) (restore func()) {
	old := current.Swap(&hookBox{h})
	return func() { current.Store(old) }
}

// hook reports c to the test hook, if one is set, and returns its verdict.
func hook(c Call) error {
	if b := current.Load(); b != nil && b.f != nil {
		return b.f(c)
	}
	return nil
}
