package committer

import (
	"errors"
	"fmt"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/ncruces"
)

// Errors. The workspace package exports them under the same names.
var (
	// ErrClosed is returned by calls on a closed committer.
	ErrClosed = errors.New("workspace: closed")

	// ErrNestedWrite is returned by a Write, or a transaction begun through
	// DB or the front, from inside a running Write function: it would wait
	// for the batch that is running it, forever.
	ErrNestedWrite = errors.New("workspace: Write called from inside a Write function")

	// ErrBatchAborted is returned to the calls of a batch whose transaction
	// SQLite rolled back as a whole, or whose COMMIT failed; it wraps the
	// cause.
	ErrBatchAborted = errors.New("workspace: write batch aborted")

	// ErrQuerierDone is returned by a Querier used after its Write function
	// returned.
	ErrQuerierDone = errors.New("workspace: Querier used after its Write function returned")

	// ErrFailStop is returned by every request of a batch (a Write, a front
	// statement outside a transaction) after an fsync of the WAL or a
	// checkpoint failed with an I/O error: the page cache can no longer be
	// trusted to match the disk (PostgreSQL's "fsyncgate"), so no batch is
	// acknowledged until the workspace is reopened. It wraps the first
	// failure. Failing to open a file (too many open files, say) is not
	// such a failure.
	ErrFailStop = errors.New("workspace: stopped after a failed fsync or checkpoint; reopen the workspace")

	// ErrLeaseRevoked is returned by statements on a DB connection or a
	// transaction that Close took back after waiting for it.
	ErrLeaseRevoked = errors.New("workspace: the writer connection was taken back by Close")

	// ErrMoved is returned by every request of a batch when, just before
	// its COMMIT, the database file or its WAL at their paths are no longer
	// the files the writer connection has open: moved, replaced or deleted
	// (the directory too). The batch is rolled back; writes to an unlinked
	// file would be lost when the workspace closes. It is checked again
	// before every batch, so writes resume if the files come back.
	ErrMoved = errors.New("workspace: the database file was moved, replaced or deleted")

	// ErrRefused is matched by the error of a statement that would change
	// the writer connection for the requests after it, refused where other
	// callers share the connection: transaction control, a pragma that sets
	// a connection setting, ATTACH or DETACH inside a batch (a Write
	// function, a front statement outside a transaction, a statement a
	// Write function runs through DB or the front), and a temporary table,
	// view, index or trigger that a batch request leaves behind (its work
	// is rolled back). The error also matches SQLite's SQLITE_AUTH.
	ErrRefused = errors.New("workspace: statement refused: it would change the shared writer connection")
)

// refusal is a refused statement: it matches ErrRefused and sqlite3.AUTH.
type refusal struct{ why string }

func (e *refusal) Error() string { return fmt.Sprintf("%v: %s", ErrRefused, e.why) }

func (e *refusal) Is(target error) bool { return target == ErrRefused || target == sqlite3.AUTH }

var (
	errTxControl = &refusal{"transaction control is not allowed in a batch (use DB or the front's BeginTx)"}
	errSession   = &refusal{"PRAGMA settings, ATTACH and DETACH are not allowed in a batch (use DB, whose connection is reset after it)"}
	errTempLeft  = &refusal{"a batch request must drop the temporary objects it creates before it returns; its work was rolled back"}
)

// abortError is what the calls of an aborted batch return: it matches
// ErrBatchAborted and unwraps to the cause.
type abortError struct{ cause error }

func (e *abortError) Error() string        { return fmt.Sprintf("%v: %v", ErrBatchAborted, e.cause) }
func (e *abortError) Is(target error) bool { return target == ErrBatchAborted }
func (e *abortError) Unwrap() error        { return e.cause }

// BusyError reports a call that waited for a connection longer than the
// busy timeout, as SQLite's own SQLITE_BUSY does: it matches ncruces.ErrBusy,
// and says what held the connection. A call that waits for a connection its
// own goroutine holds — a statement outside a transaction that the
// goroutine holds open, a query while its own Rows hold every read
// connection, a front statement from a Write function whose front pool is
// full of callers waiting for that function's batch — ends this way instead
// of waiting forever.
type BusyError struct {
	Op     string        // the call: "write", "exec", "query", "begin", ...
	Path   string        // the database file
	Waited time.Duration // how long it waited
	Holder string        // what held the connection
}

// Error says what waited, for how long, and for what.
func (e *BusyError) Error() string {
	return fmt.Sprintf("workspace: %s %s: waited %v for %s", e.Op, e.Path, e.Waited.Round(time.Millisecond), e.Holder)
}

// Is reports whether target is ncruces.ErrBusy.
func (e *BusyError) Is(target error) bool { return target == ncruces.ErrBusy }

// errf wraps err with the operation and the database path.
func (c *Committer) errf(op string, err error) error {
	return fmt.Errorf("workspace: %s %s: %w", op, c.path, err)
}
