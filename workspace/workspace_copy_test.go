package workspace_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// TestCopyOptions: Replace replaces an existing regular file, and only one;
// Progress reports the copy as it grows, ending at its full size.
func TestCopyOptions(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('one')")
	out := testdir.New(t)
	ctx := testdir.Context(t)
	copies := map[string]func(string, *workspace.CopyOptions) error{
		"BackupWith":     func(dst string, o *workspace.CopyOptions) error { return ws.BackupWith(ctx, dst, o) },
		"VacuumIntoWith": func(dst string, o *workspace.CopyOptions) error { return ws.VacuumIntoWith(ctx, dst, o) },
	}
	for name, copyTo := range copies {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(out, name+".db")
			if err := os.WriteFile(dst, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := copyTo(dst, nil); !errors.Is(err, workspace.ErrExists) {
				t.Fatalf("without Replace: %v, want ErrExists", err)
			}
			var mu sync.Mutex
			var last, calls int64
			err := copyTo(dst, &workspace.CopyOptions{Replace: true, Progress: func(copied, total int64) {
				mu.Lock()
				defer mu.Unlock()
				if copied > total {
					t.Errorf("progress %d of %d: more than the total", copied, total)
				}
				last, calls = copied, calls+1
			}})
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(dst)
			if err != nil {
				t.Fatal(err)
			}
			if calls == 0 || last != info.Size() {
				t.Errorf("progress: %d calls, last %d bytes; want at least one, ending at the copy's %d", calls, last, info.Size())
			}
			if b, _ := os.ReadFile(dst); string(b[:15]) != "SQLite format 3" {
				t.Errorf("%s is not the copy: %q", dst, b[:min(len(b), 16)])
			}
			// A directory in the way is never replaced.
			dir := filepath.Join(out, name+"-dir.db")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := copyTo(dir, &workspace.CopyOptions{Replace: true}); !errors.Is(err, workspace.ErrNotRegular) {
				t.Errorf("Replace over a directory: %v, want ErrNotRegular", err)
			}
			if info, err := os.Stat(dir); err != nil || !info.IsDir() {
				t.Errorf("the directory was touched: %v, %v", info, err)
			}
		})
	}
}

// TestMigrateTo: MigrateTo applies up to a version, refuses an unknown one
// and going down, and Schema reports against the given migrations.
func TestMigrateTo(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), nil)
	ctx := testdir.Context(t)
	applied, err := ws.MigrateTo(ctx, schema(1, 2, 3), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 2 {
		t.Errorf("applied %d migrations, want 2", len(applied))
	}
	st, err := ws.Schema(ctx, schema(1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 2 || len(st.Pending) != 1 {
		t.Errorf("schema = version %d with %d pending, want 2 with 1", st.Current, len(st.Pending))
	}
	if _, err := ws.MigrateTo(ctx, schema(1, 2, 3), 7); !errors.Is(err, migrations.ErrUnknownVersion) {
		t.Errorf("MigrateTo an unknown version = %v, want ErrUnknownVersion", err)
	}
	if _, err := ws.MigrateTo(ctx, schema(1, 2, 3), 1); !errors.Is(err, migrations.ErrTargetBehind) {
		t.Errorf("MigrateTo a lower version = %v, want ErrTargetBehind", err)
	}
}
