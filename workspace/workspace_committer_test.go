package workspace_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// The edge cases of the group committer that odd but legal callers reach:
// each of these once broke a promise (an acknowledged write lost, a wait
// without end, a connection left changed).

// shortBusy is a busy timeout of one second, the least wait for a
// connection: tests of waits that cannot end by themselves end there.
var shortBusy = []ncruces.Pragma{{Name: "busy_timeout", Value: "1000"}}

// TestCrossWorkspaceCallsAreNotNested: a Write function of one workspace
// that calls another workspace's front while that one runs a function of
// its own queues there like any other caller; its write is committed by the
// other workspace and survives both functions failing. With more
// workspaces open than any fixed number of markers, pairs of workspaces
// that would share one are exercised (i and i+8).
func TestCrossWorkspaceCallsAreNotNested(t *testing.T) {
	ctx := testdir.Context(t)
	const half = 8
	wss := make([]*workspace.Workspace, 2*half)
	for i := range wss {
		wss[i] = mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	}
	errFail := errors.New("the function fails")

	// Every function starts before any cross call is made, so that the
	// callee runs a function when its caller calls it; each callee returns
	// once the cross call aimed at it has been queued or has returned.
	aimed := make([]chan struct{}, half)
	for i := range aimed {
		aimed[i] = make(chan struct{})
	}
	var queued atomic.Int32
	queuedAll := make(chan struct{})
	var started sync.WaitGroup
	started.Add(len(wss))
	allStarted := make(chan struct{})
	go func() {
		started.Wait()
		// From now on only the cross calls queue requests.
		workspace.SetTestHookQueued(t, func() {
			if queued.Add(1) == half {
				close(queuedAll)
			}
		})
		close(allStarted)
	}()

	var wg sync.WaitGroup
	crossErrs := make([]error, half)
	writeErrs := make([]error, len(wss))
	for i, ws := range wss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeErrs[i] = ws.Write(ctx, func(q workspace.Querier) error {
				started.Done()
				<-allStarted
				if i < half {
					_, crossErrs[i] = wss[i+half].SQL().ExecContext(ctx, "INSERT INTO notes(body) VALUES ('cross')")
					close(aimed[i])
				} else {
					select {
					case <-aimed[i-half]:
					case <-queuedAll:
					}
				}
				return errFail
			})
		}()
	}
	wg.Wait()
	for i, err := range writeErrs {
		if !errors.Is(err, errFail) {
			t.Errorf("Write of workspace %d = %v, want its function's error", i, err)
		}
	}
	for i := range half {
		if crossErrs[i] != nil {
			t.Errorf("front Exec from workspace %d into %d: %v", i, i+half, crossErrs[i])
		}
		if n := count(t, wss[i+half], "SELECT count(*) FROM notes WHERE body = 'cross'"); n != 1 {
			t.Errorf("workspace %d holds %d acknowledged cross writes, want 1", i+half, n)
		}
	}
}

