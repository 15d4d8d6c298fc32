package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
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
	return checkpoint(ctx, w.e.writeDB, mode)
}

func checkpoint(ctx context.Context, db *sql.DB, mode CheckpointMode) (CheckpointResult, error) {
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

// Automatic checkpoints. SQLite checkpoints the WAL inside the COMMIT that
// takes it past wal_autocheckpoint pages (1000 by default), with a PASSIVE
// checkpoint, which never waits for readers. But the WAL starts over only
// when a write finds every frame copied and no reader still on an old
// snapshot: readers that never pause keep it from ever starting over, and it
// grows without bound. So the writer connection's WAL hook, which replaces
// SQLite's automatic checkpoint, does what it did and one thing more: past
// walRestartPages it runs a RESTART checkpoint, which waits (up to the busy
// timeout) for the readers of old snapshots to finish, so that the next
// write starts the WAL over and journal_size_limit trims the file.
//
// (Checkpointing from a background goroutine instead was measured: no faster
// with 16 writers at NORMAL, 15-20% slower at FULL, where its fsyncs compete
// with the commits' for the disk, and the WAL twice as large.)

// walRestartPages is the WAL size, in pages, above which the writer
// connection runs a RESTART checkpoint after a commit: 32 MiB of 4 KiB pages.
const walRestartPages = 8192

// defaultCheckpointPages is SQLite's default wal_autocheckpoint.
const defaultCheckpointPages = 1000

// checkpointPages returns the wal_autocheckpoint the pragmas ask for, which
// the WAL hook honours since it replaces SQLite's own; 0 or less disables
// PASSIVE checkpoints (the RESTART bound remains).
func checkpointPages(pragmas []ncruces.Pragma) int {
	for _, p := range pragmas {
		if strings.EqualFold(p.Name, "wal_autocheckpoint") {
			if n, err := strconv.Atoi(p.Value); err == nil {
				return n
			}
		}
	}
	return defaultCheckpointPages
}

// walHook is the writer connection's WAL hook. It runs after each commit,
// once the write lock is released, on the committing connection. Its errors
// are logged, not returned: SQLite would report them as the COMMIT's,
// although the commit took place.
func (g *connGuard) walHook(c *sqlite3.Conn, schema string, pages int) error {
	mode, counter := sqlite3.CHECKPOINT_PASSIVE, &g.checkpoints
	switch {
	case pages >= walRestartPages:
		mode, counter = sqlite3.CHECKPOINT_RESTART, &g.restarts
	case g.checkpointPages <= 0 || pages < g.checkpointPages:
		return nil
	}
	if _, _, err := c.WALCheckpoint(schema, mode); err != nil && !errors.Is(err, sqlite3.BUSY) {
		g.log.Warn("automatic checkpoint failed", "pages", pages, "mode", mode, "err", err)
		return nil
	}
	counter.Add(1)
	return nil
}
