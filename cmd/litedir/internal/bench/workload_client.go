package bench

import (
	"context"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

//go:embed clientschema/*.sql
var clientSchemaFiles embed.FS

// clientSchema is the client workload's migrations (clientschema/).
var clientSchema = mustSub(clientSchemaFiles, "clientschema")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant embedded above; this cannot fail
	}
	return sub
}

// The client workload's statements, as sqlc generates them from a query
// file: each write is CreateMessage (":one", INSERT … RETURNING every
// column, through QueryRowContext) and UpdateSessionUsage (":exec", through
// ExecContext); the trigger counts the message in its session.
const (
	clientCreateSession = `INSERT INTO sessions (id, title, created_at, updated_at)
VALUES (?, ?, ?, ?)
RETURNING id, parent_session_id, title, message_count, prompt_tokens, completion_tokens, cost, created_at, updated_at`

	clientCreateMessage = `INSERT INTO messages (id, session_id, role, parts, model, provider, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id, session_id, role, parts, model, provider, created_at, updated_at, finished_at`

	clientUpdateSessionUsage = `UPDATE sessions
SET prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?, cost = cost + ?, updated_at = ?
WHERE id = ?`

	clientGetSession = `SELECT id, parent_session_id, title, message_count, prompt_tokens, completion_tokens, cost, created_at, updated_at
FROM sessions WHERE id = ?`

	clientListMessages = `SELECT id, session_id, role, parts, model, provider, created_at, updated_at, finished_at
FROM messages WHERE session_id = ? ORDER BY created_at DESC LIMIT 20`

	// clientKeys finds each key in the text of the message's first part.
	clientKeys = `SELECT substr(t, 1, instr(t, ':')) FROM (SELECT json_extract(parts, '$[0].data.text') AS t FROM messages WHERE rowid > ?)`
)

// The sizes of a message's parts: log-uniform between these bounds, so
// that the median is about 0.9 KiB and a few messages carry 4 KiB, as a
// conversation's short prompts and long tool outputs do.
const (
	clientPartsMin = 200
	clientPartsMax = 4096
)

// clientSession and clientMessage are the rows as sqlc's models hold them:
// every column scanned, NULLs as sql.Null*.
type clientSession struct {
	ID               string
	ParentSessionID  sql.NullString
	Title            string
	MessageCount     int64
	PromptTokens     int64
	CompletionTokens int64
	Cost             float64
	CreatedAt        int64
	UpdatedAt        int64
}

type clientMessage struct {
	ID         string
	SessionID  string
	Role       string
	Parts      string
	Model      sql.NullString
	Provider   sql.NullString
	CreatedAt  int64
	UpdatedAt  int64
	FinishedAt sql.NullInt64
}

// clientWorkload is a real coding agent's writes, on a schema shaped like
// its own (clientschema/): each write is sqlc's CreateMessage and
// UpdateSessionUsage, code written once against DBTX and run unchanged on
// every target.
type clientWorkload struct{}

func (clientWorkload) name() string     { return workloadClient }
func (clientWorkload) schema() fs.FS    { return clientSchema }
func (clientWorkload) autocommit() bool { return true } // sqlc over a *sql.DB
func (clientWorkload) keys() string     { return clientKeys }

func (clientWorkload) addSessions(ctx context.Context, q execer, n int) ([]any, error) {
	ids := make([]any, 0, n)
	for i := range n {
		var s clientSession
		now := nowMillis()
		err := q.QueryRowContext(ctx, clientCreateSession, newUUID(), fmt.Sprintf("bench session %d", i+1), now, now).
			Scan(&s.ID, &s.ParentSessionID, &s.Title, &s.MessageCount, &s.PromptTokens, &s.CompletionTokens, &s.Cost, &s.CreatedAt, &s.UpdatedAt)
		if err != nil {
			return nil, err
		}
		ids = append(ids, s.ID)
	}
	return ids, nil
}

