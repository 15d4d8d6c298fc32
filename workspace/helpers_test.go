package workspace_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// mustOpen opens the workspace in dir and closes it when the test ends.
func mustOpen(t *testing.T, dir string, opts *workspace.Options) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(testdir.Context(t), dir, opts)
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

// mustOpenReadOnlyBeside opens the workspace in dir read-only beside ws, its owner: where
// the platform holds the database file exclusively (ncruces.Platform().LockingExclusive), once
// ws is closed. The read-only handle is closed when the test ends.
func mustOpenReadOnlyBeside(t *testing.T, ws *workspace.Workspace, dir string) *workspace.Workspace {
	t.Helper()
	if ncruces.Platform().LockingExclusive {
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ro, err := workspace.OpenReadOnly(testdir.Context(t), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro
}

// mustExec runs statements on db or fails the test.
func mustExec(t *testing.T, ws *workspace.Workspace, query string, args ...any) {
	t.Helper()
	if _, err := ws.DB().ExecContext(testdir.Context(t), query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// count returns the result of a SELECT count(*) query on the read pool.
func count(t *testing.T, ws *workspace.Workspace, query string, args ...any) int {
	t.Helper()
	var n int
	if err := ws.ReadDB().QueryRowContext(testdir.Context(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return n
}

// schema is a small migration set for tests: version 1 makes a table,
// version 2 an index.
func schema(versions ...int) fstest.MapFS {
	all := map[int]string{
		1: "-- +goose Up\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n-- +goose Down\nDROP TABLE notes;\n",
		2: "-- +goose Up\nCREATE INDEX notes_body ON notes (body);\n-- +goose Down\nDROP INDEX notes_body;\n",
		3: "-- +goose Up\nCREATE TABLE tags (id INTEGER PRIMARY KEY, note_id INTEGER REFERENCES notes (id));\n-- +goose Down\nDROP TABLE tags;\n",
	}
	names := map[int]string{1: "00001_notes.sql", 2: "00002_notes_body.sql", 3: "00003_tags.sql"}
	fsys := fstest.MapFS{}
	for _, v := range versions {
		fsys[names[v]] = &fstest.MapFile{Data: []byte(all[v])}
	}
	return fsys
}

// acquireLock takes the directory lock as a Workspace of this platform takes it: where the
// platform has no inter-process locks (wasip1), the in-process one, which is what the tests'
// other holders take there too.
func acquireLock(ctx context.Context, dir string, opts lock.Options) (*lock.Lock, error) {
	opts.AllowInProcess = opts.AllowInProcess || !lock.Supported
	return lock.Acquire(ctx, dir, opts)
}