// TestWriteFailsWhenFilesMoved: when the database file, its WAL or the
// whole directory is moved, replaced or deleted under the owner, a batch
// is rolled back and fails with ErrMoved instead of being acknowledged into
// a file nobody will find; once the files are back, writes go on.
func TestWriteFailsWhenFilesMoved(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("open files cannot be renamed or deleted on Windows")
	}
	insert := func(ws *workspace.Workspace) error {
		return ws.Write(testdir.Context(t), func(q workspace.Querier) error {
			_, err := q.ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES ('x')")
			return err
		})
	}
	cases := []struct {
		name      string
		move      func(t *testing.T, dir, db string) (restore func())
		removeAll bool
	}{
		{"database renamed", func(t *testing.T, dir, db string) func() {
			mustRename(t, db, db+".moved")
			return func() { mustRename(t, db+".moved", db) }
		}, false},
		{"WAL renamed", func(t *testing.T, dir, db string) func() {
			wal := workspace.WALPath(db)
			mustRename(t, wal, wal+".moved")
			return func() { mustRename(t, wal+".moved", wal) }
		}, false},
		{"database replaced", func(t *testing.T, dir, db string) func() {
			mustRename(t, db, db+".moved")
			if err := os.WriteFile(db, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return func() { mustRename(t, db+".moved", db) }
		}, false},
		{"directory renamed", func(t *testing.T, dir, db string) func() {
			mustRename(t, dir, dir+".moved")
			return func() { mustRename(t, dir+".moved", dir) }
		}, false},
		{"database deleted", func(t *testing.T, dir, db string) func() {
			if err := os.Remove(db); err != nil {
				t.Fatal(err)
			}
			return nil
		}, false},
		{"directory deleted", func(t *testing.T, dir, db string) func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			return nil
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "WAL renamed" && ncruces.Platform().JournalMode != "wal" {
				t.Skip("no WAL on this platform")
			}
			dir := filepath.Join(testdir.New(t), "ws")
			ws, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1)})
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			if err := insert(ws); err != nil {
				t.Fatal(err)
			}
			restore := tc.move(t, ws.Dir(), ws.Path())
			if err := insert(ws); !errors.Is(err, workspace.ErrMoved) {
				t.Fatalf("Write after the move = %v, want ErrMoved", err)
			}
			if _, err := ws.SQL().ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES ('x')"); !errors.Is(err, workspace.ErrMoved) {
				t.Fatalf("front Exec after the move = %v, want ErrMoved", err)
			}
			if restore == nil {
				return
			}
			restore()
			if err := insert(ws); err != nil {
				t.Fatalf("Write once the files are back: %v", err)
			}
			if n := count(t, ws, "SELECT count(*) FROM notes"); n != 2 {
				t.Errorf("%d rows, want the 2 acknowledged", n)
			}
		})
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// sessionStatements change the connection that runs them for every
// statement after them; each is paired with how to read that state back.
var sessionStatements = []struct{ stmt, readBack string }{
	{"PRAGMA query_only = 1", "PRAGMA query_only"},
	{"PRAGMA locking_mode = EXCLUSIVE", "PRAGMA locking_mode"},
	{"PRAGMA ignore_check_constraints = 1", "PRAGMA ignore_check_constraints"},
	{"PRAGMA wal_autocheckpoint = 7", "PRAGMA wal_autocheckpoint"},
	{"PRAGMA busy_timeout = 0", "PRAGMA busy_timeout"},
	{"PRAGMA secure_delete = OFF", "PRAGMA secure_delete"},
	{"PRAGMA recursive_triggers = 1", "PRAGMA recursive_triggers"},
	{"PRAGMA journal_size_limit = 1", "PRAGMA journal_size_limit"},
	{"PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys"},
	{"PRAGMA defer_foreign_keys = 1", "PRAGMA defer_foreign_keys"},
	{"PRAGMA cache_size = 10", "PRAGMA cache_size"},
	{"PRAGMA temp_store = FILE", "PRAGMA temp_store"},
	{"PRAGMA automatic_index = 0", "PRAGMA automatic_index"},
	{"PRAGMA reverse_unordered_selects = 1", "PRAGMA reverse_unordered_selects"},
	{"PRAGMA cell_size_check = 1", "PRAGMA cell_size_check"},
	{"PRAGMA trusted_schema = 0", "PRAGMA trusted_schema"},
	{"PRAGMA legacy_alter_table = 1", "PRAGMA legacy_alter_table"},
	{"PRAGMA writable_schema = 1", "PRAGMA writable_schema"},
	{"PRAGMA read_uncommitted = 1", "PRAGMA read_uncommitted"},
	{"PRAGMA max_page_count = 100000", "PRAGMA max_page_count"},
	{"PRAGMA analysis_limit = 10", "PRAGMA analysis_limit"},
	{"PRAGMA case_sensitive_like = 1", "SELECT 'a' LIKE 'A'"},
	{"ATTACH ':memory:' AS aux", "SELECT count(*) FROM pragma_database_list"},
	{"CREATE TEMP TABLE notes (x)", "SELECT count(*) FROM temp.sqlite_schema"},
	{"CREATE TEMP TRIGGER t AFTER INSERT ON main.notes BEGIN SELECT 1; END", "SELECT count(*) FROM temp.sqlite_schema"},
}

