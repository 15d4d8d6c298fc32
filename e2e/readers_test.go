package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// readerRounds is how many times TestReadersBesideOwner runs each command;
// a soak run does 10x.
const readerRounds = 5

// TestReadersBesideOwner runs "litedir status -json", "litedir sql -json"
// and "litedir backup" repeatedly while another process owns the workspace
// and writes to it from 4 goroutines. Each command must succeed without
// waiting for the owner: status names the owner, sql reads one consistent
// snapshot (the messages and their counts in the sessions agree, and every
// message acknowledged before the query started is counted), and each
// backup passes "litedir check" and an integrity check, and holds a
// consistent prefix of the writes: every message acknowledged before the
// backup started, no message that was never committed, and of each writer
// goroutine's messages, which it writes one after the other, the first k
// for some k.
func TestReadersBesideOwner(t *testing.T) {
	var cfg writerConfig
	if childConfig(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	needLocks(t) // status's owner record is only there with locks
	rounds := scaled(readerRounds)
	ctx := testCtx(t)
	dir := t.TempDir()
	c := startChild(t, "writer", writerConfig{Dir: dir, Writers: 4})
	c.waitFor(ctx, readyLine)
	acks := collectAcks(c)
	acks.waitLen(t, ctx, 100) // something to back up in the first round

	// What a backup's check leaves to be checked against the final
	// workspace: its last message of each writer goroutine.
	type backup struct {
		path string
		last map[string]int
	}
	var backups []backup
	lastSize := 0 // messages in the last backup
	backupDir := t.TempDir()
	for round := range rounds {
		// status
		var st struct {
			Owner *struct {
				PID     int    `json:"pid"`
				Program string `json:"program"`
			} `json:"owner"`
			LockState string `json:"lock_state"`
			Schema    struct {
				Current int64 `json:"current"`
			} `json:"schema"`
		}
		out := mustLitedir(t, ctx, "status", "-json", dir)
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status -json: %v\n%s", err, out)
		}
		if st.Owner == nil || st.Owner.PID != c.pid() || st.Owner.Program != "e2e-writer" || st.LockState != "held" {
			t.Errorf("round %d: status -json: got owner %+v, lock_state %q; want pid %d (e2e-writer), held", round, st.Owner, st.LockState, c.pid())
		}
		if st.Schema.Current == 0 {
			t.Errorf("round %d: status -json: schema.current: got 0, want the builtin migrations applied", round)
		}

		// sql: both counts come from one read transaction.
		before := acks.len()
		out = mustLitedir(t, ctx, "sql", "-json", dir,
			`SELECT (SELECT count(*) FROM messages), (SELECT coalesce(sum(message_count), 0) FROM sessions)`)
		var res struct {
			Rows [][]json.Number `json:"rows"`
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&res); err != nil || len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
			t.Fatalf("round %d: sql -json: got %v, want one row of two numbers\n%s", round, err, out)
		}
		messages, _ := strconv.Atoi(res.Rows[0][0].String())
		counted, _ := strconv.Atoi(res.Rows[0][1].String())
		if messages != counted {
			t.Errorf("round %d: sql: %d messages, but the sessions count %d", round, messages, counted)
		}
		if messages < before {
			t.Errorf("round %d: sql: got %d messages, want at least the %d acknowledged before the query", round, messages, before)
		}

		// backup, named as a workspace's database so that it opens as one.
		b := backup{path: filepath.Join(backupDir, fmt.Sprintf("round%d", round), lock.DefaultName+".db")}
		if err := os.Mkdir(filepath.Dir(b.path), 0o700); err != nil {
			t.Fatal(err)
		}
		acked := acks.snapshot()
		mustLitedir(t, ctx, "backup", dir, b.path)
		mustLitedir(t, ctx, "check", filepath.Dir(b.path))
		got := backupBodies(t, ctx, filepath.Dir(b.path))
		b.last = mustConsistentPrefix(t, b.path, got, acked)
		backups = append(backups, b)
		lastSize = len(got)
	}

	// Stop the writer cleanly: every message it committed is then in the
	// workspace, and every message of a backup must be among them.
	c.stdin.Close()
	acks.wait(t, ctx)
	if err := c.wait(ctx); err != nil {
		t.Fatalf("writer: %v\n%s", err, c.output())
	}
	// The final workspace holds every acknowledged message, and every
	// message of every backup: each writer goroutine's last message in a
	// backup is there, and the final messages form a prefix too.
	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	final := bodies(t, ctx, ws)
	mustConsistentPrefix(t, "the workspace", final, acks.snapshot())
	for _, b := range backups {
		for g, n := range b.last {
			if body := fmt.Sprintf("%s-%07d", g, n); final[body] == 0 {
				t.Errorf("%s: %s is in the backup but was never committed", b.path, body)
			}
		}
	}
	t.Logf("%d rounds of status, sql and backup beside a writer; %d messages acknowledged, %d in the last backup",
		rounds, acks.len(), lastSize)
}

