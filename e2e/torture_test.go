package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// Kill torture sizes. Each cycle costs a process start (the engine from the
// cache), up to maxKillDelay of writing, and a reopen with a full integrity
// check.
const (
	tortureCycles  = 50 // LITEDIR_E2E_CYCLES overrides; a soak run does 10x
	tortureWriters = 8
	maxKillDelay   = 300 * time.Millisecond
	// Every checkpointEvery-th cycle the writer also checkpoints back to
	// back, and the kill lands right after a checkpoint has started.
	checkpointEvery = 3
	// Every dbEvery-th message of a writer goroutine is committed on
	// ws.DB() instead of through Write.
	dbEvery = 7
	// Every anyKillEvery-th cycle the kill lands when it is due, even
	// before the writer has acknowledged anything; in the others it waits
	// for the first acknowledgment, so that the cycle has something to
	// verify.
	anyKillEvery = 5
)

// TestKillTorture kills a writer process with SIGKILL at a random moment,
// again and again, on one workspace (a new one every 50 cycles): 8
// goroutines writing messages (most through Write, some in transactions of
// their own on ws.DB()), and in some cycles checkpoints running back to
// back, with the kill sent right after one started. After every cycle the
// workspace is reopened and must be a database (never SQLITE_NOTADB), pass
// PRAGMA integrity_check and foreign_key_check, keep each session's
// message_count equal to its messages, and hold every message whose commit
// the writer acknowledged, exactly once. Every cycle but one in
// anyKillEvery must have verified at least one acknowledged message, and
// the run as a whole more than none.
func TestKillTorture(t *testing.T) {
	var cfg writerConfig
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	cycles := sizeFromEnv(t, envCycles, scaled(tortureCycles))
	var dir string
	var verified, inCheckpoint, checkpointCycles int
	for cycle := range cycles {
		// One workspace takes tortureCycles cycles, then a new one starts:
		// each cycle checks the whole database, which would otherwise grow
		// without end in a soak run.
		if cycle%tortureCycles == 0 {
			dir = t.TempDir()
		}
		cfg := writerConfig{
			Dir:        dir,
			Writers:    tortureWriters,
			Prefix:     fmt.Sprintf("c%04d-", cycle),
			DBEvery:    dbEvery,
			Checkpoint: cycle%checkpointEvery == checkpointEvery-1,
		}
		delay := rand.N(maxKillDelay + 1)
		needAck := cycle%anyKillEvery != anyKillEvery-1
		acked, duringCheckpoint := killWriter(t, cycle, cfg, delay, needAck)
		if cfg.Checkpoint {
			checkpointCycles++
		}
		if duringCheckpoint {
			inCheckpoint++
		}
		n := mustSurvive(t, cycle, dir, cfg.Prefix, acked)
		if needAck && n == 0 {
			t.Errorf("cycle %d: verified no acknowledged message, want at least one (the kill waited for one)", cycle)
		}
		verified += n
		if t.Failed() {
			t.Fatalf("cycle %d failed (killed %v after ready, %d acknowledged messages)", cycle, delay, len(acked))
		}
	}
	if verified == 0 {
		t.Fatalf("%d cycles verified no acknowledged message at all", cycles)
	}
	info, err := os.Stat(dbPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cycles, %d acknowledged messages verified; %d cycles with checkpoints back to back, each killed right after a checkpoint started (%d before it said it was done); last database %d bytes",
		cycles, verified, checkpointCycles, inCheckpoint, info.Size())
}

