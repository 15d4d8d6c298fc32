package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/ncruces"
)

// CheckpointMode is the mode of a WAL checkpoint; see
// https://sqlite.org/pragma.html#pragma_wal_checkpoint.
type CheckpointMode int

const (
	// CheckpointPassive copies as much of the WAL into the database as it
	// can without waiting for readers or writers.
	CheckpointPassive CheckpointMode = iota
	// CheckpointFull waits for writers, then copies the whole WAL.
	CheckpointFull
	// CheckpointRestart is CheckpointFull, then waits for readers so that
	// the next writer starts the WAL over from its beginning.
	CheckpointRestart
	// CheckpointTruncate is CheckpointRestart, then truncates the WAL file
	// to zero bytes.
	CheckpointTruncate
)

var checkpointModes = [...]string{"PASSIVE", "FULL", "RESTART", "TRUNCATE"}

// String returns the mode's SQL name, such as "TRUNCATE".
func (m CheckpointMode) String() string {
	if m < 0 || int(m) >= len(checkpointModes) {
		return fmt.Sprintf("CheckpointMode(%d)", int(m))
	}
	return checkpointModes[m]
}

// ParseCheckpointMode parses a mode name, in any case: "passive", "full",
// "restart" or "truncate".
func ParseCheckpointMode(s string) (CheckpointMode, error) {
	for i, name := range checkpointModes {
		if strings.EqualFold(s, name) {
			return CheckpointMode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown checkpoint mode %q (want passive, full, restart or truncate)", ErrInvalidOptions, s)
}

// CheckpointResult is what a checkpoint did.
type CheckpointResult struct {
	// Busy reports that the checkpoint could not finish because another
	// connection was reading or writing; the counts say how far it got.
	Busy bool
	// WALFrames is the number of frames in the WAL, and Checkpointed the
	// number of them now copied into the database. Both are -1 when the
	// database is not in WAL mode.
	WALFrames, Checkpointed int
}

// Checkpoint copies the WAL into the database file. It runs on the writer
// connection, between Write batches.
func (w *Workspace) Checkpoint(ctx context.Context, mode CheckpointMode) (CheckpointResult, error) {
	if err := w.check("checkpoint"); err != nil {
		return CheckpointResult{}, err
	}
	if w.e.readOnly {
		return CheckpointResult{}, fmt.Errorf("workspace: checkpoint %s: read-only handle: %w", w.e.dbPath, ncruces.ErrReadOnly)
	}
	return checkpoint(ctx, w.e.writeDB, mode)
}

// queryRower is what checkpoint runs on: a pool or one connection of it.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func checkpoint(ctx context.Context, db queryRower, mode CheckpointMode) (CheckpointResult, error) {
	if mode < 0 || int(mode) >= len(checkpointModes) {
		return CheckpointResult{}, fmt.Errorf("workspace: checkpoint: %w: mode %d", ErrInvalidOptions, int(mode))
	}
	var r CheckpointResult
	var busy int
	err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode.String()+")").Scan(&busy, &r.WALFrames, &r.Checkpointed)
	if err != nil {
		return r, fmt.Errorf("workspace: checkpoint %v: %w", mode, err)
	}
	r.Busy = busy != 0
	return r, nil
}

