package ncruces

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
)

// deadline bounds a wait of t's on another goroutine or process. It is a
// safety net for hangs, not a measurement: a cold engine compile in a child
// process takes a few seconds, and many more under -race or an interpreter,
// which testdir.Deadline scales for.
func deadline(t *testing.T) time.Duration { return time.Until(testdir.Deadline(t)) }

// testLogger logs through t, so that failures show what Open did.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// mustOpen opens cfg and closes the DB when the test ends.
func mustOpen(t *testing.T, cfg Config) *sql.DB {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	db, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func mustExec(t *testing.T, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func mustConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// mustPragma returns the value PRAGMA name reports on conn, as text.
func mustPragma(t *testing.T, conn *sql.Conn, name string) string {
	t.Helper()
	var v string
	if err := conn.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// mustReadFile returns the contents of the file at path.
func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dirNames returns the sorted names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// childEnv is the environment variable that selects the child role of the
// test named name when it re-executes itself.
func childEnv(name string) string { return "CHILD_" + name }

// startChild re-executes the test binary to run only the current test, with
// childEnv(t.Name())=role and env, and returns the child with its stdin and a
// reader of its stdout. The child is killed if the test ends first.
func startChild(t *testing.T, role string, env ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	return startChildAttr(t, role, nil, env...)
}

// startChildAttr is startChild with the child's process attributes.
func startChildAttr(t *testing.T, role string, attr *syscall.SysProcAttr, env ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	name := strings.SplitN(t.Name(), "/", 2)[0]
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.SysProcAttr = attr
	cmd.Env = append(os.Environ(), childEnv(name)+"="+role)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = tWriter{t}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, stdin, bufio.NewReader(stdout)
}

// absTemp returns a new temporary directory with symbolic links resolved, so
// that paths compare equal to what the driver resolves.
func absTemp(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(testdir.New(t))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// needSharedAccess skips tests that open one database from two pools at
// once, which a single-connection profile rules out (EXCLUSIVE locking mode
// holds the file; without file locks nothing would keep them apart).
func needSharedAccess(t *testing.T) {
	t.Helper()
	if p := Platform(); p.SingleConnection {
		t.Skipf("one connection per database on this build (%s locks): %q", p.Locking, p.Notes)
	}
}
