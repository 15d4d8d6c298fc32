package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// nobody is the user id the permission cases run as when the test runs as
// root, whom no file mode denies anything.
const nobody = 65534

// badInputCase is one case of TestBadInput. setup builds the input under
// root (a fresh directory) and returns the workspace directory; attempt
// opens it — in this process or in an opener child — and returns what
// happened. The error must match every sentinel named in want (none: the
// Open must succeed), and, unless changes says otherwise, every file that
// existed under root before the attempt must be byte for byte the same
// after it. after, when set, checks what must hold afterwards.
type badInputCase struct {
	name    string
	skip    func(t *testing.T)
	setup   func(t *testing.T, ctx context.Context, root string) string
	attempt func(t *testing.T, ctx context.Context, dir string) openerResult
	want    []string
	mention string   // a substring the error must contain, such as the file it is about
	changes []string // files under root (slash-separated, relative) that may change, and why in a comment
	after   func(t *testing.T, ctx context.Context, dir string, r openerResult)
}

// TestBadInput feeds Open the inputs a user can get wrong or a crash can
// leave behind, on real files, and checks that each gets a clear error that
// matches the library's sentinel, and that nothing that was there before is
// changed. The inputs that need process-wide state (the user id, the
// engine's cache configuration) or a second process (a held lock) are tried
// by opener children.
func TestBadInput(t *testing.T) {
	var cfg struct{ Opener *openerConfig }
	if testproc.IsChild(t, &cfg) {
		runOpener(t, *cfg.Opener)
		return
	}
	// The child binary must be executable by nobody, and every directory
	// it uses reachable: build the tree where the user can get at it.
	base, err := os.MkdirTemp("", "litedir-e2e-badinput-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	newRoot := func(t *testing.T) string {
		n++
		root := filepath.Join(base, fmt.Sprint(n))
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		return root
	}

	inProcess := func(opts *workspace.Options) func(t *testing.T, ctx context.Context, dir string) openerResult {
		return func(t *testing.T, ctx context.Context, dir string) openerResult {
			ws, err := workspace.Open(ctx, dir, opts)
			if err == nil {
				err = ws.Close()
				if err == nil {
					t.Fatalf("Open(%q) succeeded", dir)
				}
			}
			return resultOf(err)
		}
	}
	builtin := &workspace.Options{Migrations: migrations.Builtin}

	var nobodyBinary string // the test binary, copied where nobody can run it
	asNobody := func(t *testing.T) {
		if ok, why := canSetUser(); !ok {
			t.Skip(why + "; and root cannot be denied write permission")
		}
		if nobodyBinary == "" {
			nobodyBinary = copyExecutable(t, os.Args[0], filepath.Join(base, "e2e.test"))
		}
	}
	nobodyOpener := func(t *testing.T, ctx context.Context, dir string) openerResult {
		return startOpener(t, ctx, openerConfig{Dir: dir, Builtin: true}, openerProcess{
			binary: nobodyBinary,
			uid:    nobody,
			// nobody cannot use this user's cache; its own would be a
			// second compile either way.
			env: map[string]string{ncruces.EnvCacheDir: "off"},
		})
	}

	var held *lock.Lock // the lock the garbage-record case holds

	tests := []badInputCase{
		{
			name: "data dir is a regular file",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				file := filepath.Join(root, "ws")
				mustWriteFile(t, file, []byte("a file where the workspace should be\n"))
				return file
			},
			attempt: inProcess(builtin),
			want:    []string{"workspace.ErrNotDir"},
			mention: "ws",
		},
		{
			name: "parent of data dir is a regular file",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				file := filepath.Join(root, "file")
				mustWriteFile(t, file, []byte("a file where a directory should be\n"))
				return filepath.Join(file, "ws")
			},
			attempt: inProcess(builtin),
			want:    []string{"workspace.ErrNotDir"},
			mention: "file",
		},
		{
			name: "new workspace in a directory without write permission",
			skip: asNobody,
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				if err := os.Mkdir(dir, 0o755); err != nil { // root's: nobody can only read it
					t.Fatal(err)
				}
				return dir
			},
			attempt: nobodyOpener,
			want:    []string{"fs.ErrPermission"},
			mention: "litedir.lock",
		},
		{
			name: "existing workspace in a directory without write permission",
			skip: asNobody,
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				mustWorkspace(t, ctx, dir, 3)
				// nobody owns the files, but not the directory: it can
				// lock and read, and cannot create the WAL.
				for _, name := range []string{"litedir.db", "litedir.lock"} {
					if err := os.Chown(filepath.Join(dir, name), nobody, nobody); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Chmod(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			attempt: nobodyOpener,
			// SQLite cannot create the WAL beside it, so it cannot
			// write the database.
			want:    []string{"ncruces.ErrReadOnly"},
			mention: "litedir.db",
		},
		{
			name: "database full of garbage",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				mustWriteFile(t, dbPath(dir), []byte(strings.Repeat("this is not an SQLite database\n", 300)))
				return dir
			},
			attempt: inProcess(builtin),
			want:    []string{"ncruces.ErrNotADatabase"},
			mention: "litedir.db",
		},
		{
			name: "database truncated mid-page",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				mustWorkspace(t, ctx, dir, 400)
				fi, err := os.Stat(dbPath(dir))
				if err != nil {
					t.Fatal(err)
				}
				// Cut half the pages, and the last one in its middle.
				if err := os.Truncate(dbPath(dir), fi.Size()/2/4096*4096+1000); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			// The header counts more pages than the file holds: SQLite
			// says so as soon as it reads the database, before anything
			// is written.
			attempt: inProcess(builtin),
			want:    []string{"ncruces.ErrCorrupt"},
			mention: "litedir.db",
		},
		{
			name: "schema newer than the program",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				newer := builtinFS(t)
				newer["99999_future.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE future (x);\n")}
				ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: newer})
				if err != nil {
					t.Fatal(err)
				}
				_, err = newSession(ctx, ws, "from the future")
				if err := errors.Join(err, ws.Close()); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			attempt: inProcess(builtin),
			want:    []string{"migrations.ErrSchemaTooNew"},
			mention: "99999",
		},
		{
			name: "migration failing halfway",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				mustWorkspace(t, ctx, dir, 3)
				return dir
			},
			attempt: func(t *testing.T, ctx context.Context, dir string) openerResult {
				broken := builtinFS(t)
				broken["00100_more.sql"] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE more (x);\n")}
				// The first statement works, the second fails: the
				// migration's transaction must take both back.
				broken["00101_broken.sql"] = &fstest.MapFile{Data: []byte(
					"-- +goose Up\nCREATE TABLE half (x);\nINSERT INTO nowhere VALUES (1);\n")}
				return inProcess(&workspace.Options{Migrations: broken})(t, ctx, dir)
			},
			want:    []string{"migrations.ErrMigrationFailed"},
			mention: "00101_broken.sql",
			// Migration 100, before the broken one, is applied and stays.
			changes: []string{"ws/litedir.db"},
			after: func(t *testing.T, ctx context.Context, dir string, _ openerResult) {
				ws := mustOpenReadOnly(t, ctx, dir, nil)
				for table, want := range map[string]int{"more": 1, "half": 0} {
					if got := count(t, ctx, ws, `SELECT count(*) FROM sqlite_schema WHERE name = ?`, table); got != want {
						t.Errorf("table %s: got %d, want %d", table, got, want)
					}
				}
				if got := count(t, ctx, ws, `SELECT max(version_id) FROM goose_db_version`); got != 100 {
					t.Errorf("schema version: got %d, want 100", got)
				}
				if got := count(t, ctx, ws, `SELECT count(*) FROM sessions`); got != 3 {
					t.Errorf("sessions: got %d, want the 3 written before", got)
				}
			},
		},
		{
			name: "lock file holding garbage",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				mustWorkspace(t, ctx, dir, 3)
				// Hold the lock, then overwrite the record with garbage: a
				// contender finds the lock taken and the record unreadable.
				var err error
				if held, err = lock.Acquire(ctx, dir, lock.Options{}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { held.Release() })
				mustWriteFile(t, lock.Path(dir, ""), []byte(`{"pid": 12, "host": "x", garbage`))
				owner, err := lock.ReadOwner(dir, "")
				if err != nil || !owner.IsZero() {
					t.Errorf("ReadOwner of garbage: got %+v, %v; want the zero Owner, no error", owner, err)
				}
				return dir
			},
			attempt: func(t *testing.T, ctx context.Context, dir string) openerResult {
				return startOpener(t, ctx, openerConfig{Dir: dir, Builtin: true}, openerProcess{})
			},
			want:    []string{"lock.ErrLocked"},
			mention: "unknown process",
			after: func(t *testing.T, ctx context.Context, dir string, r openerResult) {
				if r.LockedPID != 0 || r.HeldShared {
					t.Errorf("LockedError: got Owner.PID %d, HeldShared %v; want an unknown owner", r.LockedPID, r.HeldShared)
				}
				// Released, the lock works as ever, garbage or not.
				if err := held.Release(); err != nil {
					t.Fatal(err)
				}
				mustWriteFile(t, lock.Path(dir, ""), []byte("\x00\xffnot json at all"))
				ws := mustOpen(t, ctx, dir, builtin)
				if owner, err := lock.ReadOwner(dir, ""); err != nil || owner.PID != os.Getpid() {
					t.Errorf("ReadOwner after Open: got %+v, %v; want this process's pid %d", owner, err, os.Getpid())
				}
				if got := count(t, ctx, ws, `SELECT count(*) FROM sessions`); got != 3 {
					t.Errorf("sessions: got %d, want 3", got)
				}
			},
		},
		{
			name: "lock file is a symlink",
			skip: func(t *testing.T) {
				if runtime.GOOS == "windows" {
					t.Skip("symbolic links need privileges on Windows")
				}
			},
			setup: func(t *testing.T, ctx context.Context, root string) string {
				dir := filepath.Join(root, "ws")
				mustWorkspace(t, ctx, dir, 3)
				target := filepath.Join(root, "precious")
				mustWriteFile(t, target, []byte("bytes the lock must never truncate\n"))
				if err := os.Remove(lock.Path(dir, "")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, lock.Path(dir, "")); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			attempt: inProcess(builtin),
			want:    []string{"lock.ErrSymlink"},
			mention: "litedir.lock",
		},
		{
			name: "cache dir is a regular file",
			setup: func(t *testing.T, ctx context.Context, root string) string {
				mustWriteFile(t, filepath.Join(root, "cache"), []byte("not a directory\n"))
				return filepath.Join(root, "ws")
			},
			attempt: func(t *testing.T, ctx context.Context, dir string) openerResult {
				cache := filepath.Join(filepath.Dir(dir), "cache")
				return startOpener(t, ctx, openerConfig{Dir: dir, Builtin: true}, openerProcess{
					env: map[string]string{ncruces.EnvCacheDir: cache},
				})
			},
			after: func(t *testing.T, ctx context.Context, dir string, r openerResult) {
				if r.CacheDir != "" || r.CacheNote == "" {
					t.Errorf("engine cache: got dir %q, note %q; want none, and a note saying why", r.CacheDir, r.CacheNote)
				}
				ws := mustOpenReadOnly(t, ctx, dir, nil)
				if got := count(t, ctx, ws, `SELECT count(*) FROM sessions`); got != 1 {
					t.Errorf("sessions: got %d, want the opener's 1", got)
				}
			},
		},
	}
	for _, name := range []string{"a b", "q?x", "h#x", "p%20x", "p%x", "ünï ☃ ß", "all of ?#% and ü"} {
		if runtime.GOOS == "windows" && strings.ContainsAny(name, "?") {
			continue // not a valid Windows file name
		}
		tests = append(tests, badInputCase{
			name: "path " + name,
			setup: func(t *testing.T, ctx context.Context, root string) string {
				return filepath.Join(root, name, name)
			},
			attempt: func(t *testing.T, ctx context.Context, dir string) openerResult {
				for i := range 2 { // create, then reopen
					ws, err := workspace.Open(ctx, dir, builtin)
					if err != nil {
						return resultOf(err)
					}
					_, err = newSession(ctx, ws, fmt.Sprintf("session %d", i))
					if err := errors.Join(err, ws.Close()); err != nil {
						return resultOf(err)
					}
				}
				return openerResult{}
			},
			after: func(t *testing.T, ctx context.Context, dir string, _ openerResult) {
				if got := testdir.Names(t, dir); !slices.Equal(got, []string{"litedir.db", "litedir.lock"}) {
					t.Errorf("files in %q: got %q, want litedir.db and litedir.lock", dir, got)
				}
				if got := testdir.Names(t, filepath.Dir(dir)); len(got) != 1 {
					t.Errorf("files beside the workspace in %q: got %q, want only it", filepath.Dir(dir), got)
				}
				ws := mustOpenReadOnly(t, ctx, dir, nil)
				if got := count(t, ctx, ws, `SELECT count(*) FROM sessions`); got != 2 {
					t.Errorf("sessions: got %d, want 2", got)
				}
			},
		})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != nil {
				tt.skip(t)
			}
			ctx := testdir.Context(t)
			root := newRoot(t)
			dir := tt.setup(t, ctx, root)
			before := checksums(t, root)
			r := tt.attempt(t, ctx, dir)
			after := checksums(t, root)
			t.Logf("result: %+v", r)

			switch {
			case tt.want == nil && r.Err != "":
				t.Errorf("got %s, want success", r.Err)
			case tt.want != nil && r.Err == "":
				t.Errorf("got success, want an error matching %q", tt.want)
			}
			for _, name := range tt.want {
				if !r.matches(name) {
					t.Errorf("got %s (matching %q), want an error matching %s", r.Err, r.Is, name)
				}
			}
			if !strings.Contains(r.Err, tt.mention) {
				t.Errorf("error %q does not mention %q", r.Err, tt.mention)
			}
			for name, sum := range before {
				if slices.Contains(tt.changes, name) {
					continue
				}
				switch got, ok := after[name]; {
				case !ok:
					t.Errorf("%s: removed", name)
				case got != sum:
					t.Errorf("%s: changed", name)
				}
			}
			if tt.after != nil && !t.Failed() {
				tt.after(t, ctx, dir, r)
			}
		})
	}
}

// mustWorkspace creates the workspace in dir with the builtin schema and n
// sessions with a message each, and closes it.
func mustWorkspace(t *testing.T, ctx context.Context, dir string, n int) {
	t.Helper()
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id, err := newSession(ctx, ws, fmt.Sprintf("session %d", i))
		if err == nil {
			err = addMessage(ctx, ws, id, strings.Repeat(fmt.Sprintf("message %d ", i), 100))
		}
		if err != nil {
			ws.Close()
			t.Fatal(err)
		}
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
}

// builtinFS copies migrations.Builtin into a MapFS that a test can add to.
func builtinFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(migrations.Builtin, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.Builtin, path)
		m[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checksums returns the SHA-256 of every regular file under root and the
// target of every symbolic link, by slash-separated path relative to root.
func checksums(t *testing.T, root string) map[string]string {
	t.Helper()
	sums := make(map[string]string)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			sums[rel] = "-> " + target
			return err
		case d.Type().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
			sums[rel] = hex.EncodeToString(h.Sum(nil))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// mustWriteFile writes b to path.
func mustWriteFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyExecutable copies the executable src to dst, mode 0755, and returns
// dst.
func copyExecutable(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
