package migrations_test

import (
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ncruces/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
)

var builtinTables = []string{"files", "goose_db_version", "messages", "sessions", "token_usage"}

func TestBuiltinFiles(t *testing.T) {
	names, err := fs.Glob(migrations.Builtin, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 2 {
		t.Fatalf("got %d builtin migrations %v, want at least 2 so upgrades are exercised", len(names), names)
	}
	for _, name := range names {
		body, err := fs.ReadFile(migrations.Builtin, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "\n-- +goose Down\n") {
			t.Errorf("%s: got no '-- +goose Down' section, want one", name)
		}
	}
}

func TestBuiltin(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "&_pragma=foreign_keys(1)")

	// Upgrade path: first only 00001, as an older program would ship it.
	first := mustReadBuiltin(t, "00001_init.sql")
	mustUp(t, ctx, mustNew(t, db, fstest.MapFS{"00001_init.sql": {Data: first}}, nil))
	m := mustNew(t, db, migrations.Builtin, nil)
	if got, want := appliedVersions(mustUp(t, ctx, m)), []int64{2}; !slices.Equal(got, want) {
		t.Errorf("got applied %v, want %v", got, want)
	}
	if got := mustTables(t, ctx, db); !slices.Equal(got, builtinTables) {
		t.Errorf("got tables %v, want %v", got, builtinTables)
	}

	mustExec(t, db, `INSERT INTO sessions (id, title, agent) VALUES (1, 'fix bug', 'coder')`)
	mustExec(t, db, `INSERT INTO messages (session_id, role, body) VALUES (1, 'user', 'hi'), (1, 'assistant', 'hello')`)
	mustExec(t, db, `UPDATE sessions SET message_count = message_count + 2, updated_at = 1 WHERE id = 1`)
	mustExec(t, db, `INSERT INTO files (session_id, path, sha256, size) VALUES (1, 'main.go', ?, 10)`, strings.Repeat("ab", 32))
	mustExec(t, db, `INSERT INTO token_usage (session_id, model, input_tokens, output_tokens) VALUES (1, 'm', 10, 20)`)

	var createdAt int64
	if err := db.QueryRowContext(ctx, `SELECT created_at FROM messages WHERE id = 1`).Scan(&createdAt); err != nil {
		t.Fatal(err)
	}
	if createdAt < 1_600_000_000_000 { // a Unix time in milliseconds, not seconds
		t.Errorf("got created_at %d, want Unix milliseconds", createdAt)
	}

	// Each statement must fail with the given extended code and change nothing.
	tests := []struct {
		name string
		sql  string
		args []any
		code sqlite3.ExtendedErrorCode
	}{
		{"bad role", `INSERT INTO messages (session_id, role, body) VALUES (1, 'robot', 'x')`, nil, sqlite3.CONSTRAINT_CHECK},
		{"missing session", `INSERT INTO messages (session_id, role, body) VALUES (42, 'user', 'x')`, nil, sqlite3.CONSTRAINT_FOREIGNKEY},
		{"null body", `INSERT INTO messages (session_id, role, body) VALUES (1, 'user', NULL)`, nil, sqlite3.CONSTRAINT_NOTNULL},
		{"body not text (strict)", `INSERT INTO messages (session_id, role, body) VALUES (1, 'user', x'00')`, nil, sqlite3.CONSTRAINT_DATATYPE},
		{"bad status", `UPDATE sessions SET status = 'sleeping' WHERE id = 1`, nil, sqlite3.CONSTRAINT_CHECK},
		{"negative message count", `UPDATE sessions SET message_count = -1 WHERE id = 1`, nil, sqlite3.CONSTRAINT_CHECK},
		{"duplicate file path", `INSERT INTO files (session_id, path) VALUES (1, 'main.go')`, nil, sqlite3.CONSTRAINT_UNIQUE},
		{"bad sha256", `INSERT INTO files (session_id, path, sha256) VALUES (1, 'a.go', ?)`, []any{strings.Repeat("AB", 32)}, sqlite3.CONSTRAINT_CHECK},
		{"negative tokens", `INSERT INTO token_usage (session_id, model, input_tokens) VALUES (1, 'm', -1)`, nil, sqlite3.CONSTRAINT_CHECK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.ExecContext(ctx, tt.sql, tt.args...)
			if !errors.Is(err, tt.code) {
				t.Errorf("got error %v, want %v", err, tt.code)
			}
		})
	}

	// The benchmark's read, the latest N messages of a session, must use the
	// index rather than scan and sort.
	plan := mustQueryPlan(t, db, `SELECT id, role, body FROM messages WHERE session_id = ? ORDER BY id DESC LIMIT 10`)
	if !strings.Contains(plan, "messages_session_id_id") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("got query plan %q, want a search of messages_session_id_id without a sort", plan)
	}

	// Deleting a session deletes what hangs off it.
	mustExec(t, db, `DELETE FROM sessions WHERE id = 1`)
	for _, table := range []string{"messages", "files", "token_usage"} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("got %d rows in %s after deleting the session, want 0", n, table)
		}
	}
}

// TestBuiltinDown runs every Down section through goose's Provider (there is
// no Down in this package) and checks the schema goes away and comes back.
func TestBuiltinDown(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "&_pragma=foreign_keys(1)")
	m := mustNew(t, db, migrations.Builtin, nil)
	mustUp(t, ctx, m)

	// Never p.Close(): it would close db, which mustOpen's cleanup owns.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.Builtin, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("DownTo(0): %v", err)
	}
	if got, want := mustTables(t, ctx, db), []string{"goose_db_version"}; !slices.Equal(got, want) {
		t.Errorf("got tables %v after Down, want %v", got, want)
	}
	checkStatus(t, mustStatus(t, ctx, m), 0, 2, []int64{1, 2})
	mustUp(t, ctx, m)
	if got := mustTables(t, ctx, db); !slices.Equal(got, builtinTables) {
		t.Errorf("got tables %v after Up again, want %v", got, builtinTables)
	}
}

func mustReadBuiltin(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(migrations.Builtin, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// mustQueryPlan returns the detail column of EXPLAIN QUERY PLAN query, one
// line per step.
func mustQueryPlan(t *testing.T, db *sql.DB, query string) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