// Background checkpoints. SQLite's automatic checkpoint runs inside the
// COMMIT that crosses its threshold, on the writer connection: every
// thousand pages one commit also copies the WAL into the database and
// fsyncs it, and every Write of that batch waits. A workspace with a read
// pool instead has the writer connection's WAL hook (which replaces the
// automatic checkpoint) wake a goroutine that checkpoints through a read
// connection, beside the writer rather than in its way.
//
// A checkpoint beside a busy writer never quite catches up, though: the WAL
// starts over only when a write finds every frame copied, and the writer
// keeps appending. So once the WAL holds twice the threshold, the writer runs
// a PASSIVE checkpoint itself between two batches; the background pass has
// already copied most frames, so the writer copies only the tail, and its
// next transaction starts the WAL over. Only one checkpoint runs at a time,
// so meanwhile the background goroutine starts no pass of its own while
// Write batches run; when they do not (writes through DB() only), it catches
// up itself.
const (
	// checkpointPages is the WAL size, in pages, at which the writer asks
	// for a checkpoint: SQLite's own default threshold.
	checkpointPages = 1000

	// catchUpPages is the WAL size, in pages, at which the writer
	// checkpoints itself.
	catchUpPages = 2 * checkpointPages

	// walRestartSize is the WAL size above which the checkpointer runs a
	// RESTART checkpoint. A PASSIVE checkpoint never waits, so readers that
	// never pause can keep the WAL from ever starting over, and it grows
	// without bound; RESTART waits (up to the busy timeout) for the readers
	// of old snapshots to finish, so that the next write starts the WAL
	// from its beginning and journal_size_limit trims the file.
	walRestartSize = 32 << 20
)

// checkpointer runs checkpoints in the background when kicked.
type checkpointer struct {
	db      *sql.DB // a pool other than the writer's
	walPath string
	log     *slog.Logger
	guard   *connGuard // the writer's: catchUp and lastBatch

	kick   chan struct{} // capacity 1: kicks coalesce
	cancel context.CancelFunc
	done   chan struct{}

	checkpoints, restarts atomic.Uint64
}

func newCheckpointer(walPath string, guard *connGuard, log *slog.Logger) *checkpointer {
	return &checkpointer{walPath: walPath, guard: guard, log: log, kick: make(chan struct{}, 1)}
}

// writerActive is how recently a Write batch must have ended for the
// checkpointer to leave catching up to the writer.
const writerActive = 100 * time.Millisecond

// leaveToWriter reports whether the writer will catch up the WAL after its
// next batch, so that a background pass would only make its checkpoint find
// the checkpoint lock taken.
func (c *checkpointer) leaveToWriter() bool {
	last := c.guard.lastBatch.Load()
	return c.guard.catchUp.Load() && last != 0 && time.Since(time.Unix(0, last)) < writerActive
}

// request asks for a checkpoint without waiting for it.
func (c *checkpointer) request() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// start runs the checkpointer's goroutine on db until stop.
func (c *checkpointer) start(db *sql.DB) {
	c.db = db
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.loop(ctx)
}

// stop interrupts a running checkpoint and waits for the goroutine to end.
func (c *checkpointer) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
}

func (c *checkpointer) loop(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
		case <-ctx.Done():
			return
		}
		if c.leaveToWriter() {
			continue
		}
		c.guard.checkpointing.Store(true)
		res, err := checkpoint(ctx, c.db, CheckpointPassive)
		c.guard.checkpointing.Store(false)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Warn("background checkpoint failed", "wal", c.walPath, "err", err)
			continue
		}
		c.checkpoints.Add(1)
		info, err := os.Stat(c.walPath)
		if err != nil || info.Size() < walRestartSize {
			continue
		}
		c.guard.checkpointing.Store(true)
		res, err = checkpoint(ctx, c.db, CheckpointRestart)
		c.guard.checkpointing.Store(false)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Warn("WAL restart checkpoint failed", "wal", c.walPath, "wal_bytes", info.Size(), "err", err)
			continue
		}
		c.restarts.Add(1)
		c.log.Debug("WAL restart checkpoint", "wal", c.walPath, "wal_bytes", info.Size(), "busy", res.Busy)
	}
}

// walHook is the writer connection's WAL hook: after each commit it asks for
// a background checkpoint once the WAL holds checkpointPages pages, and tells
// the writer to catch up at catchUpPages.
func (c *checkpointer) walHook(_ *sqlite3.Conn, _ string, pages int) error {
	if pages >= catchUpPages {
		c.guard.catchUp.Store(true)
	}
	if pages >= checkpointPages {
		c.request()
	}
	return nil
}
