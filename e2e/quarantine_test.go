package e2e_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testhook"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// quarantineConfig configures a child that opens a damaged workspace.
type quarantineConfig struct {
	Dir string
	// OnCorrupt: the child opens with RecoverOnCorrupt.
	OnCorrupt bool
	// Stop names the quarantine step at which the child says "at <step>"
	// and stops, to be killed there; "" for none.
	Stop string
	// Pause names the step at which the child says "at <step>" and waits
	// for "continue".
	Pause string
}

// runQuarantineChild opens cfg.Dir (waiting for its lock up to a minute),
// says "opened <n>" with the number of messages, and closes the
// workspace when stdin ends.
func runQuarantineChild(t *testing.T, cfg quarantineConfig) {
	p := testproc.NewParent()
	testhook.Quarantine = func(step string) {
		switch step {
		case cfg.Stop:
			p.Say("at %s", step)
			select {} // killed here
		case cfg.Pause:
			p.Say("at %s", step)
			awaitCommand(t, p, "continue")
		}
	}
	opts := &workspace.Options{Program: "e2e-quarantine", Migrations: migrations.Builtin, LockWait: time.Until(testdir.Deadline(t))}
	if cfg.OnCorrupt {
		opts.OnCorrupt = workspace.RecoverOnCorrupt
	}
	p.Say("opening")
	ws, err := workspace.Open(t.Context(), cfg.Dir, opts)
	if err != nil {
		p.Fail(t, "open: %v", err)
	}
	var n int
	if err := ws.ReadDB().QueryRowContext(t.Context(), `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		p.Fail(t, "count: %v", err)
	}
	p.Say("opened %d", n)
	for {
		if _, ok := p.Next(); !ok {
			break
		}
	}
	if err := ws.Close(); err != nil {
		p.Fail(t, "close: %v", err)
	}
}

// mustDamaged makes a workspace with messages, zeroes its database header
// so that SQLite calls it not a database, and returns the number of
// messages and the damaged file's bytes.
func mustDamaged(t *testing.T, dir string) (int, []byte) {
	t.Helper()
	ctx := testdir.Context(t)
	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	session, err := newSession(ctx, ws, "quarantine")
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := range n {
		if err := addMessage(ctx, ws, session, fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	b := testdir.ReadFile(t, dbPath(dir))
	clear(b[:100])
	if err := os.WriteFile(dbPath(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return n, b
}

// TestKillDuringQuarantine kills a process at every step of its
// quarantine-on-open: whatever the step, the directory holds the damaged
// files or the recovered workspace (never neither), the damaged bytes are
// kept, and the next Open — a plain one past the commit point — gets every
// message back.
func TestKillDuringQuarantine(t *testing.T) {
	var cfg quarantineConfig
	if testproc.IsChild(t, &cfg) {
		runQuarantineChild(t, cfg)
		return
	}
	needLocks(t)
	ctx := testdir.Context(t)
	for i, step := range []string{"recovered", "committed", "moved litedir.db", "installed", "done"} {
		t.Run(strings.ReplaceAll(step, " ", "-"), func(t *testing.T) {
			dir := testdir.New(t)
			n, damagedBytes := mustDamaged(t, dir)
			c := testproc.Start(t, "quarantine ("+step+")", quarantineConfig{Dir: dir, OnCorrupt: true, Stop: step})
			c.WaitFor(ctx, "at "+step)
			c.Kill()
			c.Wait(ctx)

			// The damaged bytes are somewhere: in place, or quarantined.
			inPlace, _ := os.ReadFile(dbPath(dir)) // gone between "moved" and "installed"
			kept := bytes.Equal(inPlace, damagedBytes)
			if !kept {
				qs, _ := filepath.Glob(filepath.Join(dir, "quarantine", "*", "litedir.db"))
				for _, q := range qs {
					kept = kept || bytes.Equal(testdir.ReadFile(t, q), damagedBytes)
				}
			}
			if _, err := os.Stat(dbPath(dir)); err != nil && i < 2 {
				t.Errorf("killed at %q, before the commit point: the database is gone: %v", step, err)
			}
			plain := &workspace.Options{Migrations: migrations.Builtin}
			ws, err := workspace.Open(ctx, dir, plain)
			if i < 1 {
				// Before the commit point the damaged file is in place, and
				// only a recovering Open gets past it.
				if !errors.Is(err, ncruces.ErrNotADatabase) {
					t.Fatalf("killed at %q: plain Open: got %v, want ErrNotADatabase", step, err)
				}
				plain.OnCorrupt = workspace.RecoverOnCorrupt
				ws, err = workspace.Open(ctx, dir, plain)
			}
			if err != nil {
				t.Fatalf("killed at %q: Open: %v", step, err)
			}
			defer ws.Close()
			if got := count(t, ctx, ws, `SELECT count(*) FROM messages`); got != n {
				t.Errorf("killed at %q: %d messages, want %d", step, got, n)
			}
			mustCheck(t, ctx, ws)
			if !kept {
				qs, _ := filepath.Glob(filepath.Join(dir, "quarantine", "*", "litedir.db"))
				for _, q := range qs {
					kept = kept || bytes.Equal(testdir.ReadFile(t, q), damagedBytes)
				}
				if !kept {
					t.Errorf("killed at %q: the damaged file is neither in place nor quarantined", step)
				}
			}
		})
	}
}

// TestQuarantineWhileWaiting: a second process opens the workspace while the
// first quarantines it; it waits for the lock and then opens the recovered
// workspace, with every message, without a recovery of its own.
func TestQuarantineWhileWaiting(t *testing.T) {
	var cfg quarantineConfig
	if testproc.IsChild(t, &cfg) {
		runQuarantineChild(t, cfg)
		return
	}
	needLocks(t)
	ctx := testdir.Context(t)
	dir := testdir.New(t)
	n, _ := mustDamaged(t, dir)

	first := testproc.Start(t, "first", quarantineConfig{Dir: dir, OnCorrupt: true, Pause: "recovered"})
	first.WaitFor(ctx, "at recovered")
	second := testproc.Start(t, "second", quarantineConfig{Dir: dir})
	second.WaitFor(ctx, "opening")
	first.Send("continue")
	first.WaitFor(ctx, fmt.Sprintf("opened %d", n))
	first.Finish(ctx)
	second.WaitFor(ctx, fmt.Sprintf("opened %d", n))
	second.Finish(ctx)

	qs, err := filepath.Glob(filepath.Join(dir, "quarantine", "*"))
	if err != nil || len(qs) != 1 {
		t.Errorf("quarantines: %v %v, want exactly one", qs, err)
	}
}
