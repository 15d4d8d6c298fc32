package ncruces

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
)

func TestOpenInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Path: filepath.Join(testdir.New(t), "x.db"), MaxConns: -1},
		{Path: "a\x00b"},
	} {
		db, err := Open(context.Background(), cfg)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Open(%+v): got %v, %v, want ErrInvalidConfig", cfg, db, err)
		}
	}
}

// TestOpenGarbage opens a file that is not a database: Open fails with
// ErrNotADatabase and leaves the file and its directory exactly as they were.
func TestOpenGarbage(t *testing.T) {
	garbage := bytes.Repeat([]byte("not an SQLite database, just some text\n"), 200)
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		{"pragmas that do not read the file", Config{Pragmas: []Pragma{{"busy_timeout", "100"}}}},
		{"read-only", Config{ReadOnly: true}},
		{"query-only", Config{QueryOnly: true, MaxConns: 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := testdir.New(t)
			path := filepath.Join(dir, "garbage.db")
			if err := os.WriteFile(path, garbage, 0o644); err != nil {
				t.Fatal(err)
			}
			tt.cfg.Path = path
			tt.cfg.Logger = testLogger(t)
			db, err := Open(context.Background(), tt.cfg)
			if !errors.Is(err, ErrNotADatabase) {
				t.Fatalf("Open: got %v, %v, want ErrNotADatabase", db, err)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Op != "ncruces: open" || pe.Path != path {
				t.Errorf("Open: got %#v, want an *fs.PathError for %s", err, path)
			}
			// The driver's error: an *sqlite3.Error, or a bare
			// sqlite3.ExtendedErrorCode when SQLite gave no message.
			var code sqlite3.ErrorCode
			if !errors.As(err, &code) || code != sqlite3.NOTADB {
				t.Errorf("Open: got %v, want SQLite's NOTADB in the chain", err)
			}
			if got := testdir.ReadFile(t, path); !bytes.Equal(got, garbage) {
				t.Errorf("garbage file changed: got %d bytes, want the original %d", len(got), len(garbage))
			}
			if got := testdir.Names(t, dir); len(got) != 1 {
				t.Errorf("files beside the garbage: got %v, want only garbage.db", got)
			}
		})
	}
}

func TestOpenNoCreate(t *testing.T) {
	dir := testdir.New(t)
	for _, cfg := range []Config{
		{Path: filepath.Join(dir, "missing.db"), NoCreate: true},
		{Path: filepath.Join(dir, "missing.db"), ReadOnly: true},
	} {
		db, err := Open(context.Background(), cfg)
		if !errors.Is(err, ErrCantOpen) {
			t.Errorf("Open(%+v): got %v, %v, want ErrCantOpen", cfg, db, err)
		}
	}
	if names := testdir.Names(t, dir); len(names) != 0 {
		t.Errorf("Open created %v", names)
	}

	// An existing database opens with NoCreate.
	path := filepath.Join(dir, "exists.db")
	db := mustOpen(t, Config{Path: path})
	mustExec(t, db, "CREATE TABLE t (x)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, mustOpen(t, Config{Path: path, NoCreate: true}), "INSERT INTO t VALUES (1)")
}

func TestOpenQueryOnly(t *testing.T) {
	needSharedAccess(t)
	path := filepath.Join(testdir.New(t), "q.db")
	writer := mustOpen(t, Config{Path: path})
	mustExec(t, writer, "CREATE TABLE t (x)")
	mustExec(t, writer, "INSERT INTO t VALUES (1)")

	reader := mustOpen(t, Config{Path: path, QueryOnly: true, MaxConns: 2})
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("count: got %v, %v, want 1", n, err)
	}
	_, err := reader.Exec("INSERT INTO t VALUES (2)")
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("insert on a query-only pool: got %v, want ErrReadOnly", err)
	}
	if got := mustPragma(t, mustConn(t, reader), "query_only"); got != "1" {
		t.Errorf("PRAGMA query_only: got %v, want 1", got)
	}
}

// TestOpenReadOnlyOnRollbackJournal opens a database that is not in WAL
// mode read-only: the journal mode is left alone, not an error.
func TestOpenReadOnlyOnRollbackJournal(t *testing.T) {
	needSharedAccess(t)
	path := filepath.Join(testdir.New(t), "d.db")
	pragmas, err := MergePragmas(DefaultPragmas(), Pragma{"journal_mode", "DELETE"})
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, Config{Path: path, Pragmas: pragmas})
	mustExec(t, db, "CREATE TABLE t (x)")
	before := testdir.ReadFile(t, path)

	ro := mustOpen(t, Config{Path: path, ReadOnly: true})
	if mode := journalMode(t, ro); mode != "delete" {
		t.Errorf("journal mode: got %v, want delete", mode)
	}
	if _, err := ro.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("insert: got %v, want ErrReadOnly", err)
	}
	if after := testdir.ReadFile(t, path); !bytes.Equal(before, after) {
		t.Error("read-only connection changed the database file")
	}
}

