package workspace

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/litedir/litedir/internal/committer"
	"github.com/litedir/litedir/ncruces"
)

// Querier is what a [Workspace.Write] function gets to run its statements:
// the common subset of *sql.DB, *sql.Tx and *sql.Conn, as sqlc-generated code
// expects it (its DBTX interface). It is valid only until the function
// returns. Every statement it runs — Exec, Query, QueryRow and Prepare alike
// — is prepared once and cached on the writer connection.
type Querier = committer.Querier

// Write runs fn in a transaction of the writer connection and returns after
// that transaction has committed (durable as far as PRAGMA synchronous
// makes it so), or with fn's error.
//
// Calls from many goroutines are gathered into one BEGIN IMMEDIATE …
// COMMIT (group commit): one fsync serves them all. Each fn runs in its own
// SAVEPOINT, so an error from fn rolls back only fn's own statements, is
// returned to its caller, and the rest of the batch commits. A panic in fn —
// or in a statement fn runs: a driver.Valuer's Value, the engine — rolls back
// its savepoint and is re-raised in the caller's goroutine, and the batch's
// other calls commit. If the COMMIT fails, or SQLite rolls the whole
// transaction back (as it does after a full disk or an I/O error), every
// call of the batch returns an error matching ErrBatchAborted and none of
// its work is committed.
//
// With PRAGMA synchronous=FULL or EXTRA in WAL mode, a batch commits at
// NORMAL and a separate goroutine fsyncs the WAL before the batch's Writes
// return, while the next batch already runs: a Write that returned nil is as
// durable as under FULL, and the fsync is off the writer's path. After an
// fsync fails, every later Write fails with an error matching ErrFailStop.
//
// A ctx that is done before the writer takes the call means fn never runs
// and Write returns ctx.Err(). Once taken, Write waits for the batch's
// outcome and reports it as it happened. The statements fn runs are not
// interrupted by its ctx: an interrupted statement would roll back the
// transaction that other callers' work shares. A call not taken within the
// busy timeout (at least a second) fails with a *BusyError naming what held
// the writer connection; fn never ran.
//
// Before the COMMIT, the batch checks that the database file and its WAL
// are still at their paths; if they were moved, replaced or deleted, it is
// rolled back and Write returns an error matching ErrMoved. Statements in
// fn that would change the writer connection for later callers (transaction
// control, PRAGMA settings, ATTACH, DETACH) fail with ErrRefused, and so
// does fn when it leaves a temporary object behind.
//
// fn runs on the workspace's committer goroutine and must not keep q after
// it returns, call runtime.Goexit, or wait for another goroutine's Write. A
// Write called from inside fn returns ErrNestedWrite instead of deadlocking;
// statements fn runs through [Workspace.SQL] or [Workspace.DB] of the same
// workspace join fn's own savepoint, and a transaction begun there returns
// ErrNestedWrite. Calls into another workspace queue there as any other.
func (w *Workspace) Write(ctx context.Context, fn func(q Querier) error) error {
	if err := w.check("write"); err != nil {
		return err
	}
	if w.e.committer == nil {
		return fmt.Errorf("workspace: write %s: %w", w.e.dbPath, ncruces.ErrReadOnly)
	}
	return w.e.committer.Write(ctx, fn)
}

// WriteStats counts the work of [Workspace.Write] and of the statements
// [Workspace.SQL] runs in batches, since the workspace was opened in this
// process.
type WriteStats struct {
	Writes   uint64 // Write calls and front statements whose work committed
	Failed   uint64 // Write calls and front statements that returned an error
	Batches  uint64 // transactions committed
	MaxBatch uint64 // the largest batch

	// Checkpoints counts the PASSIVE checkpoints run after commits (in
	// place of SQLite's automatic checkpoint): on the writer connection, or
	// on a read connection in the background while readers hold the WAL,
	// and
	// WALRestarts the RESTART checkpoints that completed because readers
	// had kept the WAL from starting over (see Status.WALSize).
	// CheckpointsSkipped counts those skipped or given up while readers
	// held the WAL, so that no writer waited for them.
	Checkpoints, WALRestarts, CheckpointsSkipped uint64
}

// MeanBatch returns the mean number of writes per committed transaction.
func (s WriteStats) MeanBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Writes) / float64(s.Batches)
}

// WriteStats returns the counters of the group committer.
func (w *Workspace) WriteStats() WriteStats {
	c := w.e.committer
	if c == nil {
		return WriteStats{}
	}
	cs := c.Stats()
	return WriteStats{
		Writes:             cs.Writes,
		Failed:             cs.Failed,
		Batches:            cs.Batches,
		MaxBatch:           cs.MaxBatch,
		Checkpoints:        cs.Checkpoints,
		WALRestarts:        cs.WALRestarts,
		CheckpointsSkipped: cs.CheckpointsSkipped,
	}
}

// SQL returns the front: a *sql.DB that code written for database/sql —
// sqlc's generated Queries, say — uses unchanged, and that commits its
// writes in groups as [Workspace.Write] does.
//
//   - ExecContext outside a transaction joins a group-commit batch in its
//     own savepoint and returns after the batch commits, with the same
//     durability as Write (after the fsync at FULL).
//   - QueryContext and QueryRowContext outside a transaction run a
//     read-only statement (as sqlite3_stmt_readonly tells) on the read
//     pool; a statement that writes (INSERT/UPDATE/DELETE … RETURNING)
//     joins a batch, and its rows, read in full before the batch commits,
//     are handed over after it.
//   - BeginTx is a real BEGIN IMMEDIATE transaction on the writer
//     connection, never interleaved with a batch (sqlc's WithTx works);
//     Close waits for it at most Options.CloseWait.
//   - PrepareContext works on every path; statements are cached on the
//     writer connection by their text.
//   - A caller reads its own writes: an Exec returns after its commit.
//   - From inside a Write function, the front's statements join the
//     function's savepoint; BeginTx there returns ErrNestedWrite.
//   - Transaction control, PRAGMA settings, ATTACH and DETACH outside a
//     transaction fail with ErrRefused: they would change a connection other
//     callers share (run them in a transaction of BeginTx, or on DB).
//   - A statement waits for a connection at most the busy timeout (at least
//     a second), then fails with a *BusyError, so that a goroutine that
//     waits for a connection it holds itself gets an error, not a hang.
//   - A panic in a driver.Valuer or in the engine during a front statement
//     is returned as an error matching ErrPanicked (a *PanicError); the
//     engine running out of memory as one matching ncruces.ErrNoMem.
//
// Each handle has its own front, closed by the handle's Close; closing it
// yourself closes that front only, never the workspace's pools. For a
// read-only handle it is the read-only pool. After Close, SQL returns a pool
// whose every call fails with ErrClosed.
func (w *Workspace) SQL() *sql.DB {
	if w.e.committer == nil {
		return w.orClosed(w.e.roDB)
	}
	w.frontOnce.Do(func() { w.front = w.e.committer.NewFront() })
	return w.orClosed(w.front)
}
