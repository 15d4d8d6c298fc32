package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// readerRounds is how many times TestReadersBesideOwner runs each command
// beside one writer; a soak run does it all 10 times.
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
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	needLocks(t) // status's owner record is only there with locks
	// A soak run repeats the whole test rather than running more rounds
	// on one workspace, which would grow without end.
	for run := range scaled(1) {
		t.Run(fmt.Sprint(run), readersBesideOwner)
	}
}

// readersBesideOwner is one run of TestReadersBesideOwner.
func readersBesideOwner(t *testing.T) {
	const rounds = readerRounds
	ctx := testdir.Context(t)
	dir := t.TempDir()
	c := testproc.Start(t, "writer", writerConfig{Dir: dir, Writers: 4})
	c.WaitFor(ctx, readyLine)
	acks := collectAcks(c)
	acks.waitLen(t, ctx, 100) // something to back up in the first round

	// Each backup's last message of each writer goroutine, to be checked
	// against the final workspace.
	backups := make(map[string]progress)
	lastSize := 0 // messages in the last backup
	backupDir := t.TempDir()
	for round := range rounds {
		// A deadline per round: the database grows as the writer goes on,
		// and a soak run does 50 rounds.
		ctx := testdir.Context(t)

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
		if st.Owner == nil || st.Owner.PID != c.Pid() || st.Owner.Program != "e2e-writer" || st.LockState != "held" {
			t.Errorf("round %d: status -json: got owner %+v, lock_state %q; want pid %d (e2e-writer), held", round, st.Owner, st.LockState, c.Pid())
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
		path := filepath.Join(backupDir, fmt.Sprintf("round%d", round), lock.DefaultName+".db")
		if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		acked := acks.progress()
		mustLitedir(t, ctx, "backup", dir, path)
		mustLitedir(t, ctx, "check", filepath.Dir(path))
		ws, err := workspace.OpenReadOnly(ctx, filepath.Dir(path), nil)
		if err != nil {
			t.Fatalf("open the backup: %v", err)
		}
		mustCheck(t, ctx, ws)
		mustConsistentCounts(t, ctx, ws)
		backups[path] = mustPrefix(t, ctx, ws, path, acked)
		lastSize = count(t, ctx, ws, `SELECT count(*) FROM messages`)
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// Stop the writer cleanly: every message it committed is then in the
	// workspace, and every message of every backup must be among them.
	ctx = testdir.Context(t)
	c.CloseStdin()
	acks.wait(t, ctx)
	if err := c.Wait(ctx); err != nil {
		t.Fatalf("writer: %v\n%s", err, c.Output())
	}
	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	final := mustPrefix(t, ctx, ws, "the workspace", acks.progress())
	for path, last := range backups {
		for g, n := range last {
			if n > final[g] {
				t.Errorf("%s: writer %s: has message %d, but only %d were ever committed", path, g, n, final[g]+1)
			}
		}
	}
	t.Logf("%d rounds of status, sql and backup beside a writer; %d messages acknowledged, %d in the last backup",
		rounds, acks.len(), lastSize)
}

// progress is how far each writer goroutine ("w00", "w01", ...) got: the
// number of its last message, or -1 for none.
type progress map[string]int

// parseBody splits a writer child's message body "wNN-nnnnnnn" into the
// goroutine and the message's number.
func parseBody(body string) (g string, n int, ok bool) {
	g, seq, ok := strings.Cut(body, "-")
	n, err := strconv.Atoi(seq)
	return g, n, ok && err == nil
}

// mustPrefix checks that the messages of the database of ws (a backup or
// the workspace, named what) are a consistent prefix of the writes: of each
// writer goroutine, which writes its messages one after the other, messages
// 0 to k, each once, for some k; and that they include the acknowledged
// ones (acked: each goroutine acknowledges its messages in order, so its
// acknowledged messages are a prefix too). It returns how far each
// goroutine got. The messages are counted in SQL rather than read: a soak
// run has millions.
func mustPrefix(t *testing.T, ctx context.Context, ws *workspace.Workspace, what string, acked progress) progress {
	t.Helper()
	rows, err := ws.ReadDB().QueryContext(ctx, `
		SELECT g, count(*), count(DISTINCT n), min(n), max(n)
		FROM (SELECT substr(body, 1, instr(body, '-') - 1) AS g,
		             CAST(substr(body, instr(body, '-') + 1) AS INTEGER) AS n
		      FROM messages)
		GROUP BY g`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := make(progress)
	for rows.Next() {
		var g string
		var total, distinct, lo, hi int
		if err := rows.Scan(&g, &total, &distinct, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if total != distinct {
			t.Errorf("%s: writer %s: %d messages, %d distinct: some twice", what, g, total, distinct)
		}
		if lo != 0 || hi != distinct-1 {
			t.Errorf("%s: writer %s: %d distinct messages numbered %d to %d: not a prefix", what, g, distinct, lo, hi)
		}
		got[g] = hi
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for g, n := range acked {
		h, ok := got[g]
		if !ok {
			h = -1
		}
		if h < n {
			t.Errorf("%s: writer %s: acknowledged messages up to %d before, but has only up to %d", what, g, n, h)
		}
	}
	return got
}

// ackLog follows a writer child's "ack <body>" lines in the background,
// so that the child never waits for the test to read, while the test runs
// commands.
type ackLog struct {
	mu     sync.Mutex
	n      int           // messages acknowledged
	last   progress      // of each goroutine, its last acknowledged message
	errs   []string      // error lines, and lines that make no sense
	notify chan struct{} // a value after each batch of new acks
	done   chan struct{} // closed when the child's stdout has ended
}

// collectAcks starts reading c's lines; the test must not read them itself
// from here on.
func collectAcks(c *testproc.Child) *ackLog {
	a := &ackLog{last: make(progress), notify: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for line := range c.Lines() {
			a.mu.Lock()
			if body, ok := strings.CutPrefix(line, "ack "); ok {
				g, n, ok := parseBody(body)
				if prev, seen := a.last[g]; !ok || (seen && n != prev+1) || (!seen && n != 0) {
					a.errs = append(a.errs, "out of order: "+line)
				}
				a.last[g] = n
				a.n++
			} else if strings.HasPrefix(line, testproc.ErrorPrefix) {
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

// len returns the number of acknowledged messages.
func (a *ackLog) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// progress returns how far each goroutine's acknowledged messages go.
func (a *ackLog) progress() progress {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.last)
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
