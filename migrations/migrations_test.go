package migrations_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	"github.com/pressly/goose/v3"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
)

// migration returns a goose SQL file that creates (and on the way down drops)
// table name.
func migration(name string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE " + name + " (x INTEGER);\n\n-- +goose Down\nDROP TABLE " + name + ";\n")}
}

// threeFS holds versions 1..3, each creating one table.
var threeFS = fstest.MapFS{
	"00001_one.sql":   migration("one"),
	"00002_two.sql":   migration("two"),
	"00003_three.sql": migration("three"),
}

// subset returns the files of fsys with the given names.
func subset(fsys fstest.MapFS, names ...string) fstest.MapFS {
	out := make(fstest.MapFS)
	for _, n := range names {
		out[n] = fsys[n]
	}
	return out
}

// mustOpen opens the database file at path the way the workspace does: one
// connection, BEGIN IMMEDIATE. query is appended to the DSN ("&mode=ro", ...).
func mustOpen(t *testing.T, path, query string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_txlock=immediate"+query)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustNew(t *testing.T, db *sql.DB, fsys fs.FS, opts *migrations.Options) *migrations.Migrator {
	t.Helper()
	m, err := migrations.New(db, fsys, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func mustUp(t *testing.T, ctx context.Context, m *migrations.Migrator) []migrations.Applied {
	t.Helper()
	applied, err := m.Up(ctx)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return applied
}

func mustStatus(t *testing.T, ctx context.Context, m *migrations.Migrator) migrations.Status {
	t.Helper()
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

// mustTables returns the names of the tables in db, sorted.
func mustTables(t *testing.T, ctx context.Context, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list tables: %v", err)
	}
	return names
}

func appliedVersions(applied []migrations.Applied) []int64 {
	var vs []int64
	for _, a := range applied {
		vs = append(vs, a.Version)
	}
	return vs
}

func pendingVersions(st migrations.Status) []int64 {
	var vs []int64
	for _, p := range st.Pending {
		vs = append(vs, p.Version)
	}
	return vs
}

// checkStatus compares st with the wanted current, latest and pending versions.
func checkStatus(t *testing.T, st migrations.Status, current, latest int64, pending []int64) {
	t.Helper()
	if st.Current != current || st.Latest != latest || !slices.Equal(pendingVersions(st), pending) {
		t.Errorf("got Status{Current: %d, Latest: %d, Pending: %v}, want {Current: %d, Latest: %d, Pending: %v}",
			st.Current, st.Latest, pendingVersions(st), current, latest, pending)
	}
}

func TestUpStatus(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	m := mustNew(t, db, threeFS, nil)

	st := mustStatus(t, ctx, m)
	checkStatus(t, st, 0, 3, []int64{1, 2, 3})
	if got, want := st.Pending[0], (migrations.Migration{Version: 1, Source: "00001_one.sql"}); got != want {
		t.Errorf("got Pending[0] %+v, want %+v", got, want)
	}
	if got := mustTables(t, ctx, db); len(got) != 0 {
		t.Errorf("got tables %v after Status on a fresh database, want none", got)
	}

	applied := mustUp(t, ctx, m)
	if got, want := appliedVersions(applied), []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("got applied %v, want %v", got, want)
	}
	for i, src := range []string{"00001_one.sql", "00002_two.sql", "00003_three.sql"} {
		if got := applied[i].Source; got != src {
			t.Errorf("got applied[%d].Source %q, want %q", i, got, src)
		}
	}
	if got, want := mustTables(t, ctx, db), []string{"goose_db_version", "one", "three", "two"}; !slices.Equal(got, want) {
		t.Errorf("got tables %v, want %v", got, want)
	}
	checkStatus(t, mustStatus(t, ctx, m), 3, 3, nil)

	if got := mustUp(t, ctx, m); len(got) != 0 {
		t.Errorf("got second Up applied %v, want nothing", appliedVersions(got))
	}
	checkStatus(t, mustStatus(t, ctx, m), 3, 3, nil)
}

func TestUpUpgrade(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")

	old := mustNew(t, db, subset(threeFS, "00001_one.sql", "00002_two.sql"), nil)
	if got, want := appliedVersions(mustUp(t, ctx, old)), []int64{1, 2}; !slices.Equal(got, want) {
		t.Errorf("got applied %v, want %v", got, want)
	}
	m := mustNew(t, db, threeFS, nil)
	checkStatus(t, mustStatus(t, ctx, m), 2, 3, []int64{3})
	if got, want := appliedVersions(mustUp(t, ctx, m)), []int64{3}; !slices.Equal(got, want) {
		t.Errorf("got applied %v, want %v", got, want)
	}
}

// TestUpVersionOrder checks that versions, not file names, set the order.
func TestUpVersionOrder(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	fsys := fstest.MapFS{
		"10_c.sql": migration("c"),
		"2_b.sql":  migration("b"),
		"1_a.sql":  migration("a"),
	}
	m := mustNew(t, db, fsys, nil)
	checkStatus(t, mustStatus(t, ctx, m), 0, 10, []int64{1, 2, 10})
	if got, want := appliedVersions(mustUp(t, ctx, m)), []int64{1, 2, 10}; !slices.Equal(got, want) {
		t.Errorf("got applied %v, want %v", got, want)
	}
}

func TestUpSchemaTooNew(t *testing.T) {
	tests := []struct {
		name   string
		fsys   fstest.MapFS
		latest int64
	}{
		{"older program", subset(threeFS, "00001_one.sql", "00002_two.sql"), 2},
		{"no migrations", fstest.MapFS{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testdir.Context(t)
			path := filepath.Join(t.TempDir(), "db.sqlite")

			// Migrate to version 3, then close the pool so the whole database is
			// in the main file: the default rollback journal (not WAL) leaves no
			// side files once the last connection is closed, so comparing the
			// main file's bytes compares the entire database.
			newer := mustOpen(t, path, "")
			mustUp(t, ctx, mustNew(t, newer, threeFS, nil))
			if err := newer.Close(); err != nil {
				t.Fatal(err)
			}
			before := testdir.ReadFile(t, path)

			db := mustOpen(t, path, "")
			m := mustNew(t, db, tt.fsys, nil)
			applied, err := m.Up(ctx)
			if len(applied) != 0 {
				t.Errorf("got applied %v, want nothing", appliedVersions(applied))
			}
			if !errors.Is(err, migrations.ErrSchemaTooNew) {
				t.Fatalf("got error %v, want ErrSchemaTooNew", err)
			}
			var tooNew *migrations.SchemaTooNewError
			if !errors.As(err, &tooNew) {
				t.Fatalf("got error %T, want *SchemaTooNewError", err)
			}
			if tooNew.Current != 3 || tooNew.Latest != tt.latest {
				t.Errorf("got SchemaTooNewError{Current: %d, Latest: %d}, want {3, %d}", tooNew.Current, tooNew.Latest, tt.latest)
			}
			for _, v := range []string{"3", strconv.FormatInt(tt.latest, 10)} {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("got message %q, want it to name version %s", err, v)
				}
			}
			checkStatus(t, mustStatus(t, ctx, m), 3, tt.latest, nil)

			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if after := testdir.ReadFile(t, path); !bytes.Equal(before, after) {
				t.Errorf("database file changed: %d bytes before, %d after", len(before), len(after))
			}
			for _, suffix := range []string{"-journal", "-wal"} {
				if _, err := os.Stat(path + suffix); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("got Stat(%s) error %v, want not exist", path+suffix, err)
				}
			}
		})
	}
}

