package committer

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Automatic checkpoints.
//
// SQLite checkpoints the WAL inside the COMMIT that takes it past
// wal_autocheckpoint pages, with a PASSIVE checkpoint, which never waits.
// But the WAL starts over only when a write finds every frame copied and no
// reader on an old snapshot: readers that never pause (a replicator such as
// Litestream holds a read transaction almost always) keep it from starting
// over, and it grows. The writer connection's WAL hook, which replaces
// SQLite's automatic checkpoint, therefore does two things after a commit:
//
//   - past passivePages it runs a PASSIVE checkpoint; when one makes no
//     progress (a reader holds the frames it would copy), the next ones are
//     skipped for a while, doubling up to a second, since each would read
//     the WAL index for nothing, and until one copies the whole WAL again
//     they run on a read connection in the committer's background
//     checkpointer: when the reader moves on, the checkpoint copies all it
//     held at once (a second of writes, hundreds of milliseconds), which
//     would stall the batches if it ran in this hook;
//   - past walRestartPages it tries a RESTART checkpoint, so that the next
//     write starts the WAL over and journal_size_limit trims the file. A
//     RESTART waits for readers of old snapshots while it holds the write
//     lock, so it waits restartWait at first (not the busy timeout, which a
//     long reader would use up while every writer stood still); after a
//     BUSY it backs off, doubling the pause up to maxBackoff, and each
//     further attempt may wait twice as long, up to maxRestartWait: readers
//     that never pause but each end soon (a few scans at a time) are
//     outwaited within a write's latency budget. While a reader holds
//     frames that a checkpoint could not copy (a PASSIVE that made no
//     progress, or a RESTART that waited in vain) no RESTART is tried at
//     all until the background checkpointer has copied the whole WAL: each
//     try would hold every writer for its wait and then copy, on their
//     path, the frames the reader had let go since the last (measured
//     beside a reader that renews its snapshot every second: 14 tries in
//     10 s, none completed, 1.1-1.5 s of writers' time, the worst write
//     140-280 ms; none and 37-186 ms without them). The WAL grows while a
//     reader holds it, and shrinks back after it lets go.
//
// With external checkpoints (Litestream and other replicators ask
// applications not to checkpoint) the hook does nothing at all.
//
// (Checkpointing from a background goroutine instead was measured: no faster
// with 16 writers at NORMAL, 15-20% slower at FULL, where its fsyncs compete
// with the commits' for the disk, and the WAL twice as large.)
const (
	// walRestartPages is the WAL size, in pages, above which a RESTART
	// checkpoint is tried: 32 MiB of 4 KiB pages.
	walRestartPages = 8192

	// restartWait is how long a first RESTART checkpoint waits for
	// readers; maxRestartWait bounds the wait of later attempts.
	restartWait    = 5 * time.Millisecond
	maxRestartWait = 100 * time.Millisecond

	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

// hooksConfig configures the hooks of a committer's connections.
type hooksConfig struct {
	// passivePages is the WAL size, in pages, past which a commit runs a
	// PASSIVE checkpoint (the wal_autocheckpoint setting). Zero or less
	// means none; the committer then sets external too, as SQLite turns its
	// own checkpoints off for such a setting.
	passivePages int

	// external means an external process checkpoints: the hook runs no
	// checkpoint at all.
	external bool

	// busyTimeout is the connections' busy timeout, restored after a
	// RESTART attempt.
	busyTimeout time.Duration
}

// hooks are what a committer's connections run beside their statements.
// The writer connection gets an authorizer that watches what statements may
// do to it (see session.go), a rollback hook that tells the batch when
// SQLite ended its transaction by itself, and the WAL hook that
// checkpoints; read connections get the authorizer and keep the front's
// statements prepared (see readstmts.go).
//
// The hooks hold no pointer to the committer: what they learn that the loop
// must act on — a checkpoint that failed with an I/O error — they leave in
// ioErr and signal on wake; a PASSIVE checkpoint that belongs off the
// writer's path they hand to the background checkpointer on ckpt.
type hooks struct {
	cfg hooksConfig
	log *slog.Logger

	writer  writerState // guarded by the wconn's mutex
	readers readerStmts

	ioErr atomic.Pointer[error] // the first checkpoint I/O error
	wake  chan struct{}         // capacity 1: ioErr was set
	ckpt  chan struct{}         // capacity 1; nil without a background checkpointer

	// Checkpoint policy state: the hook runs on the committing connection,
	// which holds no lock then; mu orders the state between commits.
	mu             sync.Mutex
	passiveAfter   time.Time
	passiveBackoff time.Duration
	lastLog        int
	lastCkpt       int
	restartAfter   time.Time
	restartBackoff time.Duration
	restartFails   int
	// readerHeld is set when a PASSIVE checkpoint made no progress (a
	// reader holds the frames) and cleared by one that copied the whole
	// WAL: while it is set, PASSIVE checkpoints run in the background.
	readerHeld bool

	checkpoints, restarts, skipped atomic.Uint64
}

func newHooks(cfg hooksConfig, log *slog.Logger, background bool) *hooks {
	h := &hooks{cfg: cfg, log: log, wake: make(chan struct{}, 1)}
	if background {
		h.ckpt = make(chan struct{}, 1)
	}
	return h
}

// writerInit installs the hooks on a new writer connection; it is the
// writer pool's ncruces.Config.Init.
func (h *hooks) writerInit(c *sqlite3.Conn) error {
	if err := c.SetAuthorizer(h.writer.watch.authorizer()); err != nil {
		return err
	}
	c.RollbackHook(func() { h.writer.rolledBack = true })
	c.WALHook(h.walHook)
	if h.cfg.external {
		// SQLite checkpoints (and deletes) the WAL when the last
		// connection to a database closes: not in this mode.
		if _, err := c.Config(sqlite3.DBCONFIG_NO_CKPT_ON_CLOSE, true); err != nil {
			return err
		}
	}
	return nil
}

// CheckpointStats counts the checkpoints the WAL hook ran.
type CheckpointStats struct {
	Passive  uint64 // PASSIVE checkpoints run
	Restarts uint64 // RESTART checkpoints that completed
	Skipped  uint64 // checkpoints skipped or given up because readers held the WAL
}

// stats returns the WAL hook's counters.
func (h *hooks) stats() CheckpointStats {
	return CheckpointStats{Passive: h.checkpoints.Load(), Restarts: h.restarts.Load(), Skipped: h.skipped.Load()}
}

// walHook is the writer connection's WAL hook. It runs after each commit,
// once the write lock is released, on the committing connection. Its errors
// are logged, not returned: SQLite would report them as the COMMIT's,
// although the commit took place.
func (h *hooks) walHook(c *sqlite3.Conn, schema string, pages int) error {
	if h.cfg.external {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if pages >= walRestartPages {
		switch {
		case h.ckpt != nil && h.readerHeld:
			// A reader holds frames: a RESTART would wait for it in vain,
			// and copy on the writers' path what the background
			// checkpointer copies off it. It is tried again once a
			// background PASSIVE has copied the whole WAL, which clears
			// readerHeld.
			h.skipped.Add(1)
		case now.Before(h.restartAfter):
			h.skipped.Add(1)
		default:
			if h.restart(c, schema, now) {
				return nil
			}
		}
	}
	if h.cfg.passivePages <= 0 || pages < h.cfg.passivePages {
		return nil
	}
	if now.Before(h.passiveAfter) {
		h.skipped.Add(1)
		return nil
	}
	if h.ckpt != nil && h.readerHeld {
		// A reader holds frames: when it moves on, the checkpoint that
		// follows copies everything it held at once, which would stall
		// the committer that runs this hook. Off its path instead.
		select {
		case h.ckpt <- struct{}{}:
		default:
			h.skipped.Add(1) // one is under way
		}
		return nil
	}
	nLog, nCkpt, err := c.WALCheckpoint(schema, sqlite3.CHECKPOINT_PASSIVE)
	h.passiveDone(now, pages, nLog, nCkpt, err)
	return nil
}

// passiveInBackground runs a PASSIVE checkpoint on c, a connection of the
// read pool, for the background checkpointer, and records its outcome as
// the WAL hook does its own.
func (h *hooks) passiveInBackground(c *sqlite3.Conn) {
	nLog, nCkpt, err := c.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.passiveDone(time.Now(), nLog, nLog, nCkpt, err)
}

// passiveDone records the outcome of a PASSIVE checkpoint. h.mu is held.
func (h *hooks) passiveDone(now time.Time, pages, nLog, nCkpt int, err error) {
	if err != nil && !errors.Is(err, sqlite3.BUSY) {
		h.failed(err, pages, "PASSIVE")
		return
	}
	h.checkpoints.Add(1)
	// Progress: frames copied since the last attempt, or a WAL that started
	// over. Without it a reader holds the frames: back off.
	switch {
	case nCkpt == nLog:
		h.readerHeld = false
		h.passiveBackoff, h.passiveAfter = 0, time.Time{}
	case nCkpt > h.lastCkpt || nLog < h.lastLog:
		h.passiveBackoff, h.passiveAfter = 0, time.Time{}
	default:
		h.readerHeld = true
		h.passiveBackoff = min(max(2*h.passiveBackoff, minBackoff), maxBackoff)
		h.passiveAfter = now.Add(h.passiveBackoff)
	}
	h.lastLog, h.lastCkpt = nLog, nCkpt
}

// restart tries a RESTART checkpoint with a short wait for readers, and
// reports whether it completed.
func (h *hooks) restart(c *sqlite3.Conn, schema string, now time.Time) bool {
	wait := min(restartWait<<min(h.restartFails, 8), maxRestartWait)
	if err := c.BusyTimeout(wait); err != nil {
		h.failed(err, 0, "RESTART")
		return false
	}
	nLog, nCkpt, err := c.WALCheckpoint(schema, sqlite3.CHECKPOINT_RESTART)
	if rerr := c.BusyTimeout(h.cfg.busyTimeout); rerr != nil {
		h.log.Warn("restoring the busy timeout after a checkpoint failed", "err", rerr)
	}
	switch {
	case errors.Is(err, sqlite3.BUSY):
		h.skipped.Add(1)
		h.restartFails++
		if nCkpt < nLog {
			// A reader kept frames from being copied for the whole wait.
			h.readerHeld = true
		}
		h.restartBackoff = min(max(2*h.restartBackoff, minBackoff), maxBackoff)
		h.restartAfter = now.Add(h.restartBackoff)
		return false
	case err != nil:
		h.failed(err, walRestartPages, "RESTART")
		return false
	}
	h.restarts.Add(1)
	h.restartBackoff, h.restartAfter, h.restartFails = 0, time.Time{}, 0
	h.passiveBackoff, h.passiveAfter = 0, time.Time{}
	h.lastLog, h.lastCkpt = 0, 0
	return true
}

// failed logs a checkpoint error; an I/O error stops all writes (see
// ErrFailStop): the loop learns of it through ioErr and wake.
func (h *hooks) failed(err error, pages int, mode string) {
	h.log.Warn("automatic checkpoint failed", "pages", pages, "mode", mode, "err", err)
	if errors.Is(err, sqlite3.IOERR) && h.ioErr.CompareAndSwap(nil, &err) {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}
