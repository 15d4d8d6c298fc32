package workspace_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testhook"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// mustDamagedWorkspace makes a known workspace, zeroes its database
// header (SQLite then calls it not a database) and returns its directory
// and rows. (With a WAL that holds page 1, SQLite would read the header
// from the WAL and not notice.)
func mustDamagedWorkspace(t *testing.T) (string, map[string]map[int64]string) {
	t.Helper()
	dir, _ := mustKnownWorkspace(t, 300, false)
	rows := readRows(t, dir)
	path := workspace.DatabasePath(dir, "")
	// The reader leaves an empty WAL and its index behind; a crashed
	// program would leave none.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	b := testdir.ReadFile(t, path)
	clear(b[:100])
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, rows
}

// sameRows fails t unless the workspace in dir holds exactly want.
func sameRows(t *testing.T, dir string, want map[string]map[int64]string) {
	t.Helper()
	got := readRows(t, dir)
	for _, table := range recoverTables {
		if len(got[table]) != len(want[table]) {
			t.Errorf("%s: got %d rows, want %d", table, len(got[table]), len(want[table]))
			continue
		}
		for rowid, line := range want[table] {
			if got[table][rowid] != line {
				t.Errorf("%s row %d: got %.100s, want %.100s", table, rowid, got[table][rowid], line)
				break
			}
		}
	}
}

// TestQuarantineOnOpen: without OnCorrupt a damaged database fails Open and
// stays as it was; with RecoverOnCorrupt, Open moves the damaged files to
// quarantine/<time>/, opens a recovered database in their place, and
// Status reports the recovery.
func TestQuarantineOnOpen(t *testing.T) {
	ctx := testdir.Context(t)
	dir, want := mustDamagedWorkspace(t)
	damaged := testdir.Snapshot(t, dir)

	_, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if !errors.Is(err, ncruces.ErrNotADatabase) {
		t.Fatalf("Open without OnCorrupt: got %v, want ncruces.ErrNotADatabase", err)
	}
	testdir.SameFiles(t, damaged, testdir.Snapshot(t, dir))

	ws := mustOpen(t, dir, &workspace.Options{Migrations: migrations.Builtin, OnCorrupt: workspace.RecoverOnCorrupt})
	st, err := ws.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := st.LastRecovery
	if rec == nil {
		t.Fatal("Status.LastRecovery is nil after a recovery")
	}
	if !strings.Contains(rec.Cause, "not a database") || rec.Report == nil {
		t.Errorf("LastRecovery: cause %q, report %+v", rec.Cause, rec.Report)
	}
	// The damaged files, byte for byte, in the quarantine.
	for name, b := range damaged {
		if strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, "-shm") {
			continue
		}
		if got := testdir.ReadFile(t, filepath.Join(rec.Quarantine, name)); !bytes.Equal(got, b) {
			t.Errorf("quarantined %s differs from the damaged file", name)
		}
	}
	if _, err := os.Stat(filepath.Join(rec.Quarantine, "recovered")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the quarantine still holds recovered/: %v", err)
	}
	if r, err := ws.Check(ctx, true); err != nil || !r.OK() {
		t.Errorf("check of the recovered workspace: %+v %v", r, err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	sameRows(t, dir, want)
}

// TestQuarantineCrashStates copies the workspace directory at every step
// of a quarantine-on-open, as a crash there would leave it (the files are
// synced at each step), and opens each copy: before the commit point the
// damaged files are in place, untouched, and the partial quarantine is
// rolled back; after it, any Open finishes the quarantine. Every copy ends
// with all the rows.
func TestQuarantineCrashStates(t *testing.T) {
	ctx := testdir.Context(t)
	dir, want := mustDamagedWorkspace(t)
	var steps []string
	var states []string
	testhook.Quarantine = func(step string) {
		steps = append(steps, step)
		states = append(states, copyTree(t, dir))
	}
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin, OnCorrupt: workspace.RecoverOnCorrupt})
	testhook.Quarantine = nil
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	wantSteps := []string{"recovered", "committed", "moved litedir.db", "installed", "done"}
	for _, s := range wantSteps {
		if !strings.Contains(strings.Join(steps, ","), s) {
			t.Errorf("steps %q: %q missing", steps, s)
		}
	}
	for i, state := range states {
		t.Run(strings.ReplaceAll(steps[i], " ", "-"), func(t *testing.T) {
			committed := i > 0
			if !committed {
				testdir.NeedRemoveAll(t) // Open rolls the partial quarantine back with it
			}
			opts := &workspace.Options{Migrations: migrations.Builtin}
			ws, err := workspace.Open(ctx, state, opts)
			switch {
			case committed && err != nil:
				t.Fatalf("Open after a crash past the commit point: %v", err)
			case !committed && !errors.Is(err, ncruces.ErrNotADatabase):
				t.Fatalf("Open after a crash before the commit point: got %v, want the damaged database's error", err)
			}
			if ws != nil {
				ws.Close()
			}
			if !committed {
				entries, _ := os.ReadDir(filepath.Join(state, "quarantine"))
				if len(entries) != 0 {
					t.Errorf("the partial quarantine was not rolled back: %v", entries)
				}
				opts.OnCorrupt = workspace.RecoverOnCorrupt
				ws, err := workspace.Open(ctx, state, opts)
				if err != nil {
					t.Fatal(err)
				}
				ws.Close()
			}
			sameRows(t, state, want)
		})
	}
}

// copyTree copies the regular files under dir into a new directory and
// returns it.
func copyTree(t *testing.T, dir string) string {
	t.Helper()
	out := testdir.New(t)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(out, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(out, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
