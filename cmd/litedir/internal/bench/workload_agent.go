package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"

	"github.com/litedir/litedir/migrations"
)

// The agent workloads' statements, on the schema of migrations.Builtin.
const (
	insertSession = `INSERT INTO sessions(title, agent) VALUES (?, 'litedir bench')`
	insertMessage = `INSERT INTO messages(session_id, role, body) VALUES (?, ?, ?)`
	updateSession = `UPDATE sessions SET message_count = message_count + 1, updated_at = ? WHERE id = ?`
	selectLatest  = `SELECT id, role, body, created_at FROM messages WHERE session_id = ? ORDER BY id DESC LIMIT 20`

	// The sqlc workload's statements: what sqlc generates for ":one"
	// queries, INSERT … RETURNING * and UPDATE … RETURNING, run through
	// QueryRowContext.
	insertMessageReturning = `INSERT INTO messages(session_id, role, body) VALUES (?, ?, ?) RETURNING id, session_id, role, body, created_at`
	updateSessionReturning = `UPDATE sessions SET message_count = message_count + 1, updated_at = ? WHERE id = ? RETURNING id, message_count, updated_at`
	selectMessageByID      = `SELECT id, session_id, role, body, created_at FROM messages WHERE id = ?`

	// agentKeys selects the keys of the messages a phase added.
	agentKeys = `SELECT substr(body, 1, instr(body, ':')) FROM messages WHERE rowid > ?`
)

// agentWorkload is the plain and sqlc workloads, on the built-in agent
// schema: each write inserts a message of rowSize bytes and counts it in
// its session, the writer keeping the count (the schema has no trigger).
type agentWorkload struct {
	rowSize int
	// returning runs sqlc's shapes: both statements through QueryRowContext
	// with RETURNING, and readers alternate a read by id with the latest
	// messages of a session.
	returning bool
}

func (w *agentWorkload) name() string {
	if w.returning {
		return workloadSQLC
	}
	return workloadPlain
}

func (w *agentWorkload) schema() fs.FS { return migrations.Builtin }

// autocommit: sqlc-generated code runs each statement on its own; the
// plain workload is the hand-written BEGIN IMMEDIATE … COMMIT agents ship.
func (w *agentWorkload) autocommit() bool { return w.returning }

func (w *agentWorkload) addSessions(ctx context.Context, q execer, n int) ([]any, error) {
	ids := make([]any, 0, n)
	for i := range n {
		r, err := q.ExecContext(ctx, insertSession, fmt.Sprintf("bench session %d", i+1))
		if err != nil {
			return nil, err
		}
		id, err := r.LastInsertId()
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

var agentRoles = [2]string{"user", "assistant"}

func (w *agentWorkload) message(rng *rand.Rand, key string, n int, sessions []any) *message {
	text := keyedText(rng, key, w.rowSize) // before the session: a fixed order of draws
	return &message{
		sessionID: sessions[rng.IntN(len(sessions))],
		role:      agentRoles[n%2],
		text:      text,
	}
}

// store runs m's two statements on q, in the workload's shape. An update
// that finds no session is an error: the bench's counts would no longer
// add up.
func (w *agentWorkload) store(ctx context.Context, q execer, m *message) error {
	if w.returning {
		return storeReturning(ctx, q, m)
	}
	return storeExec(ctx, q, m)
}

// storeReturning is store as sqlc-generated code does it: both statements
// return the row they wrote, scanned in full.
func storeReturning(ctx context.Context, q execer, m *message) error {
	var (
		id, sessionID, createdAt int64
		role, body               string
	)
	if err := q.QueryRowContext(ctx, insertMessageReturning, m.sessionID, m.role, m.text).
		Scan(&id, &sessionID, &role, &body, &createdAt); err != nil {
		return err
	}
	var count, updatedAt int64
	err := q.QueryRowContext(ctx, updateSessionReturning, m.at, m.sessionID).Scan(&sessionID, &count, &updatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("update of session %v changed no row", m.sessionID)
	}
	return err
}

func storeExec(ctx context.Context, q execer, m *message) error {
	if _, err := q.ExecContext(ctx, insertMessage, m.sessionID, m.role, m.text); err != nil {
		return err
	}
	r, err := q.ExecContext(ctx, updateSession, m.at, m.sessionID)
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("update of session %v changed %d rows, want 1", m.sessionID, n)
	}
	return nil
}

func (w *agentWorkload) read(ctx context.Context, db *sql.DB, rng *rand.Rand, n int, sessions []any, maxID int64) error {
	if w.returning && n%2 == 1 {
		return readByID(ctx, db, rng.Int64N(maxID+1))
	}
	return readLatest(ctx, db, sessions[rng.IntN(len(sessions))])
}

// readByID reads one message by its id, as a program opening a message
// would; a missing id is not an error.
func readByID(ctx context.Context, db *sql.DB, id int64) error {
	var (
		sessionID, createdAt int64
		role, body           string
	)
	err := db.QueryRowContext(ctx, selectMessageByID, id).Scan(&id, &sessionID, &role, &body, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

// readLatest runs the readers' query and scans every row, as a program
// showing a session would.
func readLatest(ctx context.Context, db *sql.DB, sessionID any) error {
	rows, err := db.QueryContext(ctx, selectLatest, sessionID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, createdAt int64
			role, body    string
		)
		if err := rows.Scan(&id, &role, &body, &createdAt); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

func (w *agentWorkload) keys() string { return agentKeys }

func (w *agentWorkload) describe() workloadText {
	t := workloadText{
		body:      fmt.Sprintf("%d-byte bodies", w.rowSize),
		bodyBytes: [2]int{w.rowSize, w.rowSize},
		write:     "INSERT a message + UPDATE its session (two ExecContext)",
		baseline:  "one pooled connection, BEGIN IMMEDIATE + the two statements + COMMIT per write, reads on that connection",
	}
	if w.returning {
		t.write = "INSERT … RETURNING a message + UPDATE … RETURNING its session (two QueryRowContext, as sqlc's :one)"
		t.baseline = "one pooled connection, each statement in autocommit (as sqlc over a *sql.DB), reads on that connection"
	}
	return t
}
