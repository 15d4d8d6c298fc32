package ncruces

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
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

// needSharedAccess skips tests that open one database from two pools at
// once, which a single-connection profile rules out (EXCLUSIVE locking mode
// holds the file; without file locks nothing would keep them apart).
func needSharedAccess(t *testing.T) {
	t.Helper()
	if p := Platform(); p.SingleConnection {
		t.Skipf("one connection per database on this build (%s locks): %q", p.Locking, p.Notes)
	}
}