// backupBodies checks the backup in dir (as the database of a workspace
// there) and returns its message bodies.
func backupBodies(t *testing.T, ctx context.Context, dir string) map[string]int {
	t.Helper()
	ws, err := workspace.OpenReadOnly(ctx, dir, nil)
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer ws.Close()
	mustCheck(t, ctx, ws)
	mustConsistentCounts(t, ctx, ws)
	return bodies(t, ctx, ws)
}

// mustConsistentPrefix checks the message bodies of a database (a backup,
// named by path): they must include every message acknowledged before it
// was taken (before), each once, and of each writer goroutine, which writes
// its messages one after the other, the first k for some k: a snapshot, not
// a mix of moments. It returns each goroutine's last message number.
func mustConsistentPrefix(t *testing.T, path string, got map[string]int, before map[string]bool) map[string]int {
	t.Helper()
	missing := 0
	for body := range before {
		if got[body] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of the %d messages acknowledged before it are missing", path, missing, len(before))
	}
	last := make(map[string]int) // goroutine "wNN" -> highest n
	for body, n := range got {
		if n != 1 {
			t.Errorf("%s: %s: got %d copies, want 1", path, body, n)
		}
		g, seq, ok := strings.Cut(body, "-")
		num, err := strconv.Atoi(seq)
		if !ok || err != nil {
			t.Fatalf("%s: unexpected body %q", path, body)
		}
		last[g] = max(last[g], num)
	}
	for _, g := range slices.Sorted(maps.Keys(last)) {
		for n := range last[g] + 1 {
			if got[fmt.Sprintf("%s-%07d", g, n)] == 0 {
				t.Errorf("%s: writer %s: has message %d but not %d: not a prefix", path, g, last[g], n)
				break
			}
		}
	}
	return last
}

// ackLog collects a writer child's "ack <body>" lines in the background,
// so that the child never waits for the test to read, while the test runs
// commands.
type ackLog struct {
	mu     sync.Mutex
	acked  map[string]bool
	errs   []string      // errorLine lines
	notify chan struct{} // a value after each batch of new acks
	done   chan struct{} // closed when the child's stdout has ended
}

// collectAcks starts reading c's lines; the test must not read them itself
// from here on.
func collectAcks(c *child) *ackLog {
	a := &ackLog{acked: make(map[string]bool), notify: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for line := range c.lines {
			a.mu.Lock()
			if body, ok := strings.CutPrefix(line, "ack "); ok {
				a.acked[body] = true
			} else if strings.HasPrefix(line, errorLine) {
				a.errs = append(a.errs, line)
			}
			a.mu.Unlock()
			select {
			case a.notify <- struct{}{}:
			default:
			}
		}
	}()
	return a
}

func (a *ackLog) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acked)
}

// snapshot returns a copy of the bodies acknowledged so far.
func (a *ackLog) snapshot() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.acked)
}

// waitLen waits until at least n messages are acknowledged.
func (a *ackLog) waitLen(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for a.len() < n {
		select {
		case <-a.notify:
		case <-a.done:
			t.Fatalf("the writer ended after %d acks: %q", a.len(), a.errs)
		case <-ctx.Done():
			t.Fatalf("%d acks, want %d: %v", a.len(), n, context.Cause(ctx))
		}
	}
}

// wait waits for the child's stdout to end and fails the test for each
// error the child reported.
func (a *ackLog) wait(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-a.done:
	case <-ctx.Done():
		t.Fatalf("the writer did not end: %v", context.Cause(ctx))
	}
	for _, e := range a.errs {
		t.Errorf("writer: %s", e)
	}
}
