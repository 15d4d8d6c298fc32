package salvage_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/salvage"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// mustWorkspace creates a workspace with the builtin schema and rows in
// every table — long message bodies that need overflow pages, deleted
// rows that leave free pages — closes it and returns its database file.
func mustWorkspace(t *testing.T, messages int) string {
	t.Helper()
	ctx := testdir.Context(t)
	dir := testdir.New(t)
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		t.Fatal(err)
	}
	db := ws.DB()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for s := 1; s <= 20; s++ {
		exec(`INSERT INTO sessions(id, title, agent, status) VALUES (?, ?, 'agent', 'active')`, s, fmt.Sprintf("session %d", s))
		exec(`INSERT INTO files(session_id, path, size) VALUES (?, ?, ?)`, s, fmt.Sprintf("src/file%d.go", s), s*100)
		exec(`INSERT INTO token_usage(session_id, model, input_tokens, output_tokens) VALUES (?, 'model-x', ?, ?)`, s, s*7, s*3)
	}
	for m := 1; m <= messages; m++ {
		body := strings.Repeat(fmt.Sprintf("message %d ", m), 1+m%40)
		if m%50 == 0 {
			body = strings.Repeat("long body ", 2000+m) // overflow pages
		}
		exec(`INSERT INTO messages(session_id, role, body) VALUES (?, 'user', ?)`, 1+m%20, body)
	}
	exec(`DELETE FROM messages WHERE id % 7 = 3`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	return workspace.DatabasePath(dir, "")
}

