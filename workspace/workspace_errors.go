package workspace

import (
	"errors"

	"github.com/litedir/litedir/internal/committer"
)

var (
	// ErrClosed is returned by operations on a closed Workspace handle, and
	// by Writes still queued when the last handle closed.
	ErrClosed = committer.ErrClosed

	// ErrInvalidOptions is returned for Options that cannot work, such as a
	// Name with a path separator or a negative Readers.
	ErrInvalidOptions = errors.New("workspace: invalid options")

	// ErrIncompatible is returned when a second Open of a directory in the
	// same process asks for settings (Sharing, SkipLock, Readers, Pragmas,
	// Filesystem) other than those its shared entry was opened with.
	ErrIncompatible = errors.New("workspace: incompatible options for an open workspace")

	// ErrNotDir is returned, inside a *fs.PathError, when the workspace
	// directory (or one of its parents) is not a directory.
	ErrNotDir = errors.New("workspace: not a directory")

	// ErrNestedWrite is returned by a Write called from inside the function
	// of another Write on the same workspace, and by a transaction begun
	// there through DB or SQL: the inner call would wait for the batch that
	// is running it, forever.
	ErrNestedWrite = committer.ErrNestedWrite

	// ErrBatchAborted is returned to the Write calls (and front statements)
	// of a batch whose transaction SQLite rolled back as a whole (for example
	// after a disk full or I/O error in one function), or whose COMMIT
	// failed. None of the batch's work was committed; it wraps the cause.
	ErrBatchAborted = committer.ErrBatchAborted

	// ErrQuerierDone is returned by a Querier used after its Write function
	// returned. (QueryRowContext's Row reports context.Canceled instead: a
	// *sql.Row cannot carry an error of ours.)
	ErrQuerierDone = committer.ErrQuerierDone

	// ErrFailStop is returned by every Write, and every front statement
	// outside a transaction, after an fsync of the WAL or a checkpoint
	// failed with an I/O error: the operating system may have dropped the
	// pages that failed, so no batch is acknowledged until the workspace is
	// closed and opened again. It wraps the first failure. (Transactions of
	// DB and the front's BeginTx run on the writer between batches and are
	// not stopped.)
	ErrFailStop = committer.ErrFailStop

	// ErrLeaseRevoked is returned by statements on a transaction or
	// connection of DB or SQL that was still open when Close gave up
	// waiting for it (see Options.CloseWait), and is wrapped in that
	// Close's error.
	ErrLeaseRevoked = committer.ErrLeaseRevoked

	// ErrPanicked is matched by every *PanicError.
	ErrPanicked = committer.ErrPanicked

	// ErrMoved is returned to every Write and front statement of a batch
	// when, just before its COMMIT, the database file or its WAL at their
	// paths are no longer the files the workspace opened — moved, replaced
	// or deleted, or the whole directory with them. The batch is rolled
	// back instead of committed into a file nobody would find again. It is
	// checked before every batch: writes resume if the files come back.
	ErrMoved = committer.ErrMoved

	// ErrRefused is matched by the error of a statement that would change
	// the writer connection for the callers after it, where it is shared:
	// transaction control, a pragma that sets a connection setting,
	// ATTACH or DETACH, run in a Write function, as a front statement
	// outside a transaction, or from a Write function through DB or SQL;
	// and a temporary table, view, index or trigger that such a request
	// leaves behind (its work is rolled back). Under DB, or in a transaction
	// of the front, they run, and the writer connection is replaced when
	// it is let go.
	ErrRefused = committer.ErrRefused

	// ErrExists is returned, inside a *fs.PathError, by Backup when the
	// destination already exists.
	ErrExists = errors.New("workspace: backup destination exists")

	// ErrNotRegular is returned, inside a *fs.PathError, by a copy with
	// CopyOptions.Replace whose destination is not a regular file: only
	// files are replaced, never a directory or what a link points to.
	ErrNotRegular = errors.New("workspace: destination is not a regular file")

	// ErrCheckFailed is returned by CheckReport.Err when a check found
	// problems.
	ErrCheckFailed = errors.New("workspace: check failed")

	// ErrDataLost is returned by RecoverReport.Err when a recovery could not
	// recover every row: some are in lost_and_found, or pages of a table
	// were damaged.
	ErrDataLost = errors.New("workspace: rows could not be recovered")

	// ErrNotRecoverable is returned by Recover when the damaged file holds
	// no SQLite page at all: there is nothing to recover.
	ErrNotRecoverable = errors.New("workspace: no SQLite pages to recover")

	// ErrFilesystem is returned by Open when the workspace's filesystem
	// cannot give it what it needs even in the safest profile: the lock
	// file cannot be locked (the error also matches lock.ErrUnsupported;
	// Options.InProcessLock accepts an in-process lock instead), or SQLite
	// cannot take its locks on the database and nothing else keeps other
	// processes out. The message names the filesystem and what to do; the
	// chain holds the cause.
	ErrFilesystem = errors.New("workspace: the filesystem cannot hold the workspace")
)

// PanicError is a panic recovered in a statement that SQL or DB ran — in a
// driver.Valuer, or in the engine — returned as an error: database/sql holds
// locks while it calls the driver and releases them only on a normal
// return, so the panic cannot be re-raised through it. (Write re-raises
// such panics in its caller instead.)
type PanicError = committer.PanicError

// BusyError is returned, matching ncruces.ErrBusy, by a Write, a front
// statement or a statement of DB that waited for the writer connection, or
// a front query that waited for a read connection, longer than the busy
// timeout (at least a second): as SQLite's own writers do, it gives up
// rather than wait forever, and says what held the connection. A goroutine
// that holds a transaction of DB or the front and runs a statement outside
// it, or that keeps Rows open on every read connection and starts another
// query, would otherwise wait for itself.
type BusyError = committer.BusyError
