package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(testdir.New(t), "a", "b")
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1, 2)})

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if got := info.Mode().Perm(); got != 0o700 {
			t.Errorf("directory mode = %v, want 0700", got)
		}
	}
	for _, name := range []string{"litedir.db", "litedir.lock"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Dir() != real {
		t.Errorf("Dir() = %q, want %q", ws.Dir(), real)
	}
	if want := filepath.Join(real, "litedir.db"); ws.Path() != want {
		t.Errorf("Path() = %q, want %q", ws.Path(), want)
	}
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
	if n := count(t, ws, "SELECT count(*) FROM notes"); n != 1 {
		t.Errorf("rows = %d, want 1", n)
	}
}

func TestOpenName(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Name: "agent"})
	if want := filepath.Join(ws.Dir(), "agent.db"); ws.Path() != want {
		t.Errorf("Path() = %q, want %q", ws.Path(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "agent.lock")); err != nil {
		t.Error(err)
	}
	// Another name in the same directory is another workspace.
	other := mustOpen(t, dir, nil)
	if other.ReadDB() == ws.ReadDB() {
		t.Error("workspaces with different names share a pool")
	}
}

func TestOpenSameDirectoryShares(t *testing.T) {
	parent := testdir.New(t)
	dir := filepath.Join(parent, "ws")
	first := mustOpen(t, dir, nil)

	link := filepath.Join(parent, "link")
	testdir.Symlink(t, dir, link)
	viaLink := mustOpen(t, link, nil)

	t.Chdir(parent)
	viaRelative := mustOpen(t, "./ws/../ws", nil)

	for name, ws := range map[string]*workspace.Workspace{"symlink": viaLink, "relative path": viaRelative} {
		if ws.ReadDB() != first.ReadDB() {
			t.Errorf("%s: a second pool was opened for the same directory", name)
		}
	}

	// Closing one handle leaves the others working.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, viaLink, "CREATE TABLE t (x)")
	if err := viaLink.Close(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, viaRelative, "INSERT INTO t VALUES (1)")
	if err := viaRelative.Close(); err != nil {
		t.Fatal(err)
	}

	// The last Close released the lock.
	l, err := acquireLock(testdir.Context(t), dir, lock.Options{})
	if err != nil {
		t.Fatalf("lock after the last Close: %v", err)
	}
	l.Release()
}