func TestUpOutOfOrder(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	mustUp(t, ctx, mustNew(t, db, subset(threeFS, "00001_one.sql", "00003_three.sql"), nil))
	before := mustTables(t, ctx, db)

	m := mustNew(t, db, threeFS, nil)
	checkStatus(t, mustStatus(t, ctx, m), 3, 3, []int64{2})
	applied, err := m.Up(ctx)
	if !errors.Is(err, migrations.ErrOutOfOrder) {
		t.Fatalf("got error %v, want ErrOutOfOrder", err)
	}
	if !strings.Contains(err.Error(), "00002_two.sql") {
		t.Errorf("got message %q, want it to name 00002_two.sql", err)
	}
	if len(applied) != 0 {
		t.Errorf("got applied %v, want nothing", appliedVersions(applied))
	}
	if got := mustTables(t, ctx, db); !slices.Equal(got, before) {
		t.Errorf("got tables %v, want %v", got, before)
	}
}

func TestUpFailingMigration(t *testing.T) {
	tests := []struct {
		name string
		sql  string // the Up section of 00002_two.sql, after a valid CREATE TABLE two
		code sqlite3.ErrorCode
	}{
		{"syntax error", "INSERT INTO two VALUS (1);", sqlite3.ERROR},
		{"constraint violation", "INSERT INTO two (x) VALUES (NULL);", sqlite3.CONSTRAINT},
		{"missing table", "INSERT INTO nowhere VALUES (1);", sqlite3.ERROR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testdir.Context(t)
			db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
			fsys := maps.Clone(threeFS)
			fsys["00002_two.sql"] = &fstest.MapFile{Data: []byte(
				"-- +goose Up\nCREATE TABLE two (x INTEGER NOT NULL);\n" + tt.sql + "\n\n-- +goose Down\nDROP TABLE two;\n")}
			m := mustNew(t, db, fsys, nil)

			applied, err := m.Up(ctx)
			if got, want := appliedVersions(applied), []int64{1}; !slices.Equal(got, want) {
				t.Errorf("got applied %v, want %v", got, want)
			}
			if !errors.Is(err, migrations.ErrMigrationFailed) {
				t.Fatalf("got error %v, want ErrMigrationFailed", err)
			}
			var merr *migrations.MigrationError
			if !errors.As(err, &merr) {
				t.Fatalf("got error %T, want *MigrationError", err)
			}
			if merr.Version != 2 || merr.Source != "00002_two.sql" {
				t.Errorf("got MigrationError{Version: %d, Source: %q}, want {2, %q}", merr.Version, merr.Source, "00002_two.sql")
			}
			if !strings.Contains(err.Error(), "00002_two.sql") {
				t.Errorf("got message %q, want it to name the file", err)
			}
			var serr *sqlite3.Error
			if !errors.As(err, &serr) {
				t.Fatalf("got error %v, want it to unwrap to *sqlite3.Error", err)
			}
			if !errors.Is(err, tt.code) {
				t.Errorf("got SQLite code %v, want %v", serr.Code(), tt.code)
			}

			// CREATE TABLE two ran before the failing statement; the rollback
			// must have undone it, and migration 3 must not have run.
			if got, want := mustTables(t, ctx, db), []string{"goose_db_version", "one"}; !slices.Equal(got, want) {
				t.Errorf("got tables %v, want %v", got, want)
			}
			checkStatus(t, mustStatus(t, ctx, m), 1, 3, []int64{2, 3})

			// With the file fixed, the next Up continues where this one stopped.
			m = mustNew(t, db, threeFS, nil)
			if got, want := appliedVersions(mustUp(t, ctx, m)), []int64{2, 3}; !slices.Equal(got, want) {
				t.Errorf("got applied after fix %v, want %v", got, want)
			}
		})
	}
}

