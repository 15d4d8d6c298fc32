package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// sharedConfig configures a shared child: one of several processes that
// open a fresh workspace in shared mode at the same moment.
type sharedConfig struct {
	Dir     string
	Index   int
	Rows    int // messages to write, across Writers goroutines
	Writers int

	// Opener, when set, makes the child an opener instead (see
	// runOpener): a process that tries one Open while the test holds the
	// workspace.
	Opener *openerConfig
}

// doneFormat is what a shared child reports when its writes are done:
// "done <failed> <busy>", the Writes that returned an error and, of those,
// the ones whose error matched ncruces.ErrBusy.
const doneFormat = "done %d %d"

// runShared plays a shared child. It compiles the engine, says readyLine and
// waits for "go", so that the children race into Open together, not one
// compile after another. Then it opens cfg.Dir shared with the builtin
// schema, creates a session of its own, says "opened" and waits for "write",
// so that the children's writes overlap too. It writes cfg.Rows messages
// into its session from cfg.Writers goroutines, says doneFormat with the
// failures, and holds the workspace open until stdin ends.
//
// A failed Write does not stop the child: the parent wants to know how many
// failed and whether any failed with SQLITE_BUSY, which the busy timeout
// and IMMEDIATE transactions must keep from ever reaching a caller. Each
// failure is also said as "write-error <error>".
func runShared(t *testing.T, cfg sharedConfig) {
	ctx := t.Context()
	p := testproc.NewParent()
	if err := ncruces.Initialize(nil); err != nil {
		p.Fail(t, "initialize: %v", err)
	}
	opts := &workspace.Options{
		Sharing:    lock.Shared,
		Migrations: migrations.Builtin,
		Program:    fmt.Sprintf("e2e-shared/%d", cfg.Index),
	}
	p.Say(readyLine)
	if !awaitCommand(t, p, "go") {
		return
	}

	ws, err := workspace.Open(ctx, cfg.Dir, opts)
	if err != nil {
		p.Fail(t, "open: %v", err)
	}
	defer func() {
		if err := ws.Close(); err != nil {
			p.Fail(t, "close: %v", err)
		}
	}()
	session, err := newSession(ctx, ws, fmt.Sprintf("shared %d", cfg.Index))
	if err != nil {
		p.Fail(t, "new session: %v", err)
	}
	p.Say("opened")
	if !awaitCommand(t, p, "write") {
		return
	}

	var failed, busy atomic.Int64
	var wg sync.WaitGroup
	for g := range cfg.Writers {
		wg.Go(func() {
			for i := g; i < cfg.Rows; i += cfg.Writers {
				err := addMessage(ctx, ws, session, fmt.Sprintf("c%d-%04d", cfg.Index, i))
				if err == nil {
					continue
				}
				failed.Add(1)
				if errors.Is(err, ncruces.ErrBusy) {
					busy.Add(1)
				}
				p.Say("write-error %v", err)
			}
		})
	}
	wg.Wait()
	p.Say(doneFormat, failed.Load(), busy.Load())

	for {
		if _, ok := p.Next(); !ok {
			break
		}
	}
}

