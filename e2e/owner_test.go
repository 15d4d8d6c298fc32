package e2e_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// ownerConfig configures the owner child: a process that opens a workspace
// exclusively, writes some messages, and then holds it, taking commands.
type ownerConfig struct {
	Dir     string
	Program string
	Meta    map[string]string
	Rows    int // messages to write before saying ready
	// ExternalCheckpoints opens the workspace with the option of that
	// name: the owner never checkpoints, so what it writes stays in the
	// WAL.
	ExternalCheckpoints bool
}

// isOwner plays the owner child (runOwner) if this process is a child of
// the test t, and reports whether it did: the first statement of a test
// whose only children are owners.
func isOwner(t *testing.T) bool {
	var cfg ownerConfig
	if !testproc.IsChild(t, &cfg) {
		return false
	}
	runOwner(t, cfg)
	return true
}

// startOwner starts an owner child of the test t with cfg and waits until
// it owns the workspace and has written its rows.
func startOwner(t *testing.T, ctx context.Context, cfg ownerConfig) *testproc.Child {
	t.Helper()
	c := testproc.Start(t, "owner", cfg)
	c.WaitFor(ctx, readyLine)
	return c
}

// runOwner plays the owner child. It opens cfg.Dir exclusively with the
// builtin schema, writes cfg.Rows messages into one session and says
// readyLine once they have committed. Then it answers the parent's commands
// until stdin ends, and closes the workspace:
//
//	write N   writes N more messages and says "wrote <total messages>"
//	check     runs a full check, counts the messages it wrote and says
//	          "checked <total messages>"
//
// Any failure is reported as an error line and fails the child.
func runOwner(t *testing.T, cfg ownerConfig) {
	ctx := t.Context()
	p := testproc.NewParent()
	ws, err := workspace.Open(ctx, cfg.Dir, &workspace.Options{
		Program:             cfg.Program,
		Meta:                cfg.Meta,
		Migrations:          migrations.Builtin,
		ExternalCheckpoints: cfg.ExternalCheckpoints,
	})
	if err != nil {
		p.Fail(t, "open: %v", err)
	}
	session, err := newSession(ctx, ws, "owner")
	if err != nil {
		p.Fail(t, "new session: %v", err)
	}
	written := 0
	write := func(n int) {
		for range n {
			if err := addMessage(ctx, ws, session, fmt.Sprintf("owner-%06d", written)); err != nil {
				p.Fail(t, "write message %d: %v", written, err)
			}
			written++
		}
	}
	write(cfg.Rows)
	p.Say(readyLine)

	for {
		line, ok := p.Next()
		if !ok {
			break
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "write":
			n, err := strconv.Atoi(arg)
			if err != nil {
				p.Fail(t, "command %q: %v", line, err)
			}
			write(n)
			p.Say("wrote %d", written)
		case "check":
			r, err := ws.Check(ctx, true)
			if err != nil {
				p.Fail(t, "check: %v", err)
			}
			if err := r.Err(); err != nil {
				p.Fail(t, "check: %v", err)
			}
			var n int
			if err := ws.ReadDB().QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE session_id = ?`, session).Scan(&n); err != nil {
				p.Fail(t, "count: %v", err)
			}
			if n != written {
				p.Fail(t, "messages: got %d, want %d", n, written)
			}
			p.Say("checked %d", n)
		default:
			p.Fail(t, "unknown command %q", line)
		}
	}
	if err := ws.Close(); err != nil {
		p.Fail(t, "close: %v", err)
	}
}
