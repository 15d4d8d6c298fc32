package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/workspace"
)

// readyLine is the line every child role says once it is ready for the
// test's commands.
const readyLine = "ready"

// goTogether waits until every child in cs has said readyLine, then says
// "go" to each: the children start their race as close together as
// processes can.
func goTogether(t *testing.T, ctx context.Context, cs []*testproc.Child) {
	t.Helper()
	for _, c := range cs {
		c.WaitFor(ctx, readyLine)
	}
	for _, c := range cs {
		c.Send("go")
	}
}

// awaitCommand reads a child's next command from the test, which must be
// want: it fails the child on another command, and reports false when stdin
// ended first (the test gave up, and the child should finish).
func awaitCommand(t *testing.T, p *testproc.Parent, want string) bool {
	t.Helper()
	line, ok := p.Next()
	if !ok {
		return false
	}
	if line != want {
		p.Fail(t, "got command %q, want %q", line, want)
	}
	return true
}

// needLocks skips the test on platforms without inter-process locks, where
// a second process is not excluded at all.
func needLocks(t *testing.T) {
	t.Helper()
	if !lock.Supported {
		t.Skip("no inter-process locks on this platform")
	}
}

// mustOpen opens the workspace in dir and closes it when the test ends.
func mustOpen(t *testing.T, ctx context.Context, dir string, opts *workspace.Options) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(ctx, dir, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := ws.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ws
}

// mustOpenReadOnly opens the workspace in dir read-only and closes it when
// the test ends.
func mustOpenReadOnly(t *testing.T, ctx context.Context, dir string, opts *workspace.Options) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.OpenReadOnly(ctx, dir, opts)
	if err != nil {
		t.Fatalf("OpenReadOnly(%q): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := ws.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ws
}

// mustNotOpen calls Open, which must fail, and returns its error. If it
// succeeds, it closes the workspace and fails the test.
func mustNotOpen(t *testing.T, ctx context.Context, dir string, opts *workspace.Options) error {
	t.Helper()
	ws, err := workspace.Open(ctx, dir, opts)
	if err == nil {
		ws.Close()
		t.Fatalf("Open(%q) succeeded while another process holds the workspace", dir)
	}
	return err
}

// mustLockedBy checks that err is the *lock.LockedError of a workspace held
// by the process pid, and returns it.
func mustLockedBy(t *testing.T, err error, pid int) *lock.LockedError {
	t.Helper()
	if !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("got %v, want an error matching lock.ErrLocked", err)
	}
	var le *lock.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("got %T (%v), want a *lock.LockedError in the chain", err, err)
	}
	if le.Owner.PID != pid {
		t.Errorf("LockedError.Owner.PID: got %d, want %d (the child)", le.Owner.PID, pid)
	}
	return le
}

// newSession inserts a session through Write and returns its id.
func newSession(ctx context.Context, ws *workspace.Workspace, title string) (int64, error) {
	var id int64
	err := ws.Write(ctx, func(q workspace.Querier) error {
		return q.QueryRowContext(ctx, `INSERT INTO sessions (title, agent) VALUES (?, 'e2e') RETURNING id`, title).Scan(&id)
	})
	return id, err
}

// addMessage inserts a message with body into a session and counts it in the
// session's message_count, in one Write: the two statements commit together
// or not at all, which is what mustConsistentCounts checks.
func addMessage(ctx context.Context, ws *workspace.Workspace, session int64, body string) error {
	return ws.Write(ctx, func(q workspace.Querier) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO messages (session_id, role, body) VALUES (?, 'user', ?)`, session, body); err != nil {
			return err
		}
		res, err := q.ExecContext(ctx, `UPDATE sessions SET message_count = message_count + 1 WHERE id = ?`, session)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("count message of session %d: %d rows updated (%v)", session, n, err)
		}
		return nil
	})
}

// count returns the result of a SELECT count(*) query on the read pool.
func count(t *testing.T, ctx context.Context, ws *workspace.Workspace, query string, args ...any) int {
	t.Helper()
	var n int
	if err := ws.ReadDB().QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return n
}

// bodies returns every message body in the workspace and how often it
// occurs.
func bodies(t *testing.T, ctx context.Context, ws *workspace.Workspace) map[string]int {
	t.Helper()
	rows, err := ws.ReadDB().QueryContext(ctx, `SELECT body, count(*) FROM messages GROUP BY body`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := make(map[string]int)
	for rows.Next() {
		var body string
		var n int
		if err := rows.Scan(&body, &n); err != nil {
			t.Fatal(err)
		}
		m[body] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// mustCheck runs PRAGMA integrity_check and foreign_key_check and fails the
// test on any finding.
func mustCheck(t *testing.T, ctx context.Context, ws *workspace.Workspace) {
	t.Helper()
	r, err := ws.Check(ctx, true)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := r.Err(); err != nil {
		t.Errorf("Check: got %v, want ok", err)
	}
}

// mustConsistentCounts fails the test for every session whose message_count
// is not the number of its messages: a message and its count were committed
// apart.
func mustConsistentCounts(t *testing.T, ctx context.Context, ws *workspace.Workspace) {
	t.Helper()
	rows, err := ws.ReadDB().QueryContext(ctx, `
		SELECT s.id, s.message_count, (SELECT count(*) FROM messages m WHERE m.session_id = s.id)
		FROM sessions s
		WHERE s.message_count <> (SELECT count(*) FROM messages m WHERE m.session_id = s.id)
		LIMIT 10`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, counted, actual int
		if err := rows.Scan(&id, &counted, &actual); err != nil {
			t.Fatal(err)
		}
		t.Errorf("session %d: message_count: got %d, want %d (its messages)", id, counted, actual)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// dbPath is the database file of the workspace in dir under the default
// name, for tests that look at it while no handle is open.
func dbPath(dir string) string {
	return filepath.Join(dir, lock.DefaultName+".db")
}
