package workspace

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by operations on a closed Workspace handle.
	ErrClosed = errors.New("workspace: closed")

	// ErrInvalidOptions is returned for Options that cannot work, such as a
	// Name with a path separator or a negative Readers.
	ErrInvalidOptions = errors.New("workspace: invalid options")

	// ErrIncompatible is returned when a second Open of a directory in the
	// same process asks for settings (Sharing, SkipLock, Readers, Pragmas)
	// other than those its shared entry was opened with.
	ErrIncompatible = errors.New("workspace: incompatible options for an open workspace")

	// ErrNotDir is returned, inside a *fs.PathError, when the workspace
	// directory (or one of its parents) is not a directory.
	ErrNotDir = errors.New("workspace: not a directory")

	// ErrNestedWrite is returned by a Write called from inside the function
	// of another Write on the same workspace: the inner call would wait for
	// the batch that is running it, forever.
	ErrNestedWrite = errors.New("workspace: Write called from inside a Write function")

	// ErrBatchAborted is returned to the Write calls of a batch whose
	// transaction SQLite rolled back as a whole (for example after a disk
	// full or I/O error in one function), or whose COMMIT failed. None of the
	// batch's work was committed; it wraps the cause.
	ErrBatchAborted = errors.New("workspace: write batch aborted")

	// ErrExists is returned, inside a *fs.PathError, by Backup when the
	// destination already exists.
	ErrExists = errors.New("workspace: backup destination exists")

	// ErrCheckFailed is returned by CheckReport.Err when a check found
	// problems.
	ErrCheckFailed = errors.New("workspace: check failed")
)

// abortError is what the Write calls of an aborted batch return: it matches
// ErrBatchAborted and unwraps to the cause.
type abortError struct {
	cause error
}

func (e *abortError) Error() string {
	return fmt.Sprintf("%v: %v", ErrBatchAborted, e.cause)
}

func (e *abortError) Is(target error) bool { return target == ErrBatchAborted }

func (e *abortError) Unwrap() error { return e.cause }
