package e2e_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// writerConfig configures the writer child: a process that writes messages
// from many goroutines until it is killed.
type writerConfig struct {
	Dir     string
	Pragmas []ncruces.Pragma
	Writers int

	// Prefix starts every message body, so that the bodies of writers run
	// one after another on one workspace differ.
	Prefix string

	// DBEvery, when positive, makes every DBEvery-th message of each
	// goroutine bypass Write: it is committed in a transaction of its own
	// on ws.DB(), the writer pool that Write batches on too.
	DBEvery int

	// InProcessLock accepts an in-process directory lock where the
	// filesystem cannot lock files (workspace.Options.InProcessLock).
	InProcessLock bool

	// Checkpoint adds a goroutine that runs checkpoints back to back
	// (FULL, RESTART, TRUNCATE in turn), saying "checkpoint start" before
	// each and "checkpoint done" after it.
	Checkpoint bool

	// Key, when not nil, opens the workspace encrypted with it.
	Key []byte
}

// messagesPerSession is how many messages a writer goroutine puts in one
// session before it starts another, so that the kill may also land while a
// session is being created.
const messagesPerSession = 64

// runWriters plays the writer child. It opens cfg.Dir with the builtin
// schema and cfg.Pragmas, says "synchronous N" (the setting in force) and
// readyLine, then runs cfg.Writers goroutines that each add messages with
// unique bodies ("<prefix>w<goroutine>-<n>", n counting up from 0), one
// Write per message (or a ws.DB() transaction, see DBEvery), and say
// "ack <body>" after each has returned nil: an acknowledged message is
// committed. It stops when stdin ends; normally it is killed long before.
func runWriters(t *testing.T, cfg writerConfig) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := testproc.NewParent()
	opts := &workspace.Options{
		Program:       "e2e-writer",
		Migrations:    migrations.Builtin,
		Pragmas:       cfg.Pragmas,
		InProcessLock: cfg.InProcessLock,
	}
	if cfg.Key != nil {
		opts.Key = workspace.KeyBytes(cfg.Key)
	}
	ws, err := workspace.Open(ctx, cfg.Dir, opts)
	if err != nil {
		p.Fail(t, "open: %v", err)
	}
	// synchronous is per connection; the writer pool has exactly one.
	var synchronous int
	if err := ws.DB().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
		p.Fail(t, "PRAGMA synchronous: %v", err)
	}
	p.Say("synchronous %d", synchronous)
	p.Say(readyLine)

	var wg sync.WaitGroup
	for g := range cfg.Writers {
		wg.Go(func() {
			var session int64
			for n := 0; ctx.Err() == nil; n++ {
				var err error
				if n%messagesPerSession == 0 {
					session, err = newSession(ctx, ws, fmt.Sprintf("writer %d", g))
				}
				body := fmt.Sprintf("%sw%02d-%07d", cfg.Prefix, g, n)
				if err == nil {
					if cfg.DBEvery > 0 && n%cfg.DBEvery == cfg.DBEvery-1 {
						err = addMessageDB(ctx, ws, session, body)
					} else {
						err = addMessage(ctx, ws, session, body)
					}
				}
				if err != nil {
					if ctx.Err() == nil {
						p.Say("%s: writer %d: %v", testproc.ErrorPrefix, g, err)
						t.Errorf("writer %d: %v", g, err)
					}
					return
				}
				p.Say("ack %s", body)
			}
		})
	}

	if cfg.Checkpoint {
		wg.Go(func() {
			modes := []workspace.CheckpointMode{workspace.CheckpointFull, workspace.CheckpointRestart, workspace.CheckpointTruncate}
			for i := 0; ctx.Err() == nil; i++ {
				p.Say("checkpoint start")
				if _, err := ws.Checkpoint(ctx, modes[i%len(modes)]); err != nil {
					if ctx.Err() == nil {
						p.Say("%s: checkpoint: %v", testproc.ErrorPrefix, err)
						t.Errorf("checkpoint: %v", err)
					}
					return
				}
				p.Say("checkpoint done")
			}
		})
	}

	// Stdin ends when the parent is done with this child without killing
	// it (a failed test): stop writing and close cleanly.
	for {
		if _, ok := p.Next(); !ok {
			break
		}
	}
	cancel()
	wg.Wait()
	if err := ws.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// killAfterAcks reads the acks of the writer child c until there are killAfter, kills it,
