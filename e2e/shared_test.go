package e2e_test

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// sharedConfig configures a shared child: one of several processes that
// open a fresh workspace in shared mode at the same moment.
type sharedConfig struct {
	Dir   string
	Index int
	Rows  int
}

// runShared plays a shared child. It compiles the engine, says readyLine and
// waits for "go", so that the children race into Open together, not one
// compile after another. Then it opens cfg.Dir shared with the builtin
// schema, writes cfg.Rows messages into a session of its own, says "done",
// and holds the workspace open until stdin ends.
func runShared(t *testing.T, cfg sharedConfig) {
	ctx := t.Context()
	p := newParentLink()
	if err := ncruces.Initialize(nil); err != nil {
		p.fail(t, "initialize: %v", err)
	}
	opts := &workspace.Options{
		Sharing:    lock.Shared,
		Migrations: migrations.Builtin,
		Program:    fmt.Sprintf("e2e-shared/%d", cfg.Index),
	}
	p.say(readyLine)
	line, ok := p.next()
	if !ok {
		return // the parent gave up before the race
	}
	if line != "go" {
		p.fail(t, "got command %q, want %q", line, "go")
	}

	ws, err := workspace.Open(ctx, cfg.Dir, opts)
	if err != nil {
		p.fail(t, "open: %v", err)
	}
	session, err := newSession(ctx, ws, fmt.Sprintf("shared %d", cfg.Index))
	if err != nil {
		p.fail(t, "new session: %v", err)
	}
	for i := range cfg.Rows {
		if err := addMessage(ctx, ws, session, fmt.Sprintf("c%d-%04d", cfg.Index, i)); err != nil {
			p.fail(t, "message %d: %v", i, err)
		}
	}
	p.say("done")

	for {
		if _, ok := p.next(); !ok {
			break
		}
	}
	if err := ws.Close(); err != nil {
		p.fail(t, "close: %v", err)
	}
}

// TestSharedMigratesOnce starts four processes that open the same fresh
// directory in shared mode at once and write through it. It checks that the
// migrations were applied exactly once (each version has one row in goose's
// table), that every process's rows are there, that the database is sound,
// and that an exclusive Open fails while the shared holders are in.
func TestSharedMigratesOnce(t *testing.T) {
	var cfg sharedConfig
	if childConfig(t, &cfg) {
		runShared(t, cfg)
		return
	}
	needLocks(t)
	const (
		processes = 4
		rows      = 100
	)
	ctx := testCtx(t)
	dir := t.TempDir()

	children := make([]*child, processes)
	for i := range children {
		children[i] = startChild(t, fmt.Sprintf("child %d", i), sharedConfig{Dir: dir, Index: i, Rows: rows})
	}
	for _, c := range children {
		c.waitFor(ctx, readyLine)
	}
	for _, c := range children {
		c.send("go")
	}
	for _, c := range children {
		c.waitFor(ctx, "done")
	}

	err := mustNotOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	var le *lock.LockedError
	if !errors.As(err, &le) || !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("exclusive Open beside shared holders: got %v, want a *lock.LockedError", err)
	}
	if !le.HeldShared || !le.Owner.IsZero() {
		t.Errorf("LockedError: got HeldShared %v, Owner %v; want true, no owner", le.HeldShared, le.Owner)
	}

	for _, c := range children {
		c.finish(ctx)
	}

	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
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
