package workspace

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	if mode < 0 || int(mode) >= len(checkpointModes) {
		return CheckpointResult{}, fmt.Errorf("workspace: checkpoint %v: %w: mode %d", mode, ErrInvalidOptions, int(mode))
	}
	var r CheckpointResult
	err := w.e.committer.WithConn(ctx, func(c *sqlite3.Conn) error {
		if old := c.SetInterrupt(ctx); old != ctx {
			defer c.SetInterrupt(old)
		}
		var err error
		r.WALFrames, r.Checkpointed, err = c.WALCheckpoint("main", sqlite3.CheckpointMode(mode))
		if errors.Is(err, sqlite3.BUSY) {
			r.Busy, err = true, nil
		}
		return err
	})
	if err != nil {
		return r, fmt.Errorf("workspace: checkpoint %v: %w", mode, err)
	}
	return r, nil
}

// Automatic checkpoints are the group committer's (see
// internal/committer/hooks.go): it replaces SQLite's own, backs off while
// readers hold the WAL, and runs none with Options.ExternalCheckpoints.
