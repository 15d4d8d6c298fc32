package bench

import (
	"context"
	"database/sql"
	"io/fs"
	"math/rand/v2"
	"slices"
)

// A workload is what a phase's goroutines run, the same on every target:
// the schema, the statements of one write and of one read, and where the
// verification finds each write's key. The implementations are stateless
// and safe for concurrent use.
//
//   - plain (workload_agent.go): the built-in agent schema, each write two
//     ExecContext calls;
//   - sqlc (workload_agent.go): the same schema, each write the two
//     QueryRowContext calls sqlc generates for ":one" queries with
//     RETURNING;
//   - client (workload_client.go): a schema of its own shaped like a real
//     sqlc client's (JSON message parts of 0.2–4 KiB, a trigger keeping the
//     session's message count, three indexes), each write a ":one"
//     INSERT … RETURNING and an ":exec" UPDATE.
type workload interface {
	// name is the workload's value of -workload.
	name() string

	// schema holds the migrations the workspace and the baseline are
	// created with.
	schema() fs.FS

	// autocommit reports whether the baseline runs a write's statements
	// each on its own, as generated code over a *sql.DB does, instead of
	// in one BEGIN IMMEDIATE transaction.
	autocommit() bool

	// addSessions inserts n sessions through q and returns their ids,
	// which message and read pass back.
	addSessions(ctx context.Context, q execer, n int) ([]any, error)

	// message makes write n of a writer whose random stream is rng: one
	// message, in one of sessions, whose text starts with key.
	message(rng *rand.Rand, key string, n int, sessions []any) *message

	// store runs m's statements on q: the message and its session's
	// update. nil means both ran.
	store(ctx context.Context, q execer, m *message) error

	// read runs read n of a reader whose random stream is rng, on db,
	// scanning every row. maxID is the largest message rowid when the
	// phase began.
	read(ctx context.Context, db *sql.DB, rng *rand.Rand, n int, sessions []any, maxID int64) error

	// keys is the query that selects the key of every message whose rowid
	// is above its one argument: the text's prefix up to and including its
	// first ':' (see writeKey).
	keys() string

	// describe is what the text report says about the workload's
	// messages and its baseline.
	describe() workloadText
}

// workloadText is how the text report describes a workload.
type workloadText struct {
	body      string // the header's description of a message: "200-byte bodies"
	bodyBytes [2]int // the smallest and largest message, in bytes
	write     string // what one write runs
	baseline  string // how the baseline runs it
}

// Workload names, the values of -workload.
const (
	workloadPlain  = "plain"
	workloadSQLC   = "sqlc"
	workloadClient = "client"
)

// workloadNames lists the values of -workload, in the order usage shows
// them.
var workloadNames = []string{workloadPlain, workloadSQLC, workloadClient}

// newWorkload returns the workload name names, with message bodies of
// rowSize bytes where the workload has a fixed size; ok is false for an
// unknown name.
func newWorkload(name string, rowSize int) (w workload, ok bool) {
	switch name {
	case workloadPlain:
		return &agentWorkload{rowSize: rowSize}, true
	case workloadSQLC:
		return &agentWorkload{rowSize: rowSize, returning: true}, true
	case workloadClient:
		return clientWorkload{}, true
	}
	return nil, false
}

// isWorkload reports whether name is a value of -workload.
func isWorkload(name string) bool { return slices.Contains(workloadNames, name) }

// message is one write of a workload. The fields a workload does not use
// are zero.
type message struct {
	id        string // client: the message's id, made by the program
	sessionID any    // int64 on the built-in schema, string on the client's
	role      string
	text      string // body (built-in) or parts (client); starts with the write's key
	model     string // client
	tokensIn  int64  // client: what the update adds to its session
	tokensOut int64
	cost      float64
	at        int64 // Unix milliseconds: sessions.updated_at, messages.created_at
}

// execer is what a Write function's Querier, the front, a *sql.Tx and a
// *sql.DB all offer: sqlc's DBTX, less Prepare. A workload's statements are
// written once against it and run unchanged on every target.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// bodyAlphabet has 64 characters, so that 6 random bits pick one. None of
// them needs escaping in JSON, and none is ':', which ends a write's key.
const bodyAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ."

// fillBody fills b with random text: valid UTF-8 for the TEXT column, one
// byte per character so sizes are exact, and cheap (ten characters per
// random number) so the writers measure SQLite rather than the generator.
func fillBody(rng *rand.Rand, b []byte) {
	var bits uint64
	for i := range b {
		if i%10 == 0 {
			bits = rng.Uint64()
		}
		b[i] = bodyAlphabet[bits&63]
		bits >>= 6
	}
}

// keyedText returns key followed by random text, size bytes in all (or
// key alone when it is longer).
func keyedText(rng *rand.Rand, key string, size int) string {
	if size <= len(key) {
		return key
	}
	b := make([]byte, size)
	copy(b, key)
	fillBody(rng, b[len(key):])
	return string(b)
}