// TestOpenReadOnlyWhileOwnerWrites inspects a database that another process
// has open in WAL mode, with committed rows and a transaction in progress.
func TestOpenReadOnlyWhileOwnerWrites(t *testing.T) {
	var path string
	if testproc.IsChild(t, &path) {
		ownerChild(t, path)
		return
	}
	if prof := Platform(); prof.LockingExclusive || prof.NoLock {
		t.Skipf("the owner holds the database exclusively on %s/%s", prof.GOOS, prof.GOARCH)
	}

	ctx := testdir.Context(t)
	path = filepath.Join(absTemp(t), "owned.db")
	c := testproc.Start(t, "owner", path)
	c.WaitFor(ctx, "ready")

	ro := mustOpen(t, Config{Path: path, ReadOnly: true, MaxConns: 2})
	var n, sum int
	if err := ro.QueryRow("SELECT count(*), sum(x) FROM t").Scan(&n, &sum); err != nil {
		t.Fatalf("read: %v", err)
	}
	if n != 2 || sum != 3 {
		t.Errorf("read-only view: got count %v sum %v, want 2 and 3 (the committed rows only)", n, sum)
	}
	if mode := journalMode(t, ro); mode != "wal" {
		t.Errorf("journal mode: got %v, want wal", mode)
	}
	for _, stmt := range []string{"INSERT INTO t VALUES (100)", "CREATE TABLE u (y)", "PRAGMA user_version=7"} {
		if _, err := ro.Exec(stmt); !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s: got %v, want ErrReadOnly", stmt, err)
		}
	}

	// The owner commits; a new read sees it.
	c.Send("commit")
	c.WaitFor(ctx, "committed")
	if err := ro.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Errorf("after the owner's commit: got %v, %v, want 3", n, err)
	}

	c.Finish(ctx)
}

// ownerChild is the other process of TestOpenReadOnlyWhileOwnerWrites: it
// commits two rows, keeps a third uncommitted until told "commit", and exits
// when its stdin closes.
func ownerChild(t *testing.T, path string) {
	ctx := context.Background()
	db := mustOpen(t, Config{Path: path})
	mustExec(t, db, "CREATE TABLE t (x INTEGER)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2)")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO t VALUES (30)")
	p := testproc.NewParent()
	p.Say("ready")

	if line, ok := p.Next(); !ok || line != "commit" {
		t.Fatalf("stdin: got %q, %v, want commit", line, ok)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	p.Say("committed")
	for _, ok := p.Next(); ok; _, ok = p.Next() {
	}
}

// TestOpenImmediate checks that transactions of an Immediate pool take the
// write lock when they begin.
func TestOpenImmediate(t *testing.T) {
	needSharedAccess(t)
	path := filepath.Join(testdir.New(t), "i.db")
	writer := mustOpen(t, Config{Path: path, Immediate: true})
	mustExec(t, writer, "CREATE TABLE t (x)")
	noWait, err := MergePragmas(DefaultPragmas(), Pragma{"busy_timeout", "0"})
	if err != nil {
		t.Fatal(err)
	}
	other := mustOpen(t, Config{Path: path, Pragmas: noWait})

	tx, err := writer.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// The transaction has not written anything, yet it holds the lock.
	if _, err := other.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, ErrBusy) {
		t.Errorf("write beside an immediate transaction: got %v, want ErrBusy", err)
	}
}

// spyVFS wraps the OS VFS and closes busy the first time a lock on a main
// database file is refused. It shows that a connection reached a lock held
// by another one, without timing anything.
type spyVFS struct {
	vfs.VFSFilename
	busy chan struct{}
	once sync.Once
}

func (s *spyVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := s.VFSFilename.OpenFilename(name, flags)
	if err != nil || flags&vfs.OPEN_MAIN_DB == 0 {
		return f, flags, err
	}
	return &spyFile{File: f, vfs: s}, flags, nil
}

type spyFile struct {
	vfs.File
	vfs *spyVFS
}

func (f *spyFile) Lock(lock vfs.LockLevel) error {
	err := f.File.Lock(lock)
	if err != nil && lock >= vfs.LOCK_RESERVED {
		f.vfs.once.Do(func() { close(f.vfs.busy) })
	}
	return err
}