// writerState reads every sessionStatements state back on the writer
// connection, through DB.
func writerState(t *testing.T, ws *workspace.Workspace) []string {
	t.Helper()
	var got []string
	for _, s := range sessionStatements {
		var v sql.NullString
		if err := ws.DB().QueryRowContext(testdir.Context(t), s.readBack).Scan(&v); err != nil {
			t.Fatalf("%s: %v", s.readBack, err)
		}
		got = append(got, s.readBack+" = "+v.String)
	}
	return got
}

// TestBatchCannotChangeTheWriter: a statement inside a batch that would
// change the writer connection for everyone after it — a connection
// pragma, ATTACH, a temporary object left behind, transaction control — is
// refused (ErrRefused) and rolls back only its own request; one run through
// DB runs, and the writer connection is replaced afterwards. Either way the
// writer's settings are what they were, and writes go on.
func TestBatchCannotChangeTheWriter(t *testing.T) {
	ctx := testdir.Context(t)
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	before := writerState(t, ws)
	for _, s := range sessionStatements {
		t.Run(s.stmt, func(t *testing.T) {
			err := ws.Write(ctx, func(q workspace.Querier) error {
				_, err := q.ExecContext(ctx, s.stmt)
				return err
			})
			if !errors.Is(err, workspace.ErrRefused) {
				t.Errorf("in a Write function: %v, want ErrRefused", err)
			}
			if _, err := ws.SQL().ExecContext(ctx, s.stmt); !errors.Is(err, workspace.ErrRefused) {
				t.Errorf("front Exec: %v, want ErrRefused", err)
			}
			// Under DB the statement runs; the state goes with the
			// connection when DB lets go of it.
			if _, err := ws.DB().ExecContext(ctx, s.stmt); err != nil {
				t.Errorf("DB Exec: %v", err)
			}
			if got := writerState(t, ws); !equalStrings(got, before) {
				t.Errorf("writer state after it = %v, want %v", got, before)
			}
			if err := ws.Write(ctx, func(q workspace.Querier) error {
				_, err := q.ExecContext(ctx, "INSERT INTO notes(body) VALUES ('after')")
				return err
			}); err != nil {
				t.Errorf("a Write after it: %v", err)
			}
		})
	}
	for _, stmt := range []string{"BEGIN", "COMMIT", "SAVEPOINT s", "RELEASE s", "ROLLBACK"} {
		if _, err := ws.SQL().ExecContext(ctx, stmt); !errors.Is(err, workspace.ErrRefused) {
			t.Errorf("front Exec %s: %v, want ErrRefused", stmt, err)
		}
	}

	// A temporary table made and dropped inside one function is its own
	// business.
	err := ws.Write(ctx, func(q workspace.Querier) error {
		for _, stmt := range []string{"CREATE TEMP TABLE scratch (x)", "INSERT INTO scratch VALUES (1)",
			"INSERT INTO notes(body) SELECT 'scratch' FROM scratch", "DROP TABLE scratch"} {
			if _, err := q.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a temporary table dropped before the function returns: %v", err)
	}
	if n := count(t, ws, "SELECT count(*) FROM notes WHERE body = 'scratch'"); n != 1 {
		t.Errorf("%d rows from the scratch table, want 1", n)
	}
	// One left behind fails its function, and its work is undone.
	err = ws.Write(ctx, func(q workspace.Querier) error {
		if _, err := q.ExecContext(ctx, "INSERT INTO notes(body) VALUES ('lost')"); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, "CREATE TEMP TABLE kept (x)")
		return err
	})
	if !errors.Is(err, workspace.ErrRefused) {
		t.Errorf("a temporary table left behind: %v, want ErrRefused", err)
	}
	if n := count(t, ws, "SELECT count(*) FROM notes WHERE body = 'lost'"); n != 0 {
		t.Errorf("the refused function's row was committed")
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

// TestFrontQueryKeepsReadersClean: transaction control and connection
// settings sent through the front's Query path never run on a read
// connection (which would stay in a transaction, on an old snapshot, or
// with its settings changed): they are refused, and every read connection
// still sees the latest write. Where there is no read pool (the
// single-connection profile, forced here with FilesystemNetwork where the
// platform has a pool) the front's queries run on the writer connection,
// under the same rules: a BEGIN left there would hold every write.
func TestFrontQueryKeepsReadersClean(t *testing.T) {
	t.Run("read pool", func(t *testing.T) {
		if ncruces.Platform().SingleConnection {
			t.Skip("one connection on this platform: no read pool")
		}
		testFrontQueryKeepsReadersClean(t, &workspace.Options{Migrations: schema(1), Readers: 2}, true)
	})
	t.Run("single connection", func(t *testing.T) {
		opts := &workspace.Options{Migrations: schema(1)}
		if !ncruces.Platform().SingleConnection {
			opts.Filesystem = ncruces.FilesystemNetwork
		}
		testFrontQueryKeepsReadersClean(t, opts, false)
	})
}

// testFrontQueryKeepsReadersClean runs TestFrontQueryKeepsReadersClean on a
// workspace opened with opts: with a pool of two read connections
// (query_only), or with the writer connection only.
func testFrontQueryKeepsReadersClean(t *testing.T, opts *workspace.Options, pool bool) {
	readers, queryOnly, wantPool := 1, 0, 0
	if pool {
		readers, queryOnly, wantPool = 2, 1, 2
	}
	ctx := testdir.Context(t)
	ws := mustOpen(t, testdir.New(t), opts)
	if st, err := ws.Status(ctx); err != nil || st.Readers != wantPool {
		t.Fatalf("Status: %d read connections, %v; want %d", st.Readers, err, wantPool)
	}
	front := ws.SQL()
	for _, stmt := range []string{"BEGIN", "BEGIN DEFERRED", "SAVEPOINT s", "PRAGMA query_only = 1",
		"PRAGMA query_only = 0", "PRAGMA busy_timeout = 0", "ATTACH ':memory:' AS aux", "DETACH aux"} {
		for range readers + 1 {
			rows, err := front.QueryContext(ctx, stmt)
			if err == nil {
				rows.Close()
			}
			if !errors.Is(err, workspace.ErrRefused) {
				t.Errorf("front Query %q: %v, want ErrRefused", stmt, err)
			}
			// A prepared statement is refused as it is prepared.
			if st, err := front.PrepareContext(ctx, stmt); !errors.Is(err, workspace.ErrRefused) {
				if err == nil {
					st.Close()
				}
				t.Errorf("front Prepare %q: %v, want ErrRefused", stmt, err)
			}
		}
	}
	// Every read connection, held at once, still has its settings: SQLite
	// applies most of them while it prepares the statement.
	var held []*sql.Rows
	for range readers {
		rows, err := front.QueryContext(ctx, "SELECT * FROM pragma_busy_timeout, pragma_query_only")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, rows)
	}
	for _, rows := range held {
		var busy, qo int
		if !rows.Next() {
			t.Fatal(rows.Err())
		}
		if err := rows.Scan(&busy, &qo); err != nil {
			t.Fatal(err)
		}
		if busy != 10000 || qo != queryOnly {
			t.Errorf("a read connection has busy_timeout %d and query_only %d, want 10000 and %d", busy, qo, queryOnly)
		}
		rows.Close()
	}
	for i := range 3 {
		mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", fmt.Sprint("n", i))
		// Every read connection, held at once, sees it.
		held = held[:0]
		for range readers {
			rows, err := front.QueryContext(ctx, "SELECT count(*) FROM notes")
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, rows)
		}
		for _, rows := range held {
			var n int
			if !rows.Next() {
				t.Fatal(rows.Err())
			}
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != i+1 {
				t.Errorf("a read connection sees %d rows, want %d: it is on an old snapshot", n, i+1)
			}
			rows.Close()
		}
	}
	// A transaction begun through the front may still do what its
	// connection allows, and leaves nothing behind.
	tx, err := front.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT inner"); err != nil {
		t.Errorf("SAVEPOINT in a front transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('after')")
}

// TestCloseBoundedWithLeakedRows: Close returns, within its bound, while
// leaked front Rows hold every read connection and the background
// checkpointer wants one.
func TestCloseBoundedWithLeakedRows(t *testing.T) {
	if ncruces.Platform().SingleConnection {
		t.Skip("one connection on this platform: no read pool, no background checkpointer")
	}
	ctx := testdir.Context(t)
	ws, err := workspace.Open(ctx, testdir.New(t), &workspace.Options{
		Migrations: schema(1),
		Readers:    2,
		Pragmas:    []ncruces.Pragma{{Name: "wal_autocheckpoint", Value: "2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", strings.Repeat("x", 3000))
	}
	// Rows left open on both read connections, each on a snapshot.
	for range 2 {
		rows, err := ws.SQL().QueryContext(ctx, "SELECT body FROM notes")
		if err != nil {
			t.Fatal(err)
		}
		if !rows.Next() {
			t.Fatal(rows.Err())
		}
	}
	// Commits past wal_autocheckpoint that the held snapshots keep from
	// being checkpointed, until the WAL hook hands a checkpoint to the
	// background checkpointer, which then wants a read connection.
	wants := make(chan struct{}, 1)
	workspace.SetTestHookCheckpointer(t, func() {
		select {
		case wants <- struct{}{}:
		default:
		}
	})
	for i := 0; ; i++ {
		if err := ws.Write(ctx, func(q workspace.Querier) error {
			_, err := q.ExecContext(ctx, "INSERT INTO notes(body) VALUES (?)", strings.Repeat("y", 3000+i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wants:
		default:
			continue
		}
		break
	}
	closed := make(chan error, 1)
	go func() { closed <- ws.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not return while leaked Rows held every read connection")
	}
}

// TestFrontSelfWaitsEnd: the waits through the front that a goroutine can
// make for itself end with a *BusyError naming what held the connection,
// within the busy timeout, or work: never a wait without end with
// context.Background().
func TestFrontSelfWaitsEnd(t *testing.T) {
	bg := context.Background()
	t.Run("statement outside the goroutine's own transaction", func(t *testing.T) {
		ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1), Pragmas: shortBusy})
		tx, err := ws.SQL().BeginTx(bg, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		// sqlc's q.CreateNote(ctx, …) where q.WithTx(tx) was meant.
		go func() {
			_, err := ws.SQL().ExecContext(bg, "INSERT INTO notes(body) VALUES ('outside')")
			done <- err
		}()
		err = waitErr(t, done)
		var busy *workspace.BusyError
		if !errors.As(err, &busy) || !errors.Is(err, ncruces.ErrBusy) || !strings.Contains(err.Error(), "transaction") {
			t.Errorf("statement outside the open transaction: %v, want a *BusyError naming the transaction", err)
		}
		if _, err := tx.ExecContext(bg, "INSERT INTO notes(body) VALUES ('inside')"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, ws, "SELECT count(*) FROM notes"); n != 1 {
			t.Errorf("%d rows, want the transaction's 1", n)
		}
	})
	// Where there is no read pool (forced with FilesystemNetwork where the
	// platform has one), the front's reads take the writer connection: one
	// open Rows holds it.
	for _, pool := range []bool{true, false} {
		name := "query while the goroutine's Rows hold every reader"
		opts := &workspace.Options{Migrations: schema(1), Readers: 2, Pragmas: shortBusy}
		held, names := 2, "read connection"
		if !pool {
			name = "query while the goroutine's Rows hold the writer"
			held, names = 1, "writer connection"
			if !ncruces.Platform().SingleConnection {
				opts.Filesystem = ncruces.FilesystemNetwork
			}
		}
		t.Run(name, func(t *testing.T) {
			if pool && ncruces.Platform().SingleConnection {
				t.Skip("one connection on this platform: no read pool")
			}
			ws := mustOpen(t, testdir.New(t), opts)
			mustExec(t, ws, "INSERT INTO notes(body) VALUES ('a'), ('b')")
			front := ws.SQL()
			for range held {
				rows, err := front.QueryContext(bg, "SELECT body FROM notes")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				rows.Next()
			}
			calls := map[string]func() error{
				"read": func() error {
					var n int
					return front.QueryRowContext(bg, "SELECT count(*) FROM notes").Scan(&n)
				},
				"new RETURNING": func() error {
					var id int
					return front.QueryRowContext(bg, "INSERT INTO notes(body) VALUES ('r') RETURNING id").Scan(&id)
				},
				"prepare": func() error {
					st, err := front.PrepareContext(bg, "SELECT body FROM notes WHERE id = ?")
					if err == nil {
						st.Close()
					}
					return err
				},
			}
			for name, call := range calls {
				done := make(chan error, 1)
				go func() { done <- call() }()
				if err := waitErr(t, done); err != nil && !errors.Is(err, ncruces.ErrBusy) {
					t.Errorf("%s: %v, want success or ErrBusy", name, err)
				} else if err != nil && !strings.Contains(err.Error(), names) {
					t.Errorf("%s: %v, want it to name the %ss", name, err, names)
				}
			}
		})
	}
	t.Run("Write function's front call with the front's pool full", func(t *testing.T) {
		ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1), Pragmas: shortBusy})
		front := ws.SQL()
		front.SetMaxOpenConns(1)
		queued := make(chan struct{}, 1)
		started := make(chan struct{})
		wrote := make(chan error, 1)
		go func() {
			wrote <- ws.Write(bg, func(q workspace.Querier) error {
				close(started)
				<-queued // the other goroutine holds the front's only connection
				_, err := front.ExecContext(bg, "INSERT INTO notes(body) VALUES ('nested')")
				return err
			})
		}()
		<-started
		// From now on only the other goroutine's call queues a request.
		workspace.SetTestHookQueued(t, func() {
			select {
			case queued <- struct{}{}:
			default:
			}
		})
		other := make(chan error, 1)
		go func() {
			_, err := front.ExecContext(bg, "INSERT INTO notes(body) VALUES ('other')")
			other <- err
		}()
		if err := waitErr(t, wrote); err != nil {
			t.Errorf("Write whose function used the front: %v", err)
		}
		if err := waitErr(t, other); !errors.Is(err, ncruces.ErrBusy) {
			t.Errorf("the front call that held the pool: %v, want ErrBusy", err)
		}
		if n := count(t, ws, "SELECT count(*) FROM notes WHERE body = 'nested'"); n != 1 {
			t.Errorf("%d nested rows, want 1", n)
		}
	})
}

// waitErr waits for an error from a call that must end by itself.
func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Until(testdir.Deadline(t))):
		t.Fatal("the call never returned")
		return nil
	}
}