func TestOpenIncompatible(t *testing.T) {
	dir := testdir.New(t)
	mustOpen(t, dir, nil)
	single := ncruces.Platform().SingleConnection
	for name, opts := range map[string]*workspace.Options{
		"sharing": {Sharing: lock.Shared},
		"readers": {Readers: 17},
		"pragmas": {Pragmas: []ncruces.Pragma{{Name: "synchronous", Value: "FULL"}}},
	} {
		t.Run(name, func(t *testing.T) {
			want := workspace.ErrIncompatible
			switch {
			case single && name == "readers":
				t.Skip("Readers is ignored where the platform profile allows one connection")
			case single && name == "sharing":
				// Refused whether or not the directory is open: see Options.Sharing.
				want = workspace.ErrInvalidOptions
			}
			ws, err := workspace.Open(testdir.Context(t), dir, opts)
			if !errors.Is(err, want) {
				if ws != nil {
					ws.Close()
				}
				t.Fatalf("Open = %v, want %v", err, want)
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	dir := testdir.New(t)
	held, err := acquireLock(testdir.Context(t), dir, lock.Options{Program: "holder/1.0"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = workspace.Open(testdir.Context(t), dir, nil)
	var locked *lock.LockedError
	if !errors.As(err, &locked) || !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("Open = %v, want *lock.LockedError", err)
	}
	if locked.Owner.PID != os.Getpid() || locked.Owner.Program != "holder/1.0" {
		t.Errorf("owner = %+v, want pid %d program holder/1.0", locked.Owner, os.Getpid())
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir, nil)
}

func TestOpenBadInput(t *testing.T) {
	t.Run("garbage database", func(t *testing.T) {
		dir := testdir.New(t)
		garbage := []byte(strings.Repeat("this is not an SQLite database\n", 200))
		if err := os.WriteFile(filepath.Join(dir, "litedir.db"), garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		before := testdir.Snapshot(t, dir)
		_, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1)})
		if !errors.Is(err, ncruces.ErrNotADatabase) {
			t.Fatalf("Open = %v, want ErrNotADatabase", err)
		}
		if !strings.Contains(err.Error(), "litedir.db") {
			t.Errorf("error %q does not name the file", err)
		}
		testdir.SameFiles(t, before, testdir.Snapshot(t, dir), "litedir.lock")
		// The failed Open released the lock.
		l, err := acquireLock(testdir.Context(t), dir, lock.Options{})
		if err != nil {
			t.Fatalf("lock after a failed Open: %v", err)
		}
		l.Release()
	})

	t.Run("schema too new", func(t *testing.T) {
		dir := testdir.New(t)
		ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1, 2, 3)})
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
		before := testdir.Snapshot(t, dir)
		_, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1, 2)})
		var tooNew *migrations.SchemaTooNewError
		if !errors.As(err, &tooNew) || !errors.Is(err, migrations.ErrSchemaTooNew) {
			t.Fatalf("Open = %v, want *migrations.SchemaTooNewError", err)
		}
		if tooNew.Current != 3 || tooNew.Latest != 2 {
			t.Errorf("versions = %d, %d; want 3, 2", tooNew.Current, tooNew.Latest)
		}
		if msg := err.Error(); !strings.Contains(msg, "3") || !strings.Contains(msg, "2") {
			t.Errorf("error %q does not name both versions", msg)
		}
		testdir.SameFiles(t, before, testdir.Snapshot(t, dir))
	})

	t.Run("failing migration", func(t *testing.T) {
		dir := testdir.New(t)
		fsys := schema(1)
		fsys["00002_broken.sql"] = &fstest.MapFile{Data: []byte(
			"-- +goose Up\nCREATE TABLE half (x);\nINSERT INTO nowhere VALUES (1);\n")}
		_, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: fsys})
		if !errors.Is(err, migrations.ErrMigrationFailed) {
			t.Fatalf("Open = %v, want ErrMigrationFailed", err)
		}
		if !strings.Contains(err.Error(), "00002_broken.sql") {
			t.Errorf("error %q does not name the file", err)
		}
		ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
		if n := count(t, ws, "SELECT count(*) FROM sqlite_schema WHERE name = 'half'"); n != 0 {
			t.Error("the failed migration's first statement was not rolled back")
		}
		if n := count(t, ws, "SELECT count(*) FROM sqlite_schema WHERE name = 'notes'"); n != 1 {
			t.Error("migration 1 was not applied")
		}
	})

	t.Run("directory is a file", func(t *testing.T) {
		parent := testdir.New(t)
		file := filepath.Join(parent, "file")
		if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{file, filepath.Join(file, "sub")} {
			_, err := workspace.Open(testdir.Context(t), dir, nil)
			var pe *fs.PathError
			if !errors.Is(err, workspace.ErrNotDir) || !errors.As(err, &pe) {
				t.Errorf("Open(%q) = %v, want *fs.PathError with ErrNotDir", dir, err)
			}
		}
		testdir.SameFiles(t, map[string][]byte{"file": []byte("keep me")}, testdir.Snapshot(t, parent))
	})

	t.Run("symlinked lock file", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("symbolic links need privileges on Windows")
		}
		dir := testdir.New(t)
		target := filepath.Join(testdir.New(t), "precious")
		if err := os.WriteFile(target, []byte("precious bytes"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, "litedir.lock")); err != nil {
			t.Fatal(err)
		}
		_, err := workspace.Open(testdir.Context(t), dir, nil)
		if !errors.Is(err, lock.ErrSymlink) {
			t.Fatalf("Open = %v, want lock.ErrSymlink", err)
		}
		if b, _ := os.ReadFile(target); string(b) != "precious bytes" {
			t.Errorf("symlink target = %q, want it untouched", b)
		}
		if _, err := os.Stat(filepath.Join(dir, "litedir.db")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("database created despite the failed lock: %v", err)
		}
	})

	t.Run("invalid options", func(t *testing.T) {
		for _, opts := range []*workspace.Options{
			{Name: "a/b"},
			{Name: ".."},
			{Readers: -1},
			{Pragmas: []ncruces.Pragma{{Name: "x; DROP TABLE y", Value: "1"}}},
		} {
			dir := filepath.Join(testdir.New(t), "never")
			if _, err := workspace.Open(testdir.Context(t), dir, opts); err == nil {
				t.Errorf("Open(%+v) succeeded", opts)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open(%+v) created the directory", opts)
			}
		}
	})
}