// TestOpenBusyTimeoutWaits checks that the default busy timeout is in force:
// a connection that finds the write lock taken waits for it, rather than
// failing with SQLITE_BUSY.
func TestOpenBusyTimeoutWaits(t *testing.T) {
	needSharedAccess(t)
	spy := &spyVFS{VFSFilename: vfs.Find("").(vfs.VFSFilename), busy: make(chan struct{})}
	name := "litedir-spy-" + t.Name()
	vfs.Register(name, spy)
	t.Cleanup(func() { vfs.Unregister(name) })

	// A rollback journal: there the write lock is a file lock the spy sees.
	pragmas, err := MergePragmas(DefaultPragmas(), Pragma{"journal_mode", "DELETE"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(testdir.New(t), "busy.db")
	holder := mustOpen(t, Config{Path: path, Pragmas: pragmas, Immediate: true})
	mustExec(t, holder, "CREATE TABLE t (x)")
	waiter, err := open(context.Background(), Config{Path: path, Pragmas: pragmas, Logger: testLogger(t)},
		url.Values{"vfs": {name}})
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	var timeout int
	if err := waiter.QueryRow("PRAGMA busy_timeout").Scan(&timeout); err != nil || timeout != 10000 {
		t.Fatalf("PRAGMA busy_timeout: got %v, %v, want 10000", timeout, err)
	}

	tx, err := holder.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	mustExec(t, tx, "INSERT INTO t VALUES (1)")

	done := make(chan error, 1)
	go func() {
		_, err := waiter.Exec("INSERT INTO t VALUES (2)")
		done <- err
	}()
	select {
	case <-spy.busy:
	case err := <-done:
		t.Fatalf("waiter finished before reaching the lock: %v", err)
	case <-time.After(deadline(t)):
		t.Fatal("waiter never reached the lock")
	}
	// The waiter is now in its busy handler. Release the lock.
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiter: got %v, want it to wait for the lock and succeed", err)
		}
	case <-time.After(deadline(t)):
		t.Fatal("waiter never finished")
	}
	var n int
	if err := holder.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Errorf("rows: got %v, %v, want 2", n, err)
	}
}

func TestJournalMode(t *testing.T) {
	db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "j.db")})
	if mode := journalMode(t, db); mode != Platform().JournalMode {
		t.Errorf("journal mode: got %v, want %v", mode, Platform().JournalMode)
	}
}

// TestOpenProfiles applies the profiles of less capable platforms here.
func TestOpenProfiles(t *testing.T) {
	if !Platform().FileLocking {
		t.Skip("no file locking")
	}
	tests := []struct {
		name string
		prof Profile
		want map[string]string
	}{
		{"no locking", profileFor("plan9", "amd64", "none", false, false, false),
			map[string]string{"journal_mode": "delete", "locking_mode": "normal"}},
		{"no shared memory", profileFor("linux", "s390x", "ofd", true, false, false),
			map[string]string{"journal_mode": "wal", "locking_mode": "exclusive"}},
		{"copied shared memory", profileFor("windows", "amd64", "lockfileex", true, true, true),
			map[string]string{"journal_mode": "wal", "locking_mode": "exclusive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testdir.New(t)
			path := filepath.Join(dir, "p.db")
			db := mustOpen(t, Config{Path: path, Profile: &tt.prof, MaxConns: 4})
			if got := db.Stats().MaxOpenConnections; got != 1 {
				t.Errorf("MaxOpenConnections: got %v, want 1", got)
			}
			conn := mustConn(t, db)
			for name, want := range tt.want {
				if got := strings.ToLower(mustPragma(t, conn, name)); got != want {
					t.Errorf("PRAGMA %s: got %v, want %v", name, got, want)
				}
			}
			if _, err := conn.ExecContext(context.Background(), "CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			if tt.prof.LockingExclusive {
				// EXCLUSIVE locking mode: no shared-memory file, and nobody
				// else can read.
				if _, err := os.Stat(path + "-shm"); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("-shm file: got %v, want none in EXCLUSIVE locking mode", err)
				}
				other, err := Open(context.Background(), Config{Path: path, ReadOnly: true, Pragmas: []Pragma{{"busy_timeout", "0"}}})
				if !errors.Is(err, ErrBusy) {
					t.Errorf("open beside an EXCLUSIVE connection: got %v, %v, want ErrBusy", other, err)
				}
			}
			conn.Close()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			// Read-only, with the same profile, once the owner is gone.
			ro := mustOpen(t, Config{Path: path, ReadOnly: true, Profile: &tt.prof})
			var n int
			if err := ro.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
				t.Errorf("read-only count: got %v, %v, want 1", n, err)
			}
			if _, err := ro.Exec("INSERT INTO t VALUES (2)"); !errors.Is(err, ErrReadOnly) {
				t.Errorf("read-only insert: got %v, want ErrReadOnly", err)
			}
			// How the file is opened, as README says: read-only (mode=ro),
			// except with EXCLUSIVE locking, whose lock a read-only file
			// cannot hold: read-write, and query_only refuses the writes.
			rc := mustConn(t, ro)
			if got := mustPragma(t, rc, "query_only"); got != "1" {
				t.Errorf("read-only: PRAGMA query_only = %v, want 1", got)
			}
			err := rc.Raw(func(dc any) error {
				fileRO, _ := dc.(driver.Conn).Raw().ReadOnly("main")
				if want := !tt.prof.LockingExclusive; fileRO != want {
					t.Errorf("read-only with locking_mode exclusive %v: file opened read-only %v, want %v", tt.prof.LockingExclusive, fileRO, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
		})
	}
}

// TestOpenJournalModeNotGranted asks for a journal mode SQLite does not
// grant (an unknown one, which it ignores, as it ignores WAL where shared
// memory is missing) and checks that Open warns and JournalMode tells the
// truth.
func TestOpenJournalModeNotGranted(t *testing.T) {
	logs := new(testproc.Buffer)
	logger := slog.New(slog.NewTextHandler(logs, nil))
	pragmas, err := MergePragmas(DefaultPragmas(), Pragma{"journal_mode", "BOGUS"})
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "m.db"), Pragmas: pragmas, Logger: logger})
	if mode := journalMode(t, db); mode != "delete" {
		t.Errorf("journal mode: got %v, want delete", mode)
	}
	if !strings.Contains(logs.String(), "did not grant the journal mode") || !strings.Contains(logs.String(), "want=bogus") {
		t.Errorf("log: got %q, want a warning about the journal mode", logs.String())
	}
}