// tableRows reads every row of table from a healthy database with SQLite,
// keyed by rowid, each formatted as a line.
func tableRows(t *testing.T, path, table string) map[int64]string {
	t.Helper()
	ctx := testdir.Context(t)
	ws, err := workspace.OpenReadOnly(ctx, filepath.Dir(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	rows, err := ws.ReadDB().QueryContext(ctx, fmt.Sprintf(`SELECT rowid, * FROM %q`, table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[int64]string{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out[vals[0].(int64)] = formatAny(vals[1:])
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func formatAny(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case []byte:
			parts[i] = fmt.Sprintf("%q", v)
		case string:
			parts[i] = fmt.Sprintf("%q", v)
		case nil:
			parts[i] = "NULL"
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "|")
}

// rowSink collects rows by table as formatted lines.
type rowSink struct {
	rows map[string]map[int64]string
	lost []salvage.Lost
}

func (s *rowSink) Row(r salvage.Row) error {
	if s.rows == nil {
		s.rows = map[string]map[int64]string{}
	}
	m := s.rows[r.Table.Name]
	if m == nil {
		m = map[int64]string{}
		s.rows[r.Table.Name] = m
	}
	vals := make([]any, len(r.Table.Columns))
	for i := range vals {
		if i < len(r.Values) {
			vals[i] = r.Values[i].Any()
		}
		if r.Table.Columns[i].RowIDAlias {
			vals[i] = r.RowID
		}
	}
	m[r.RowID] = formatAny(vals)
	return nil
}

func (s *rowSink) Lost(l salvage.Lost) error {
	s.lost = append(s.lost, l)
	return nil
}

// builtinTables describes the builtin schema's tables as the workspace
// package does, from the file's own schema.
func builtinTables(entries []salvage.SchemaEntry) []*salvage.Table {
	shapes := map[string][]salvage.Column{
		"sessions": {{Name: "id", Type: "INTEGER", RowIDAlias: true}, {Name: "title", Type: "TEXT", NotNull: true}, {Name: "agent", Type: "TEXT", NotNull: true},
			{Name: "status", Type: "TEXT", NotNull: true}, {Name: "message_count", Type: "INTEGER", NotNull: true}, {Name: "created_at", Type: "INTEGER", NotNull: true}, {Name: "updated_at", Type: "INTEGER", NotNull: true}},
		"messages": {{Name: "id", Type: "INTEGER", RowIDAlias: true}, {Name: "session_id", Type: "INTEGER", NotNull: true}, {Name: "role", Type: "TEXT", NotNull: true},
			{Name: "body", Type: "TEXT", NotNull: true}, {Name: "created_at", Type: "INTEGER", NotNull: true}},
		"files": {{Name: "id", Type: "INTEGER", RowIDAlias: true}, {Name: "session_id", Type: "INTEGER", NotNull: true}, {Name: "path", Type: "TEXT", NotNull: true},
			{Name: "sha256", Type: "TEXT"}, {Name: "size", Type: "INTEGER"}, {Name: "updated_at", Type: "INTEGER", NotNull: true}},
		"token_usage": {{Name: "id", Type: "INTEGER", RowIDAlias: true}, {Name: "session_id", Type: "INTEGER", NotNull: true}, {Name: "model", Type: "TEXT", NotNull: true},
			{Name: "input_tokens", Type: "INTEGER", NotNull: true}, {Name: "output_tokens", Type: "INTEGER", NotNull: true}, {Name: "created_at", Type: "INTEGER", NotNull: true}},
	}
	plain := map[string][]salvage.Column{
		"goose_db_version": {{Name: "id", Type: "INTEGER", RowIDAlias: true}, {Name: "version_id", Type: "INTEGER", NotNull: true}, {Name: "is_applied", Type: "INTEGER", NotNull: true}, {Name: "tstamp", Type: "TIMESTAMP"}},
		"sqlite_sequence":  {{Name: "name"}, {Name: "seq"}},
		"sqlite_stat1":     {{Name: "tbl"}, {Name: "idx"}, {Name: "stat"}},
	}
	var tables []*salvage.Table
	for _, e := range entries {
		if cols, ok := plain[e.Name]; ok && e.Type == "table" {
			tables = append(tables, &salvage.Table{Name: e.Name, Root: uint32(e.RootPage), Columns: cols})
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range shapes {
			if !yield(k) {
				return
			}
		}
	}) {
		t := &salvage.Table{Name: name, Strict: true, Columns: shapes[name]}
		for _, e := range entries {
			if e.Type == "table" && e.Name == name {
				t.Root = uint32(e.RootPage)
			}
		}
		tables = append(tables, t)
	}
	return tables
}

// salvageFile salvages the database file data with the builtin tables.
func salvageFile(t *testing.T, data, wal []byte) (*rowSink, []salvage.SchemaEntry, salvage.Stats) {
	t.Helper()
	ctx := testdir.Context(t)
	in := salvage.Input{DB: bytes.NewReader(data), DBSize: int64(len(data))}
	if wal != nil {
		in.WAL, in.WALSize = bytes.NewReader(wal), int64(len(wal))
	}
	r, err := salvage.Open(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := r.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sink := &rowSink{}
	if _, err := r.Tables(ctx, builtinTables(entries), sink); err != nil {
		t.Fatal(err)
	}
	return sink, entries, r.Stats()
}

func TestPristine(t *testing.T) {
	path := mustWorkspace(t, 600)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sink, entries, stats := salvageFile(t, data, nil)
	if len(entries) < 5 {
		t.Fatalf("schema entries: got %d, want at least 5: %v", len(entries), entries)
	}
	if stats.PagesDamaged != 0 || stats.PagesOrphaned != 0 || stats.CellsDamaged != 0 || len(sink.lost) != 0 {
		t.Fatalf("pristine file: stats %+v, lost %v", stats, sink.lost)
	}
	if stats.PagesFree == 0 {
		t.Errorf("no free pages: the test wants some")
	}
	for _, table := range []string{"sessions", "messages", "files", "token_usage"} {
		want := tableRows(t, path, table)
		got := sink.rows[table]
		if len(got) != len(want) {
			t.Errorf("%s: got %d rows, want %d", table, len(got), len(want))
		}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s row %d: got %.80s, want %.80s", table, id, got[id], w)
				break
			}
		}
	}
}