// reads the acks still in the pipe, reaps it (it must have been killed, not have exited), and
// returns every body it acknowledged.
func killAfterAcks(t *testing.T, ctx context.Context, c *testproc.Child, killAfter int) map[string]bool {
	t.Helper()
	acked := make(map[string]bool)
	record := func(line string) {
		body, ok := strings.CutPrefix(line, "ack ")
		if !ok {
			t.Errorf("writer said %q", line)
			return
		}
		if acked[body] {
			t.Errorf("%s acknowledged twice", body)
		}
		acked[body] = true
	}
	for len(acked) < killAfter {
		line, ok := c.Next(ctx)
		if !ok {
			t.Fatalf("writer ended after %d acks (%v)\n%s", len(acked), c.Wait(ctx), c.Output())
		}
		record(line)
	}
	c.Kill()
	for {
		line, ok := c.Next(ctx)
		if !ok {
			break
		}
		record(line)
	}
	if err := c.Wait(ctx); err == nil {
		t.Fatalf("writer exited cleanly before it was killed\n%s", c.Output())
	}
	return acked
}

// mustHaveAcked checks the workspace after a writer child was killed: it passes
// integrity_check and foreign_key_check, every session's count matches its messages, and every
// message body in acked is there exactly once. It returns the bodies stored and how often.
func mustHaveAcked(t *testing.T, ctx context.Context, ws *workspace.Workspace, acked map[string]bool) map[string]int {
	t.Helper()
	mustCheck(t, ctx, ws)
	mustConsistentCounts(t, ctx, ws)
	stored := bodies(t, ctx, ws)
	missing := 0
	for body := range acked {
		if stored[body] == 0 {
			if missing < 10 {
				t.Errorf("%s: acknowledged, but not in the database", body)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("acknowledged messages lost: got %d, want 0 (of %d)", missing, len(acked))
	}
	for body, n := range stored {
		if n != 1 {
			t.Errorf("%s: got %d copies, want 1", body, n)
		}
	}
	return stored
}

// addMessageDB is addMessage on ws.DB() rather than through Write: a
// transaction of its own on the writer pool, as a program that needs
// something Write does not offer would run it.
func addMessageDB(ctx context.Context, ws *workspace.Workspace, session int64, body string) (err error) {
	tx, err := ws.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages (session_id, role, body) VALUES (?, 'tool', ?)`, session, body); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET message_count = message_count + 1 WHERE id = ?`, session); err != nil {
		return err
	}
	return tx.Commit()
}

// TestKillDuringWrites kills a process in the middle of its writes and
// checks that nothing it acknowledged is lost: every message whose Write
// returned nil is in the database exactly once, each session's
// message_count matches its messages (a message and its count commit
// together), and the database is sound. A process kill is not a power cut:
// what SQLite handed to the kernel survives with synchronous=NORMAL too.
func TestKillDuringWrites(t *testing.T) {
	var cfg writerConfig
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	// The child is killed once the parent has read this many acks; more
	// arrive after the kill, from the pipe's buffer.
	const killAfter = 2000
	tests := []struct {
		name            string
		pragmas         []ncruces.Pragma
		wantSynchronous int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		{"NORMAL", nil, 1},
		{"FULL", []ncruces.Pragma{{Name: "synchronous", Value: "FULL"}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testdir.Context(t)
			dir := t.TempDir()
			c := testproc.Start(t, "writer", writerConfig{Dir: dir, Pragmas: tt.pragmas, Writers: 16})
			if line, _ := c.Next(ctx); line != fmt.Sprintf("synchronous %d", tt.wantSynchronous) {
				t.Fatalf("got %q, want %q\n%s", line, fmt.Sprintf("synchronous %d", tt.wantSynchronous), c.Output())
			}
			c.WaitFor(ctx, readyLine)
			acked := killAfterAcks(t, ctx, c, killAfter)
			// The killed writer never checkpointed its WAL away: the Open
			// below has to recover the database from it.
			if info, err := os.Stat(dbPath(dir) + "-wal"); err != nil || info.Size() == 0 {
				t.Fatalf("WAL after the kill: got %v, want a non-empty file", err)
			}

			ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
			stored := mustHaveAcked(t, ctx, ws, acked)
			t.Logf("%d messages acknowledged, %d committed", len(acked), len(stored))
		})
	}
}
