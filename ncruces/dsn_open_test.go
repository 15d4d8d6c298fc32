package ncruces

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/litedir/litedir/internal/testdir"
)

// FuzzDSNOpen is the round trip fileuri.FuzzFormat checks on paper, made on real files:
// for a file name, Open creates the database at exactly the path named and
// nowhere else, and the file there is that database — it starts with
// SQLite's header, and opening the path again reads back the row written
// through the first connection. Its seeds, which run in every go test, are
// the names a URI is most likely to get wrong.
func FuzzDSNOpen(f *testing.F) {
	for _, name := range []string{
		"x.db", "a b.db", "q?x.db", "h#x.db", "p%20x.db", "p%x.db", "p%2Fx.db", "%", "%%41", "+plus+",
		"ünï ☃.db", "semi;colon.db", "a&b=c.db", "file:x.db", ":memory:", "?mode=memory", "x?vfs=memdb",
		"#", "x#mode=ro", "..x", "-wal", "x.db-journal", "\t\n", "\xff\xfe.db",
	} {
		f.Add(name)
	}
	root, err := filepath.EvalSymlinks(testdir.New(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !usableName(name) {
			t.Skip("not a file name on this system")
		}
		dir, err := os.MkdirTemp(root, "d")
		if err != nil {
			t.Fatal(err)
		}
		defer testdir.Remove(dir)
		path := filepath.Join(dir, name)

		ctx := context.Background()
		db, err := Open(ctx, Config{Path: path})
		if err != nil {
			t.Fatalf("Open(%q): %v", path, err)
		}
		mustExec(t, db, `CREATE TABLE t (name TEXT)`)
		mustExec(t, db, `INSERT INTO t VALUES (?)`, name)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		// Closing the last connection removes the WAL: the database is
		// the only file, and where it was named.
		if got := testdir.Names(t, dir); !slices.Equal(got, []string{name}) {
			t.Fatalf("Open(%q) left %q in its directory, want only %q", path, got, name)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
			t.Fatalf("%q is not an SQLite database: %q...", path, b[:min(len(b), 16)])
		}
		db, err = Open(ctx, Config{Path: path, ReadOnly: true, NoCreate: true})
		if err != nil {
			t.Fatalf("reopen %q: %v", path, err)
		}
		defer db.Close()
		var got string
		if err := db.QueryRowContext(ctx, `SELECT name FROM t`).Scan(&got); err != nil {
			t.Fatalf("reopen %q: %v", path, err)
		}
		if got != name {
			t.Errorf("reopen %q: got row %q, want %q", path, got, name)
		}
	})
}

// usableName reports whether name can be a file name here: one path element,
// not too long, nothing the OS refuses.
func usableName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 200 ||
		strings.ContainsAny(name, "/\x00") {
		return false
	}
	if runtime.GOOS == "windows" {
		// Windows file names are UTF-16: invalid UTF-8 cannot round-trip.
		if strings.ContainsAny(name, `<>:"\|?*`) || strings.TrimRight(name, ". ") != name || !utf8.ValidString(name) {
			return false
		}
		for _, r := range name {
			if r < ' ' {
				return false
			}
		}
	}
	return true
}

// TestDSNOpen opens databases with awkward names and checks that the file
// is created at exactly that path, and nothing else.
func TestDSNOpen(t *testing.T) {
	root := absTemp(t)
	for _, name := range []string{"a b", "q?x", "h#x", "p%20x", "p%x", "ünï", "semi;colon", "a&b=c", "file:x"} {
		if runtime.GOOS == "windows" && strings.ContainsAny(name, "?:") {
			continue // not valid in Windows file names
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name+".db")
			db, err := Open(context.Background(), Config{Path: path, Logger: testLogger(t)})
			if err != nil {
				t.Fatalf("Open(%q): %v", path, err)
			}
			mustExec(t, db, "CREATE TABLE t (x)")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file: %v", err)
			}
			for _, got := range testdir.Names(t, dir) {
				if !slices.Contains([]string{name + ".db", name + ".db-wal", name + ".db-shm"}, got) {
					t.Errorf("unexpected file %q in %s", got, dir)
				}
			}
		})
	}
	var stray []string
	for _, e := range testdir.Names(t, root) {
		if fi, err := os.Stat(filepath.Join(root, e)); err != nil || !fi.IsDir() {
			stray = append(stray, e)
		}
	}
	if len(stray) > 0 {
		t.Errorf("files created outside the databases' directories: %q", stray)
	}
}
