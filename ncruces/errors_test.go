package ncruces

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/testdir"
)

// realErrors produces each error class from a real SQLite operation.
var realErrors = []struct {
	name  string
	class error
	make  func(t *testing.T) error
}{
	{"busy: write lock held", ErrBusy, func(t *testing.T) error {
		needSharedAccess(t)
		path := filepath.Join(testdir.New(t), "b.db")
		holder := mustOpen(t, Config{Path: path, Immediate: true})
		mustExec(t, holder, "CREATE TABLE t (x)")
		other := mustOpen(t, Config{Path: path, Pragmas: []Pragma{{"busy_timeout", "0"}}})
		tx, err := holder.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		_, err = other.Exec("INSERT INTO t VALUES (1)")
		return err
	}},
	{"locked: table in use by the same connection", ErrLocked, func(t *testing.T) error {
		ctx := context.Background()
		db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "l.db")})
		mustExec(t, db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)")
		conn := mustConn(t, db)
		rows, err := conn.QueryContext(ctx, "SELECT x FROM t")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		rows.Next()
		_, err = conn.ExecContext(ctx, "DROP TABLE t")
		return err
	}},
	{"not a database", ErrNotADatabase, func(t *testing.T) error {
		path := filepath.Join(testdir.New(t), "n.db")
		if err := os.WriteFile(path, make([]byte, 8192), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(context.Background(), Config{Path: path})
		return err
	}},
	{"corrupt: b-tree page overwritten", ErrCorrupt, func(t *testing.T) error {
		path := filepath.Join(testdir.New(t), "c.db")
		db := mustOpen(t, Config{Path: path})
		mustExec(t, db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Page 2 is table t's root page; make it an invalid page type.
		_, err = f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff}, 4096)
		if err := errors.Join(err, f.Close()); err != nil {
			t.Fatal(err)
		}
		db = mustOpen(t, Config{Path: path})
		var n int
		return db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	}},
	{"read-only", ErrReadOnly, func(t *testing.T) error {
		path := filepath.Join(testdir.New(t), "r.db")
		db := mustOpen(t, Config{Path: path})
		mustExec(t, db, "CREATE TABLE t (x)")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := mustOpen(t, Config{Path: path, ReadOnly: true}).Exec("INSERT INTO t VALUES (1)")
		return err
	}},
	{"can't open: missing with NoCreate", ErrCantOpen, func(t *testing.T) error {
		_, err := Open(context.Background(), Config{Path: filepath.Join(testdir.New(t), "missing.db"), NoCreate: true})
		return err
	}},
	{"can't open: a directory", ErrCantOpen, func(t *testing.T) error {
		_, err := Open(context.Background(), Config{Path: testdir.New(t)})
		return err
	}},
	{"full: max_page_count reached", ErrFull, func(t *testing.T) error {
		db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "f.db")})
		conn := mustConn(t, db)
		mustExec(t, conn, "CREATE TABLE t (x)")
		mustExec(t, conn, "PRAGMA max_page_count=4")
		_, err := conn.ExecContext(context.Background(), "INSERT INTO t VALUES (zeroblob(65536))")
		return err
	}},
	{"interrupted: context canceled", ErrInterrupted, func(t *testing.T) error {
		if err := Initialize(nil); err != nil {
			t.Fatal(err)
		}
		conn, err := sqlite3.Open(":memory:")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		conn.SetInterrupt(ctx)
		return conn.Exec("SELECT 1")
	}},
	{"constraint: unique", ErrConstraint, func(t *testing.T) error {
		db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "u.db")})
		mustExec(t, db, "CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1)")
		_, err := db.Exec("INSERT INTO t VALUES (1)")
		return err
	}},
	{"constraint: foreign key", ErrConstraint, func(t *testing.T) error {
		db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "k.db")})
		mustExec(t, db, "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p REFERENCES p(id))")
		_, err := db.Exec("INSERT INTO c VALUES (42)")
		return err
	}},
}

func TestErrorClasses(t *testing.T) {
	for _, tt := range realErrors {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.make(t)
			if err == nil {
				t.Fatal("got nil error")
			}
			wrapped := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", err))
			for _, e := range []error{err, wrapped} {
				if !errors.Is(e, tt.class) {
					t.Errorf("errors.Is(%v, %v): got false, want true", e, tt.class)
				}
				if got := classify(e); got != tt.class {
					t.Errorf("classify(%v): got %v, want %v", e, got, tt.class)
				}
			}
		})
	}
}

// TestErrorBusySnapshot produces SQLITE_BUSY_SNAPSHOT, an extended code: a
// read transaction whose snapshot is stale tries to write.
func TestErrorBusySnapshot(t *testing.T) {
	if Platform().JournalMode != "wal" || Platform().SingleConnection {
		t.Skip("needs WAL with several connections")
	}
	ctx := context.Background()
	path := filepath.Join(testdir.New(t), "s.db")
	db := mustOpen(t, Config{Path: path, MaxConns: 2})
	mustExec(t, db, "CREATE TABLE t (x)")

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO t VALUES (1)") // another connection commits
	_, err = tx.Exec("INSERT INTO t VALUES (2)")

	var code sqlite3.ExtendedErrorCode
	if !errors.As(err, &code) || code != sqlite3.BUSY_SNAPSHOT {
		t.Fatalf("write from a stale snapshot: got %v, want BUSY_SNAPSHOT", err)
	}
	wrapped := fmt.Errorf("commit: %w", err)
	if !errors.Is(wrapped, ErrBusy) || classify(wrapped) != ErrBusy {
		t.Errorf("BUSY_SNAPSHOT: got errors.Is %v, Classify %v, want ErrBusy", errors.Is(wrapped, ErrBusy), classify(wrapped))
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want error
	}{
		{nil, nil},
		{errors.New("plain"), nil},
		{context.Canceled, nil},
		{sql.ErrNoRows, nil},
		{sqlite3.ERROR, nil},
		{sqlite3.BUSY, ErrBusy},
		{sqlite3.BUSY_SNAPSHOT, ErrBusy},
		{sqlite3.BUSY_TIMEOUT, ErrBusy},
		{fmt.Errorf("x: %w", sqlite3.BUSY_RECOVERY), ErrBusy},
		{sqlite3.LOCKED_SHAREDCACHE, ErrLocked},
		{sqlite3.NOTADB, ErrNotADatabase},
		{sqlite3.CORRUPT_INDEX, ErrCorrupt},
		{sqlite3.READONLY_DBMOVED, ErrReadOnly},
		{sqlite3.CANTOPEN_ISDIR, ErrCantOpen},
		{sqlite3.FULL, ErrFull},
		{sqlite3.INTERRUPT, ErrInterrupted},
		{sqlite3.CONSTRAINT_UNIQUE, ErrConstraint},
		{fmt.Errorf("read: %w", sqlite3.IOERR_SHORT_READ), ErrIO},
		{errors.Join(errors.New("a"), sqlite3.IOERR_FSYNC), ErrIO},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}

// classes are the error classes, in the order classify tests them.
var classes = [...]*error{
	&ErrBusy, &ErrLocked, &ErrNotADatabase, &ErrCorrupt, &ErrReadOnly,
	&ErrCantOpen, &ErrFull, &ErrInterrupted, &ErrConstraint, &ErrIO,
}

// classify returns the first of classes that err matches, or nil: the
// tests check that an error matches its own class and no other.
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, class := range classes {
		if errors.Is(err, *class) {
			return *class
		}
	}
	return nil
}