func (clientWorkload) message(rng *rand.Rand, key string, n int, sessions []any) *message {
	m := &message{
		id:        newUUID(),
		sessionID: sessions[rng.IntN(len(sessions))],
		role:      agentRoles[n%2],
	}
	size := int(math.Exp(math.Log(clientPartsMin) + rng.Float64()*(math.Log(clientPartsMax)-math.Log(clientPartsMin))))
	if m.role == "assistant" {
		m.model = "bench-model-1"
		m.tokensIn = 1000 + rng.Int64N(20000)
		m.tokensOut = 50 + rng.Int64N(2000)
		m.cost = float64(m.tokensIn)*3e-6 + float64(m.tokensOut)*15e-6
	}
	m.text = clientParts(rng, key, size, m.role == "assistant")
	return m
}

// clientParts returns a message's parts, a JSON array of size bytes (more
// only when the key and the JSON around it need more): a text part whose
// text starts with key, then for an assistant, where size leaves room, a
// tool call and the finish reason.
func clientParts(rng *rand.Rand, key string, size int, assistant bool) string {
	const textHead, textTail = `[{"type":"text","data":{"text":"`, `"}}`
	tail := "]"
	if assistant {
		call := `,{"type":"tool_call","data":{"id":"call_` + strconv.FormatUint(rng.Uint64(), 36) +
			`","name":"view","input":{"path":"internal/app/app.go","offset":0,"limit":200},"finished":true}}` +
			`,{"type":"finish","data":{"reason":"tool_use"}}`
		if size-len(textHead)-len(textTail)-len(call)-len(tail) >= minAssistantText {
			tail = call + tail
		}
	}
	n := size - len(textHead) - len(textTail) - len(tail)
	return textHead + keyedText(rng, key, n) + textTail + tail
}

// minAssistantText is the shortest text an assistant message with a tool
// call carries; smaller messages are text alone.
const minAssistantText = 64

// store is the generated code's two calls, unchanged whatever q is.
func (clientWorkload) store(ctx context.Context, q execer, m *message) error {
	var model, provider sql.NullString
	if m.model != "" {
		model = sql.NullString{String: m.model, Valid: true}
		provider = sql.NullString{String: "bench", Valid: true}
	}
	var row clientMessage
	if err := q.QueryRowContext(ctx, clientCreateMessage, m.id, m.sessionID, m.role, m.text, model, provider, m.at, m.at).
		Scan(&row.ID, &row.SessionID, &row.Role, &row.Parts, &row.Model, &row.Provider, &row.CreatedAt, &row.UpdatedAt, &row.FinishedAt); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, clientUpdateSessionUsage, m.tokensIn, m.tokensOut, m.cost, m.at, m.sessionID)
	return err
}

// read alternates the client's two reads: a session's latest messages,
// every column of each, and a session by id.
func (clientWorkload) read(ctx context.Context, db *sql.DB, rng *rand.Rand, n int, sessions []any, _ int64) error {
	id := sessions[rng.IntN(len(sessions))]
	if n%2 == 1 {
		var s clientSession
		err := db.QueryRowContext(ctx, clientGetSession, id).
			Scan(&s.ID, &s.ParentSessionID, &s.Title, &s.MessageCount, &s.PromptTokens, &s.CompletionTokens, &s.Cost, &s.CreatedAt, &s.UpdatedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("session %v not found", id)
		}
		return err
	}
	rows, err := db.QueryContext(ctx, clientListMessages, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m clientMessage
		if err := rows.Scan(&m.ID, &m.SessionID, &m.Role, &m.Parts, &m.Model, &m.Provider, &m.CreatedAt, &m.UpdatedAt, &m.FinishedAt); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

func (clientWorkload) describe() workloadText {
	return workloadText{
		body:      fmt.Sprintf("JSON parts of %d B to %d KiB", clientPartsMin, clientPartsMax>>10),
		bodyBytes: [2]int{clientPartsMin, clientPartsMax},
		write:     "sqlc's CreateMessage (:one, INSERT … RETURNING) + UpdateSessionUsage (:exec); a trigger counts the message",
		baseline:  "one pooled connection, each statement in autocommit (the client's sqlc code over its *sql.DB), reads on that connection",
	}
}

// newUUID returns a random (version 4) UUID in its text form, as the
// client makes its ids. The process's random source makes ids unique
// across runs on one workspace.
func newUUID() string {
	var b [16]byte
	for i := range 2 {
		v := rand.Uint64()
		for j := range 8 {
			b[8*i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// nowMillis is the current time in Unix milliseconds.
func nowMillis() int64 { return time.Now().UnixMilli() }
