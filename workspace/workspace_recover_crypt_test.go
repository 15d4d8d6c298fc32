package workspace_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// messageBodies returns the bodies of the messages of the encrypted
// workspace in dir, by id.
func messageBodies(t *testing.T, dir string, key []byte) map[int64]string {
	t.Helper()
	ctx := testdir.Context(t)
	ws, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Key: workspace.KeyBytes(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	rows, err := ws.ReadDB().QueryContext(ctx, "SELECT id, body FROM messages")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			t.Fatal(err)
		}
		out[id] = body
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecoverEncrypted: a damaged encrypted workspace is read with its key,
// block by block: a destroyed block costs the rows of that page alone, every
// row recovered is the original, and the new workspace is encrypted with the
// same key. Without the key, or with another, nothing is recovered, and a
// quarantine-on-open with the wrong key moves nothing.
func TestRecoverEncrypted(t *testing.T) {
	ctx := testdir.Context(t)
	key := newKey()
	dir := testdir.New(t)
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin, Key: workspace.KeyBytes(key)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		if err := ws.Write(ctx, func(q workspace.Querier) error {
			if i == 0 {
				if _, err := q.ExecContext(ctx, "INSERT INTO sessions(id, title) VALUES (1, 'encrypted')"); err != nil {
					return err
				}
			}
			_, err := q.ExecContext(ctx, "INSERT INTO messages(session_id, role, body) VALUES (1, 'user', ?)",
				fmt.Sprintf("message %d %s", i, strings.Repeat("x", 300)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	want := messageBodies(t, dir, key)
	path := workspace.DatabasePath(dir, "")
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	// One block in the middle of the file destroyed.
	b := testdir.ReadFile(t, path)
	block := len(b) / 4096 / 2 * 4096
	rand.Read(b[block : block+4096])
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := testdir.Snapshot(t, dir)

	dst := filepath.Join(testdir.New(t), "recovered")
	report, err := workspace.Recover(ctx, dir, dst, &workspace.RecoverOptions{
		Migrations: migrations.Builtin,
		Key:        workspace.KeyBytes(key),
	})
	if err != nil {
		t.Fatal(err)
	}
	testdir.SameFiles(t, damaged, testdir.Snapshot(t, dir))
	got := messageBodies(t, dst, key)
	for id, body := range got {
		if want[id] != body {
			t.Errorf("message %d recovered as %.40q, was %.40q", id, body, want[id])
		}
	}
	// A page of 4 KiB holds about a dozen of these messages.
	if len(got) < len(want)-16 {
		t.Errorf("recovered %d of %d messages, with one block destroyed (report %+v)", len(got), len(want), report)
	}
	if _, err := workspace.OpenReadOnly(ctx, dst, nil); !errors.Is(err, ncruces.ErrEncrypted) {
		t.Errorf("the recovered workspace opened without a key: %v, want ErrEncrypted", err)
	}

	// Without the key, or with another, the pages are noise.
	for name, k := range map[string]workspace.KeySource{"no key": nil, "another key": workspace.KeyBytes(newKey())} {
		dst := filepath.Join(testdir.New(t), "recovered")
		_, err := workspace.Recover(ctx, dir, dst, &workspace.RecoverOptions{Migrations: migrations.Builtin, Key: k})
		if !errors.Is(err, workspace.ErrNotRecoverable) {
			t.Errorf("%s: Recover = %v, want ErrNotRecoverable", name, err)
		}
	}
	// And a quarantine-on-open with the wrong key moves nothing.
	_, err = workspace.Open(ctx, dir, &workspace.Options{
		Migrations: migrations.Builtin, Key: workspace.KeyBytes(newKey()), OnCorrupt: workspace.RecoverOnCorrupt,
	})
	if !errors.Is(err, ncruces.ErrWrongKey) {
		t.Errorf("Open with the wrong key and RecoverOnCorrupt: %v, want ErrWrongKey", err)
	}
	testdir.SameFiles(t, damaged, testdir.Snapshot(t, dir), "litedir.lock")
}