// TestClosedHandlePools: SQL, DB and ReadDB of a handle closed before
// their first use return pools whose calls fail with ErrClosed.
func TestClosedHandlePools(t *testing.T) {
	ctx := testdir.Context(t)
	for _, readOnly := range []bool{false, true} {
		dir := testdir.New(t)
		ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
		if readOnly {
			ws = mustOpenReadOnlyBeside(t, ws, dir)
		}
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
		for name, db := range map[string]*sql.DB{"SQL": ws.SQL(), "DB": ws.DB(), "ReadDB": ws.ReadDB()} {
			if db == nil {
				t.Fatalf("%s of a closed handle is nil", name)
			}
			if _, err := db.ExecContext(ctx, "SELECT 1"); !errors.Is(err, workspace.ErrClosed) {
				t.Errorf("read-only %v: %s().Exec = %v, want ErrClosed", readOnly, name, err)
			}
			if _, err := db.Conn(ctx); !errors.Is(err, workspace.ErrClosed) {
				t.Errorf("read-only %v: %s().Conn = %v, want ErrClosed", readOnly, name, err)
			}
		}
	}
}

// TestFrontReturningRoundTrips: every Go value comes back through a front
// statement with RETURNING as it does through ReadDB: an empty BLOB stays
// an empty BLOB, not NULL.
func TestFrontReturningRoundTrips(t *testing.T) {
	ctx := testdir.Context(t)
	ws := mustOpen(t, testdir.New(t), nil)
	mustExec(t, ws, "CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n, t DATETIME, ok BOOLEAN)")
	when := time.Date(2026, 12, 7, 1, 2, 3, 4000, time.UTC)
	values := [][]any{
		{int64(-7), 1.5, "text", []byte{0, 1, 2}, nil, when, true},
		{int64(0), 0.0, "", []byte{}, []byte{}, when.Add(time.Hour), false},
	}
	for _, vs := range values {
		var got [7]any
		err := ws.SQL().QueryRowContext(ctx,
			"INSERT INTO v(i, f, s, b, n, t, ok) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING i, f, s, b, n, t, ok", vs...).
			Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5], &got[6])
		if err != nil {
			t.Fatal(err)
		}
		var want [7]any
		err = ws.ReadDB().QueryRowContext(ctx, "SELECT i, f, s, b, n, t, ok FROM v ORDER BY id DESC LIMIT 1").
			Scan(&want[0], &want[1], &want[2], &want[3], &want[4], &want[5], &want[6])
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if fmt.Sprintf("%T %#v", got[i], got[i]) != fmt.Sprintf("%T %#v", want[i], want[i]) {
				t.Errorf("column %d: RETURNING gives %T %#v, ReadDB %T %#v", i, got[i], got[i], want[i], want[i])
			}
		}
	}
}

