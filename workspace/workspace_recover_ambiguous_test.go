package workspace_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/workspace"
)

// TestRecoverNeverGuesses: rows on orphaned pages that fit two tables equally
// (the same shape, both missing their pages) go to lost_and_found, never into
// one of the tables as if they were its own.
func TestRecoverNeverGuesses(t *testing.T) {
	ctx := testdir.Context(t)
	schema := fstest.MapFS{"00001_twins.sql": {Data: []byte(`-- +goose Up
CREATE TABLE a (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE b (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
`)}}
	dir := testdir.New(t)
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: schema})
	if err != nil {
		t.Fatal(err)
	}
	// Enough rows that each table is an interior root over several leaves;
	// rowids that do not overlap, so that nothing but the shape tells.
	for n, table := range []string{"a", "b"} {
		if err := ws.Write(ctx, func(q workspace.Querier) error {
			for i := range 300 {
				body := fmt.Sprintf("%s %d %s", table, i, strings.Repeat("x", 200))
				if _, err := q.ExecContext(ctx, "INSERT INTO "+table+"(id, body) VALUES (?, ?)", n*1000+i+1, body); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	roots := map[string]int64{}
	for _, table := range []string{"a", "b"} {
		var root int64
		if err := ws.ReadDB().QueryRowContext(ctx, "SELECT rootpage FROM sqlite_schema WHERE name = ?", table).Scan(&root); err != nil {
			t.Fatal(err)
		}
		roots[table] = root
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	path := workspace.DatabasePath(dir, "")
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	db := testdir.ReadFile(t, path)
	pageSize := int(binary.BigEndian.Uint16(db[16:]))
	for table, root := range roots {
		page := db[(root-1)*int64(pageSize):][:pageSize]
		if page[0] != 0x05 {
			t.Fatalf("the root of %s is a page of type %#x, not an interior table page", table, page[0])
		}
		clear(page)
	}
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(testdir.New(t), "recovered")
	report, err := workspace.Recover(ctx, dir, dst, &workspace.RecoverOptions{Migrations: schema})
	if err != nil {
		t.Fatal(err)
	}
	if report.LostAndFound < 500 {
		t.Errorf("%d rows in lost_and_found, want the ~600 that fit both tables", report.LostAndFound)
	}
	ro, err := workspace.OpenReadOnly(ctx, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for _, table := range []string{"a", "b"} {
		var wrong int
		if err := ro.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE body NOT LIKE ?", table+" %").Scan(&wrong); err != nil {
			t.Fatal(err)
		}
		if wrong > 0 {
			t.Errorf("%d rows of the other table were put into %s", wrong, table)
		}
	}
}
