package workspace_test

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

func TestVacuumInto(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	body := strings.Repeat("x", 1000)
	for i := range 400 {
		mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", body+string(rune('a'+i%26)))
	}
	// Free most pages: the compacted copy must be smaller than a backup.
	mustExec(t, ws, "DELETE FROM notes WHERE id > 10")
	backup := filepath.Join(testdir.New(t), "backup.db")
	if err := ws.Backup(testdir.Context(t), backup); err != nil {
		t.Fatal(err)
	}
	before := testdir.Snapshot(t, dir)

	dst := filepath.Join(testdir.New(t), awkwardName("compact #1?.db"))
	if err := ws.VacuumInto(testdir.Context(t), dst); err != nil {
		t.Fatalf("VacuumInto: %v", err)
	}
	// The workspace itself is not rewritten (reading may add no bytes).
	testdir.SameFiles(t, before, testdir.Snapshot(t, dir))

	copyInfo, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	backupInfo, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if copyInfo.Size() >= backupInfo.Size() {
		t.Errorf("compacted copy is %d bytes, backup %d: want it smaller", copyInfo.Size(), backupInfo.Size())
	}
	db, err := ncruces.Open(testdir.Context(t), ncruces.Config{Path: dst, ReadOnly: true, NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var mode string
	if err := db.QueryRow("SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if n != 10 || mode != "delete" {
		t.Errorf("copy: %d rows in journal mode %q, want 10 in \"delete\"", n, mode)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(dst + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s beside the copy: %v", suffix, err)
		}
	}

	// An existing file is never replaced, and nothing is left behind.
	destDir := testdir.Snapshot(t, filepath.Dir(dst))
	err = ws.VacuumInto(testdir.Context(t), dst)
	var pe *fs.PathError
	if !errors.Is(err, workspace.ErrExists) || !errors.As(err, &pe) || pe.Path != dst {
		t.Errorf("VacuumInto over an existing file = %v, want ErrExists naming %s", err, dst)
	}
	testdir.SameFiles(t, destDir, testdir.Snapshot(t, filepath.Dir(dst)))

	// A missing directory is named.
	missing := filepath.Join(testdir.New(t), "nope", "copy.db")
	if err := ws.VacuumInto(testdir.Context(t), missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("VacuumInto into a missing directory = %v, want fs.ErrNotExist", err)
	}

	ws.Close()
	if err := ws.VacuumInto(testdir.Context(t), filepath.Join(testdir.New(t), "x.db")); !errors.Is(err, workspace.ErrClosed) {
		t.Errorf("VacuumInto after Close = %v, want ErrClosed", err)
	}
}

// VACUUM INTO works on a read-only workspace, beside an owner where the
// platform lets one read beside it.
func TestVacuumIntoReadOnly(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('kept'), ('also kept')")
	ro := mustOpenReadOnlyBeside(t, ws, dir)
	dst := filepath.Join(testdir.New(t), "copy.db")
	if err := ro.VacuumInto(testdir.Context(t), dst); err != nil {
		t.Fatalf("VacuumInto on a read-only workspace: %v", err)
	}
	if got, want := mustNotes(t, dst), "1:kept,2:also kept"; got != want {
		t.Errorf("notes in the copy: got %q, want %q", got, want)
	}
}

// mustNotes opens the database file at path read-only, checks it is sound,
// and returns its notes as "id:body" joined with commas, in id order: what a
// copy must hold, compared whole.
func mustNotes(t *testing.T, path string) string {
	t.Helper()
	db, err := ncruces.Open(testdir.Context(t), ncruces.Config{Path: path, ReadOnly: true, NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check of %s: got %q, %v; want ok", path, check, err)
	}
	var notes sql.NullString
	if err := db.QueryRow("SELECT group_concat(id || ':' || body, ',') FROM (SELECT id, body FROM notes ORDER BY id)").Scan(&notes); err != nil {
		t.Fatalf("notes of %s: %v", path, err)
	}
	return notes.String
}