func TestOpenSpecialCharacters(t *testing.T) {
	for _, name := range []string{"a b", "q?x", "h#x", "p%20x", "p%x", "ünï ☃", "semi;colon&amp=1"} {
		t.Run(name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(name, "?") {
				t.Skip("'?' cannot be in a file name on Windows; p%3F-style escapes are covered by the others")
			}
			dir := filepath.Join(testdir.New(t), name)
			ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
			mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
			if err := ws.Close(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(testdir.Names(t, dir), ","); got != "litedir.db,litedir.lock" {
				t.Errorf("files in %q = %s, want litedir.db,litedir.lock", dir, got)
			}
			ro, err := workspace.OpenReadOnly(testdir.Context(t), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if n := count(t, ro, "SELECT count(*) FROM notes"); n != 1 {
				t.Errorf("rows = %d, want 1", n)
			}
		})
	}
}

func TestReadDBIsQueryOnly(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	if ncruces.Platform().SingleConnection {
		t.Skip("one connection on this platform")
	}
	_, err := ws.ReadDB().ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES ('x')")
	if !errors.Is(err, ncruces.ErrReadOnly) {
		t.Fatalf("write through ReadDB = %v, want ErrReadOnly", err)
	}
}

func TestOpenReadOnly(t *testing.T) {
	t.Run("missing database", func(t *testing.T) {
		dir := testdir.New(t)
		_, err := workspace.OpenReadOnly(testdir.Context(t), dir, nil)
		if !errors.Is(err, ncruces.ErrCantOpen) {
			t.Errorf("OpenReadOnly = %v, want ErrCantOpen", err)
		}
		testdir.SameFiles(t, map[string][]byte{}, testdir.Snapshot(t, dir))
		if _, err := workspace.OpenReadOnly(testdir.Context(t), filepath.Join(dir, "missing"), nil); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenReadOnly of a missing directory = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("while owned", func(t *testing.T) {
		dir := testdir.New(t)
		owner := mustOpen(t, dir, &workspace.Options{Migrations: schema(1), Program: "owner/2.0"})
		mustExec(t, owner, "INSERT INTO notes(body) VALUES ('committed')")

		ro, err := workspace.OpenReadOnly(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1, 2)})
		if ncruces.Platform().LockingExclusive {
			// The owner's connection holds the database file (locking_mode
			// EXCLUSIVE): nobody else reads it while the owner has it open.
			if !errors.Is(err, ncruces.ErrBusy) {
				if ro != nil {
					ro.Close()
				}
				t.Fatalf("OpenReadOnly beside an owner that holds the file exclusively = %v, want ErrBusy", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		if !ro.ReadOnly() {
			t.Error("ReadOnly() = false")
		}
		if n := count(t, ro, "SELECT count(*) FROM notes"); n != 1 {
			t.Errorf("rows = %d, want 1", n)
		}
		if _, err := ro.DB().ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES ('x')"); !errors.Is(err, ncruces.ErrReadOnly) {
			t.Errorf("insert = %v, want ErrReadOnly", err)
		}
		err = ro.Write(testdir.Context(t), func(workspace.Querier) error { return nil })
		if !errors.Is(err, ncruces.ErrReadOnly) {
			t.Errorf("Write = %v, want ErrReadOnly", err)
		}
		if _, err := ro.Checkpoint(testdir.Context(t), workspace.CheckpointPassive); !errors.Is(err, ncruces.ErrReadOnly) {
			t.Errorf("Checkpoint = %v, want ErrReadOnly", err)
		}
		st, err := ro.Status(testdir.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		if st.Owner.PID != os.Getpid() || st.Owner.Program != "owner/2.0" {
			t.Errorf("owner = %+v, want this process as owner/2.0", st.Owner)
		}
		if st.Locked || !st.ReadOnly {
			t.Errorf("Locked, ReadOnly = %v, %v; want false, true", st.Locked, st.ReadOnly)
		}
		if st.Schema.Current != 1 || st.Schema.Latest != 2 || len(st.Schema.Pending) != 1 {
			t.Errorf("schema = %+v, want current 1, latest 2, one pending", st.Schema)
		}
		// Read-only opens never migrate.
		if n := count(t, ro, "SELECT count(*) FROM sqlite_schema WHERE name = 'notes_body'"); n != 0 {
			t.Error("OpenReadOnly applied a migration")
		}
	})
}

func TestClose(t *testing.T) {
	ws, err := workspace.Open(testdir.Context(t), testdir.New(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	ctx := testdir.Context(t)
	for name, op := range map[string]func() error{
		"Write":      func() error { return ws.Write(ctx, func(workspace.Querier) error { return nil }) },
		"Status":     func() error { _, err := ws.Status(ctx); return err },
		"Check":      func() error { _, err := ws.Check(ctx, false); return err },
		"Backup":     func() error { return ws.Backup(ctx, filepath.Join(testdir.New(t), "b.db")) },
		"Checkpoint": func() error { _, err := ws.Checkpoint(ctx, workspace.CheckpointPassive); return err },
	} {
		if err := op(); !errors.Is(err, workspace.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestCloseCheckpoints(t *testing.T) {
	dir := testdir.New(t)
	ws, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1)})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	// Everything is in the database file: no WAL left, or an empty one.
	if info, err := os.Stat(filepath.Join(dir, "litedir.db-wal")); err == nil && info.Size() != 0 {
		t.Errorf("WAL after Close = %d bytes, want 0", info.Size())
	}
}

func TestStatus(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{
		Migrations: migrations.Builtin,
		Program:    "status-test/1.0",
		Meta:       map[string]string{"addr": "127.0.0.1:7777"},
	})
	st, err := ws.Status(testdir.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Path != ws.Path() || st.Dir != ws.Dir() || st.LockPath != filepath.Join(ws.Dir(), "litedir.lock") {
		t.Errorf("paths = %q %q %q", st.Dir, st.Path, st.LockPath)
	}
	if want := ncruces.Platform().JournalMode; st.JournalMode != want || st.WantJournalMode != want {
		t.Errorf("journal mode = %q (want %q), want %q", st.JournalMode, st.WantJournalMode, want)
	}
	if !st.Locked || st.Sharing != lock.Exclusive {
		t.Errorf("Locked, Sharing = %v, %v; want true, exclusive", st.Locked, st.Sharing)
	}
	if st.Owner.PID != os.Getpid() || st.Owner.Program != "status-test/1.0" || st.Owner.Meta["addr"] != "127.0.0.1:7777" {
		t.Errorf("owner = %+v", st.Owner)
	}
	if st.Schema.Current == 0 || st.Schema.Current != st.Schema.Latest || len(st.Schema.Pending) != 0 {
		t.Errorf("schema = %+v, want up to date", st.Schema)
	}
	if st.DBSize == 0 || st.PageSize != 4096 || st.PageCount == 0 {
		t.Errorf("sizes: db %d, page size %d, pages %d", st.DBSize, st.PageSize, st.PageCount)
	}
	if st.Engine.SQLiteVersion == "" || st.Engine.DriverVersion == "" {
		t.Errorf("engine = %+v, want versions", st.Engine)
	}
}

func TestCheckpoint(t *testing.T) {
	if ncruces.Platform().JournalMode != "wal" {
		t.Skip("no WAL on this platform")
	}
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
	res, err := ws.Checkpoint(testdir.Context(t), workspace.CheckpointTruncate)
	if err != nil {
		t.Fatal(err)
	}
	if res.Busy {
		t.Errorf("checkpoint busy with no other connection: %+v", res)
	}
	st, err := ws.Status(testdir.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.WALSize != 0 {
		t.Errorf("WAL after TRUNCATE checkpoint = %d bytes, want 0", st.WALSize)
	}
	if _, err := workspace.ParseCheckpointMode("sideways"); !errors.Is(err, workspace.ErrInvalidOptions) {
		t.Errorf("ParseCheckpointMode(sideways) = %v, want ErrInvalidOptions", err)
	}
	for _, m := range []workspace.CheckpointMode{workspace.CheckpointPassive, workspace.CheckpointFull, workspace.CheckpointRestart, workspace.CheckpointTruncate} {
		if got, err := workspace.ParseCheckpointMode(strings.ToLower(m.String())); err != nil || got != m {
			t.Errorf("ParseCheckpointMode(%v) = %v, %v", m, got, err)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Run("sound", func(t *testing.T) {
		ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: migrations.Builtin})
		for _, full := range []bool{false, true} {
			r, err := ws.Check(testdir.Context(t), full)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK() || r.Err() != nil || r.Full != full {
				t.Errorf("Check(%v) = %+v, want OK", full, r)
			}
		}
	})

	t.Run("foreign key violation", func(t *testing.T) {
		ws := mustOpen(t, testdir.New(t), &workspace.Options{
			Migrations: migrations.Builtin,
			Pragmas:    []ncruces.Pragma{{Name: "foreign_keys", Value: "OFF"}},
		})
		mustExec(t, ws, "INSERT INTO messages(session_id, role, body) VALUES (42, 'user', 'orphan')")
		r, err := ws.Check(testdir.Context(t), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.ForeignKeys) != 1 || r.ForeignKeys[0].Table != "messages" || r.ForeignKeys[0].Parent != "sessions" {
			t.Fatalf("foreign keys = %+v, want one violation in messages", r.ForeignKeys)
		}
		if err := r.Err(); !errors.Is(err, workspace.ErrCheckFailed) || !strings.Contains(err.Error(), "messages") {
			t.Errorf("Err() = %v, want ErrCheckFailed naming messages", err)
		}
	})

	t.Run("corrupt index", func(t *testing.T) {
		dir := testdir.New(t)
		ws, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1, 2)})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", fmt.Sprint("note ", i))
		}
		// Redefine the index behind SQLite's back: its entries, built from
		// body, no longer match the definition, as after a torn write. One
		// connection: the pragma is its session's.
		conn, err := ws.DB().Conn(testdir.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"PRAGMA writable_schema = ON",
			"UPDATE sqlite_schema SET sql = 'CREATE INDEX notes_body ON notes (id)' WHERE name = 'notes_body'",
			"PRAGMA writable_schema = OFF",
		} {
			if _, err := conn.ExecContext(testdir.Context(t), q); err != nil {
				t.Fatalf("exec %q: %v", q, err)
			}
		}
		conn.Close()
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}

		ws = mustOpen(t, dir, nil)
		r, err := ws.Check(testdir.Context(t), true)
		switch {
		case errors.Is(err, ncruces.ErrCorrupt):
			// SQLite gave up on the page before it could report.
		case err != nil:
			t.Fatalf("Check = %v, want a report or ErrCorrupt", err)
		case r.OK():
			t.Fatal("Check found nothing wrong in a corrupted index")
		}
	})
}

func TestBackup(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	for i := range 100 {
		mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", i)
	}
	dst := filepath.Join(testdir.New(t), awkwardName("back up #1?.db"))
	if err := ws.Backup(testdir.Context(t), dst); err != nil {
		t.Fatal(err)
	}

	db, err := ncruces.Open(testdir.Context(t), ncruces.Config{Path: dst, ReadOnly: true, NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n != 100 {
		t.Errorf("rows in backup = %d, want 100", n)
	}

	// No temporary file is left beside the backup.
	for _, name := range testdir.Names(t, filepath.Dir(dst)) {
		if strings.Contains(name, ".tmp-") {
			t.Errorf("temporary file left: %s", name)
		}
	}

	// An existing file is never replaced.
	before := testdir.Snapshot(t, filepath.Dir(dst))
	err = ws.Backup(testdir.Context(t), dst)
	var pe *fs.PathError
	if !errors.Is(err, workspace.ErrExists) || !errors.Is(err, fs.ErrExist) || !errors.As(err, &pe) {
		t.Errorf("Backup over an existing file = %v, want ErrExists in a *fs.PathError", err)
	}
	testdir.SameFiles(t, before, testdir.Snapshot(t, filepath.Dir(dst)))

	// A destination in a missing directory fails and creates nothing.
	if err := ws.Backup(testdir.Context(t), filepath.Join(testdir.New(t), "missing", "b.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Backup into a missing directory = %v, want fs.ErrNotExist", err)
	}

	// A read-only handle backs up too: beside the owner, or where the owner
	// holds the database file exclusively, once it has closed it.
	ro := mustOpenReadOnlyBeside(t, ws, dir)
	roCopy := filepath.Join(testdir.New(t), "ro.db")
	if err := ro.Backup(testdir.Context(t), roCopy); err != nil {
		t.Fatalf("Backup from a read-only handle: %v", err)
	}
	if got, want := mustNotes(t, roCopy), mustNotes(t, dst); got != want || !strings.HasSuffix(got, ",100:99") {
		t.Errorf("notes in the read-only handle's backup: got %q, want %q (100 notes)", got, want)
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	dir := testdir.New(t)
	if _, err := workspace.Open(ctx, dir, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context = %v, want context.Canceled", err)
	}
	// Nothing is left held.
	mustOpen(t, dir, nil)
}

// awkwardName returns name, a file name with characters that a "file:" URI
// must escape, made valid on this system: Windows allows no '?' in a file
// name, so there it becomes "%3F", which a URI would decode back to '?'.
func awkwardName(name string) string {
	if runtime.GOOS == "windows" {
		return strings.ReplaceAll(name, "?", "%3F")
	}
	return name
}