// TestCloseBoundedWhateverLeaks: Close returns within CloseWait and a small
// bound while callers leaked prepared statements, Rows on every read
// connection, and Rows of DB holding the writer connection; it reports the
// connection it took back. Without a read pool (forced with
// FilesystemNetwork where the platform has one) a front Rows holds the
// writer itself.
func TestCloseBoundedWhateverLeaks(t *testing.T) {
	for _, pool := range []bool{true, false} {
		opts := &workspace.Options{Migrations: schema(1), Readers: 2, CloseWait: 100 * time.Millisecond}
		name := "read pool"
		if !pool {
			name = "single connection"
			if !ncruces.Platform().SingleConnection {
				opts.Filesystem = ncruces.FilesystemNetwork
			}
		}
		t.Run(name, func(t *testing.T) {
			if pool && ncruces.Platform().SingleConnection {
				t.Skip("one connection on this platform: no read pool")
			}
			ctx := testdir.Context(t)
			ws, err := workspace.Open(ctx, testdir.New(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, ws, "INSERT INTO notes(body) VALUES ('a'), ('b')")
			for _, db := range []*sql.DB{ws.SQL(), ws.DB()} {
				if _, err := db.PrepareContext(ctx, "SELECT body FROM notes WHERE id = ?"); err != nil {
					t.Fatal(err)
				}
			}
			leak := []*sql.DB{ws.SQL(), ws.SQL(), ws.DB()}
			if !pool {
				leak = leak[:1] // it holds the writer: another would wait for it
			}
			for _, db := range leak {
				rows, err := db.QueryContext(ctx, "SELECT body FROM notes")
				if err != nil {
					t.Fatal(err)
				}
				rows.Next()
			}
			closed := make(chan error, 1)
			go func() { closed <- ws.Close() }()
			if err := waitErr(t, closed); !errors.Is(err, workspace.ErrLeaseRevoked) {
				t.Errorf("Close = %v, want ErrLeaseRevoked for the Rows on the writer", err)
			}
		})
	}
}