// TestSharedMigratesOnce starts four processes that open the same fresh
// directory in shared mode at once and then write through it at once, from
// several goroutines each. It checks that the migrations were applied
// exactly once (each version has one row in goose's table), that no Write
// failed — none with SQLITE_BUSY, which the busy timeout must absorb — that
// every process's rows are there, and that the database is sound. And that
// shared and exclusive openers exclude each other in both orders: an
// exclusive Open fails while the shared holders are in, and a shared opener
// fails while this process holds the workspace exclusively.
func TestSharedMigratesOnce(t *testing.T) {
	var cfg sharedConfig
	if testproc.IsChild(t, &cfg) {
		if cfg.Opener != nil {
			runOpener(t, *cfg.Opener)
			return
		}
		runShared(t, cfg)
		return
	}
	needLocks(t)
	const (
		processes = 4
		writers   = 4 // goroutines per process
		rows      = 200
	)
	ctx := testdir.Context(t)
	dir := t.TempDir()

	children := make([]*testproc.Child, processes)
	for i := range children {
		children[i] = testproc.Start(t, fmt.Sprintf("child %d", i), sharedConfig{Dir: dir, Index: i, Rows: rows, Writers: writers})
	}
	goTogether(t, ctx, children)
	for _, c := range children {
		c.WaitFor(ctx, "opened")
	}

	// Shared holders first: an exclusive opener is refused, and told that
	// the holders are shared (they write no owner record).
	err := mustNotOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	var le *lock.LockedError
	if !errors.As(err, &le) || !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("exclusive Open beside shared holders: got %v, want a *lock.LockedError", err)
	}
	if !le.HeldShared || !le.Owner.IsZero() {
		t.Errorf("LockedError: got HeldShared %v, Owner %v; want true, no owner", le.HeldShared, le.Owner)
	}

	for _, c := range children {
		c.Send("write")
	}
	for _, c := range children {
		failed, busy := waitDone(t, ctx, c)
		if failed != 0 || busy != 0 {
			t.Errorf("%s: got %d failed Writes, %d of them SQLITE_BUSY; want none\n%s", c.Name(), failed, busy, c.Output())
		}
	}
	for _, c := range children {
		c.Finish(ctx)
	}

	// The exclusive owner first: a shared opener, another process, is
	// refused and told who owns the workspace.
	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	r := startOpener(t, ctx, openerConfig{Dir: dir, Sharing: lock.Shared, Builtin: true}, openerProcess{})
	if !r.matches("lock.ErrLocked") || r.LockedPID != os.Getpid() || r.HeldShared {
		t.Errorf("shared Open beside an exclusive owner: got %s (matching %q, owner pid %d, HeldShared %v); want lock.ErrLocked naming pid %d",
			r.Err, r.Is, r.LockedPID, r.HeldShared, os.Getpid())
	}

	got := appliedVersions(t, ws)
	want := map[string]int{"0 applied": 1} // goose's row for the empty database
	for _, v := range builtinVersions(t) {
		want[fmt.Sprintf("%d applied", v)] = 1
	}
	if !maps.Equal(got, want) {
		t.Errorf("goose_db_version rows by version: got %v, want %v", got, want)
	}

	mustCheck(t, ctx, ws)
	mustConsistentCounts(t, ctx, ws)
	if got := count(t, ctx, ws, `SELECT count(*) FROM sessions`); got != processes {
		t.Errorf("sessions: got %d, want %d", got, processes)
	}
	stored := bodies(t, ctx, ws)
	if len(stored) != processes*rows {
		t.Errorf("distinct messages: got %d, want %d", len(stored), processes*rows)
	}
	for i := range processes {
		for j := range rows {
			if body := fmt.Sprintf("c%d-%04d", i, j); stored[body] != 1 {
				t.Errorf("%s: got %d copies, want 1", body, stored[body])
			}
		}
	}
}

// waitDone reads a shared child's lines until its doneFormat line and
// returns the counts in it.
func waitDone(t *testing.T, ctx context.Context, c *testproc.Child) (failed, busy int) {
	t.Helper()
	for {
		line, ok := c.Next(ctx)
		if !ok {
			t.Fatalf("%s ended (%v) before its writes were done\n%s", c.Name(), c.Wait(ctx), c.Output())
		}
		if strings.HasPrefix(line, testproc.ErrorPrefix) {
			t.Fatalf("%s: %s\n%s", c.Name(), line, c.Output())
		}
		if _, err := fmt.Sscanf(line, doneFormat, &failed, &busy); err == nil {
			return failed, busy
		}
	}
}

// appliedVersions counts the rows of goose's version table by version and
// state, as "<version> applied" or "<version> rolled back".
func appliedVersions(t *testing.T, ws *workspace.Workspace) map[string]int {
	t.Helper()
	rows, err := ws.ReadDB().QueryContext(t.Context(),
		`SELECT version_id, is_applied, count(*) FROM goose_db_version GROUP BY version_id, is_applied`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := make(map[string]int)
	for rows.Next() {
		var version int64
		var applied bool
		var n int
		if err := rows.Scan(&version, &applied, &n); err != nil {
			t.Fatal(err)
		}
		state := "applied"
		if !applied {
			state = "rolled back"
		}
		got[fmt.Sprintf("%d %s", version, state)] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// builtinVersions returns the versions of the builtin migrations, from their
// file names (goose's NNNNN_name.sql).
func builtinVersions(t *testing.T) []int64 {
	t.Helper()
	names, err := fs.Glob(migrations.Builtin, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no builtin migrations")
	}
	var versions []int64
	for _, name := range names {
		prefix, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			t.Fatalf("builtin migration %s: %v", name, err)
		}
		versions = append(versions, v)
	}
	return versions
}