func TestStatusReadOnly(t *testing.T) {
	for _, query := range []string{"&mode=ro", "&_pragma=query_only(1)"} {
		t.Run(query[1:], func(t *testing.T) {
			ctx := testdir.Context(t)
			dir := t.TempDir()

			// A fresh database: an empty file is a valid empty SQLite database,
			// and mode=ro needs the file to exist.
			fresh := filepath.Join(dir, "fresh.sqlite")
			if err := os.WriteFile(fresh, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			db := mustOpen(t, fresh, query)
			checkStatus(t, mustStatus(t, ctx, mustNew(t, db, threeFS, nil)), 0, 3, []int64{1, 2, 3})
			if got := mustTables(t, ctx, db); len(got) != 0 {
				t.Errorf("got tables %v after Status, want none (no version table)", got)
			}

			// A migrated database, read through a read-only connection.
			migrated := filepath.Join(dir, "migrated.sqlite")
			rw := mustOpen(t, migrated, "")
			mustUp(t, ctx, mustNew(t, rw, subset(threeFS, "00001_one.sql", "00002_two.sql"), nil))
			if err := rw.Close(); err != nil {
				t.Fatal(err)
			}
			db = mustOpen(t, migrated, query)
			checkStatus(t, mustStatus(t, ctx, mustNew(t, db, threeFS, nil)), 2, 3, []int64{3})
		})
	}
}

// TestConcurrentUp runs Up and Status from several goroutines on one Migrator
// over a one-connection pool: each migration must be applied exactly once.
func TestConcurrentUp(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	m := mustNew(t, db, threeFS, nil)

	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []int64
		errs    []error
	)
	for i := range n {
		wg.Go(func() {
			if i%2 == 1 {
				if _, err := m.Status(ctx); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
			got, err := m.Up(ctx)
			mu.Lock()
			defer mu.Unlock()
			applied = append(applied, appliedVersions(got)...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("got errors %v, want none", err)
	}
	slices.Sort(applied)
	if want := []int64{1, 2, 3}; !slices.Equal(applied, want) {
		t.Errorf("got applied %v over all goroutines, want %v", applied, want)
	}
	checkStatus(t, mustStatus(t, ctx, m), 3, 3, nil)
}

func TestUpCanceled(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	m := mustNew(t, db, threeFS, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Up(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v, want context.Canceled", err)
	}
	if _, err := m.Status(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v, want context.Canceled", err)
	}
	ctx = testdir.Context(t)
	if got := mustTables(t, ctx, db); len(got) != 0 {
		t.Errorf("got tables %v, want none", got)
	}
}

func TestOptions(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	var logs bytes.Buffer
	m := mustNew(t, db, threeFS, &migrations.Options{
		Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TableName: "app_versions",
	})
	mustUp(t, ctx, m)
	if got, want := mustTables(t, ctx, db), []string{"app_versions", "one", "three", "two"}; !slices.Equal(got, want) {
		t.Errorf("got tables %v, want %v", got, want)
	}
	checkStatus(t, mustStatus(t, ctx, m), 3, 3, nil)
	// The default table is unaffected: a Migrator using it sees nothing applied.
	checkStatus(t, mustStatus(t, ctx, mustNew(t, db, threeFS, nil)), 0, 3, []int64{1, 2, 3})

	for _, src := range []string{"00001_one.sql", "00002_two.sql", "00003_three.sql"} {
		if !strings.Contains(logs.String(), "source="+src) {
			t.Errorf("got log %q, want a record for %s", logs.String(), src)
		}
	}
	if strings.Contains(logs.String(), "CREATE TABLE") {
		t.Errorf("got log %q, want no statement text", logs.String())
	}
}

func TestNewErrors(t *testing.T) {
	up := &fstest.MapFile{Data: []byte("-- +goose Up\nSELECT 1;\n")}
	tests := []struct {
		name string
		fsys fs.FS
		opts *migrations.Options
		want error  // errors.Is target
		path string // file named by the *fs.PathError, if any
	}{
		{"nil fsys", nil, nil, fs.ErrInvalid, ""},
		{"missing directory", os.DirFS(filepath.Join(t.TempDir(), "missing")), nil, fs.ErrNotExist, "."},
		{"no version", fstest.MapFS{"init.sql": up}, nil, migrations.ErrInvalidMigration, "init.sql"},
		{"dash separator", fstest.MapFS{"00001-init.sql": up}, nil, migrations.ErrInvalidMigration, "00001-init.sql"},
		{"version zero", fstest.MapFS{"00000_init.sql": up}, nil, migrations.ErrInvalidMigration, "00000_init.sql"},
		{"negative version", fstest.MapFS{"-1_init.sql": up}, nil, migrations.ErrInvalidMigration, "-1_init.sql"},
		{"duplicate version", fstest.MapFS{"00001_a.sql": up, "1_b.sql": up}, nil, migrations.ErrInvalidMigration, "1_b.sql"},
		{"no up annotation", fstest.MapFS{"00001_a.sql": {Data: []byte("CREATE TABLE a (x);\n")}}, nil, migrations.ErrInvalidMigration, "00001_a.sql"},
		{"go migration", fstest.MapFS{"00001_a.sql": up, "00002_b.go": {Data: []byte("package m\n")}}, nil, migrations.ErrInvalidMigration, "00002_b.go"},
		{"directory", fstest.MapFS{"00001_a.sql/x": up}, nil, migrations.ErrInvalidMigration, "00001_a.sql"},
		// The layout of //go:embed migrations/*.sql: the files are one level down.
		{"only in a subdirectory", fstest.MapFS{"migrations/00001_a.sql": up, "README.md": up}, nil, migrations.ErrSubdirectory, "migrations"},
		{"only deeper down", fstest.MapFS{"db/README.md": up, "db/schema/00001_a.sql": up}, nil, migrations.ErrSubdirectory, "db/schema"},
		{"bad table name", threeFS, &migrations.Options{TableName: "goose versions"}, fs.ErrInvalid, ""},
	}
	dbPath := filepath.Join(t.TempDir(), "db.sqlite")
	db := mustOpen(t, dbPath, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := migrations.New(db, tt.fsys, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got error %v, want %v", err, tt.want)
			}
			if m != nil {
				t.Errorf("got Migrator %v with error, want nil", m)
			}
			if tt.path == "" {
				return
			}
			var perr *fs.PathError
			if !errors.As(err, &perr) {
				t.Fatalf("got error %T (%v), want *fs.PathError", err, err)
			}
			if perr.Path != tt.path {
				t.Errorf("got path %q, want %q", perr.Path, tt.path)
			}
		})
	}
	t.Run("nil db", func(t *testing.T) {
		if _, err := migrations.New(nil, threeFS, nil); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("got error %v, want fs.ErrInvalid", err)
		}
	})
	// New must not touch the database, not even create its file.
	if _, err := os.Stat(dbPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got Stat(%s) error %v, want not exist", dbPath, err)
	}
}

// TestNewIgnores checks that files goose ignores are ignored, and that an fs
// without migrations is valid and applies nothing.
func TestNewIgnores(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	ignored := fstest.MapFS{
		"README.md":       {Data: []byte("# migrations\n")},
		"00009_notes.txt": {Data: []byte("not sql\n")},
		"00010_x.sql.bak": {Data: []byte("not sql\n")},
		"embed.go":        {Data: []byte("package m\n")},
		"00011_x_test.go": {Data: []byte("package m\n")},
		"sub/notes.md":    {Data: []byte("not sql\n")},
	}

	empty := mustNew(t, db, ignored, nil)
	checkStatus(t, mustStatus(t, ctx, empty), 0, 0, nil)
	if got := mustUp(t, ctx, empty); len(got) != 0 {
		t.Errorf("got applied %v, want nothing", appliedVersions(got))
	}
	if got := mustTables(t, ctx, db); len(got) != 0 {
		t.Errorf("got tables %v after Up with no migrations, want none", got)
	}

	// Beside migrations at the root, *.sql files in subdirectories are ignored.
	withOne := maps.Clone(ignored)
	withOne["00001_one.sql"] = migration("one")
	withOne["sub/00012_deep.sql"] = migration("deep")
	m := mustNew(t, db, withOne, nil)
	if got, want := appliedVersions(mustUp(t, ctx, m)), []int64{1}; !slices.Equal(got, want) {
		t.Errorf("got applied %v, want %v", got, want)
	}
}

// FuzzNewFileName checks that New either accepts a single migration file or
// rejects it with an *fs.PathError naming it, and that what it accepts has a
// positive version.
func FuzzNewFileName(f *testing.F) {
	for _, name := range []string{
		"00001_init.sql", "1_.sql", "init.sql", "0_x.sql", "+1_x.sql", "-1_x.sql", "01_x.sql",
		"99999999999999999999_x.sql", "1_x.go", "1_x_test.go", "README.md", "1_x.SQL", ".sql", "_x.sql",
	} {
		f.Add(name)
	}
	db, err := sql.Open("sqlite3", ":memory:") // never connected: New does not touch it
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	body := &fstest.MapFile{Data: []byte("-- +goose Up\nSELECT 1;\n")}

	f.Fuzz(func(t *testing.T, name string) {
		if !fs.ValidPath(name) || name == "." || strings.Contains(name, "/") {
			t.Skip()
		}
		_, err := migrations.New(db, fstest.MapFS{name: body}, nil)
		if err == nil {
			if strings.HasSuffix(name, ".sql") {
				if v, verr := goose.NumericComponent(name); verr != nil || v <= 0 {
					t.Fatalf("New(%q) accepted a file with version %d (%v)", name, v, verr)
				}
			}
			return
		}
		if !errors.Is(err, migrations.ErrInvalidMigration) {
			t.Fatalf("New(%q): got error %v, want ErrInvalidMigration", name, err)
		}
		var perr *fs.PathError
		if !errors.As(err, &perr) || perr.Path != name {
			t.Fatalf("New(%q): got error %v, want *fs.PathError naming the file", name, err)
		}
	})
}

// TestUpUnparsable checks goose's parse-everything-first behaviour that Up
// documents: a file goose cannot parse stops Up before any migration runs.
func TestUpUnparsable(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	fsys := maps.Clone(threeFS)
	fsys["00002_two.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE two (x INTEGER)\n")} // no semicolon
	m := mustNew(t, db, fsys, nil)

	applied, err := m.Up(ctx)
	if err == nil {
		t.Fatal("got no error, want one")
	}
	if !strings.Contains(err.Error(), "00002_two.sql") {
		t.Errorf("got message %q, want it to name 00002_two.sql", err)
	}
	if len(applied) != 0 {
		t.Errorf("got applied %v, want nothing", appliedVersions(applied))
	}
	checkStatus(t, mustStatus(t, ctx, m), 0, 3, []int64{1, 2, 3})
}