func TestOpenInit(t *testing.T) {
	path := filepath.Join(testdir.New(t), "init.db")
	var mu sync.Mutex
	var seen []string
	db := mustOpen(t, Config{
		Path:     path,
		MaxConns: 3,
		Init: func(c *sqlite3.Conn) error {
			// Init runs after the pragmas: the busy timeout is already set.
			stmt, _, err := c.Prepare("PRAGMA busy_timeout")
			if err != nil {
				return err
			}
			defer stmt.Close()
			stmt.Step()
			mu.Lock()
			seen = append(seen, stmt.ColumnText(0))
			mu.Unlock()
			return stmt.Err()
		},
	})
	if Platform().SingleConnection {
		t.Skip("one connection on this platform")
	}
	ctx := context.Background()
	// Hold three connections at once, so the pool opens three.
	for range 3 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("Init ran %d times for 3 connections, want 3", len(seen))
	}
	for _, v := range seen {
		if v != "10000" {
			t.Errorf("busy_timeout seen by Init = %s, want 10000 (pragmas first)", v)
		}
	}

	errInit := errors.New("init refused")
	_, err := Open(ctx, Config{Path: path, Init: func(*sqlite3.Conn) error { return errInit }})
	if !errors.Is(err, errInit) {
		t.Errorf("Open with a failing Init = %v, want its error", err)
	}
}

// journalMode returns the journal mode in force for db, in lower case.
func journalMode(t *testing.T, db *sql.DB) string {
	t.Helper()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("PRAGMA journal_mode: %v", err)
	}
	return strings.ToLower(mode)
}

// TestOpenTerm checks that Term runs once on every connection as the pool
// closes it, while it is still open, and that a statement Term finalizes
// there no longer keeps SQLite from closing the connection.
func TestOpenTerm(t *testing.T) {
	if Platform().SingleConnection {
		t.Skip("one connection on this platform")
	}
	var mu sync.Mutex
	kept := map[*sqlite3.Conn]*sqlite3.Stmt{}
	terms := 0
	db, err := Open(context.Background(), Config{
		Path:     filepath.Join(testdir.New(t), "term.db"),
		MaxConns: 2,
		Logger:   testLogger(t),
		Init: func(c *sqlite3.Conn) error {
			// A statement left prepared, as a statement cache keeps them.
			stmt, _, err := c.Prepare("SELECT 1")
			if err != nil {
				return err
			}
			mu.Lock()
			kept[c] = stmt
			mu.Unlock()
			return nil
		},
		Term: func(c *sqlite3.Conn) error {
			mu.Lock()
			defer mu.Unlock()
			terms++
			stmt := kept[c]
			if stmt == nil {
				return errors.New("Term for a connection Init never saw")
			}
			if !stmt.Step() || stmt.ColumnInt(0) != 1 {
				t.Errorf("Term: the connection no longer runs statements: %v", stmt.Err())
			}
			delete(kept, c)
			return stmt.Close()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	c2.Close()
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v (a statement kept prepared was not finalized)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if terms != 2 || len(kept) != 0 {
		t.Errorf("Term ran %d times, %d statements left, want 2 and 0", terms, len(kept))
	}
}