// killWriter runs one cycle: it starts a writer child with cfg, kills it
// delay after it is ready (in checkpoint cycles, at the first checkpoint
// start after delay; with needAck, not before the first acknowledgment),
// reads what it said up to its end and reaps it. It returns the
// acknowledged bodies and whether the child's last checkpoint had started
// without returning when it died.
func killWriter(t *testing.T, cycle int, cfg writerConfig, delay time.Duration, needAck bool) (acked map[string]bool, duringCheckpoint bool) {
	t.Helper()
	ctx := testdir.Context(t)
	c := testproc.Start(t, fmt.Sprintf("writer (cycle %d)", cycle), cfg)
	c.WaitFor(ctx, readyLine)
	// A random delay before an action, not a wait for a condition.
	timer := time.NewTimer(delay)
	defer timer.Stop()

	acked = make(map[string]bool)
	due, killed := false, false
	kill := func() {
		if !killed && (!needAck || len(acked) > 0) {
			c.Kill()
			killed = true
		}
	}
	for {
		select {
		case <-timer.C:
			due = true
			if !cfg.Checkpoint {
				kill()
			}
			continue
		case <-ctx.Done():
			t.Fatalf("cycle %d: the writer did not end (killed %v, %d acknowledged messages): %v\n%s", cycle, killed, len(acked), context.Cause(ctx), c.Output())
		case line, ok := <-c.Lines():
			if !ok {
				if err := c.Wait(ctx); err == nil || !killed {
					t.Fatalf("cycle %d: the writer ended (%v) before it was killed\n%s", cycle, err, c.Output())
				}
				return acked, duringCheckpoint
			}
			if body, ok := strings.CutPrefix(line, "ack "); ok {
				if acked[body] {
					t.Errorf("cycle %d: %s acknowledged twice", cycle, body)
				}
				acked[body] = true
				if due && !cfg.Checkpoint {
					kill() // it waited for this first acknowledgment
				}
				continue
			}
			switch {
			case line == "checkpoint start":
				duringCheckpoint = true
				if due {
					kill()
				}
			case line == "checkpoint done":
				duringCheckpoint = false
			case strings.HasPrefix(line, testproc.ErrorPrefix):
				t.Fatalf("cycle %d: %s\n%s", cycle, line, c.Output())
			}
		}
	}
}

// mustSurvive reopens the workspace in dir after a cycle and checks it: a
// database, sound, consistent, holding every acknowledged message of the
// cycle (bodies starting with prefix) exactly once. It returns the number of
// acknowledged messages it found.
func mustSurvive(t *testing.T, cycle int, dir, prefix string, acked map[string]bool) int {
	t.Helper()
	ctx := testdir.Context(t)
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if errors.Is(err, ncruces.ErrNotADatabase) {
		t.Fatalf("cycle %d: the killed writer left a file that is not a database: %v", cycle, err)
	}
	if err != nil {
		t.Fatalf("cycle %d: reopen: %v", cycle, err)
	}
	defer func() {
		if err := ws.Close(); err != nil {
			t.Errorf("cycle %d: close: %v", cycle, err)
		}
	}()
	r, err := ws.Check(ctx, true)
	if err != nil {
		t.Fatalf("cycle %d: check: %v (not a database: %v)", cycle, err, errors.Is(err, ncruces.ErrNotADatabase))
	}
	if err := r.Err(); err != nil {
		t.Errorf("cycle %d: check: got %v, want ok", cycle, err)
	}
	mustConsistentCounts(t, ctx, ws)

	stored := make(map[string]int)
	rows, err := ws.ReadDB().QueryContext(ctx, `SELECT body, count(*) FROM messages WHERE substr(body, 1, ?) = ? GROUP BY body`, len(prefix), prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var body string
		var n int
		if err := rows.Scan(&body, &n); err != nil {
			t.Fatal(err)
		}
		stored[body] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for body := range acked {
		if stored[body] == 0 {
			if missing < 10 {
				t.Errorf("cycle %d: %s acknowledged, but not in the database", cycle, body)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("cycle %d: acknowledged messages lost: got %d, want 0 (of %d)", cycle, missing, len(acked))
	}
	for body, n := range stored {
		if n != 1 {
			t.Errorf("cycle %d: %s: got %d copies, want 1", cycle, body, n)
		}
	}
	return len(acked) - missing
}
