package workspace_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestFrontExecCommitsAndReadsOwnWrites: an Exec through the front joins a
// batch (the committer counts it), returns after the commit, and the next
// read sees it.
func TestFrontExecCommitsAndReadsOwnWrites(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	db, ctx := ws.SQL(), testdir.Context(t)
	before := ws.WriteStats()
	for i := range 20 {
		res, err := db.ExecContext(ctx, "INSERT INTO notes(body) VALUES (?)", "front")
		if err != nil {
			t.Fatal(err)
		}
		id, err := res.LastInsertId()
		if err != nil || id == 0 {
			t.Fatalf("LastInsertId = %d, %v", id, err)
		}
		var body string
		if err := db.QueryRowContext(ctx, "SELECT body FROM notes WHERE id = ?", id).Scan(&body); err != nil {
			t.Fatalf("read %d after its Exec: %v", i, err)
		}
	}
	if got := ws.WriteStats().Writes - before.Writes; got != 20 {
		t.Errorf("writes counted by the committer = %d, want 20", got)
	}
}

// TestFrontReturningJoinsBatch: a query that writes (RETURNING) runs in a
// batch, with its rows handed over after the commit.
func TestFrontReturningJoinsBatch(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	db, ctx := ws.SQL(), testdir.Context(t)
	before := ws.WriteStats().Writes
	var id int64
	var body string
	if err := db.QueryRowContext(ctx, "INSERT INTO notes(body) VALUES (?) RETURNING id, body", "ret").Scan(&id, &body); err != nil {
		t.Fatal(err)
	}
	if body != "ret" || id == 0 {
		t.Errorf("RETURNING gave %d, %q", id, body)
	}
	rows, err := db.QueryContext(ctx, "UPDATE notes SET body = body || '!' RETURNING body")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "ret!" {
		t.Errorf("UPDATE … RETURNING rows = %q, want [ret!]", got)
	}
	// Without a read pool, the front's queries take the writer connection
	// between batches instead of joining one.
	want := uint64(2)
	if ncruces.Platform().SingleConnection {
		want = 0
	}
	if n := ws.WriteStats().Writes - before; n != want {
		t.Errorf("writes counted = %d, want %d (both statements joined batches, where there is a read pool)", n, want)
	}
	if n := notes(t, ws, "ret!"); n != 1 {
		t.Errorf("rows = %d, want 1", n)
	}
}

// TestFrontReadsDoNotWaitForWriter: a read-only query goes to the read
// pool, so it answers while a transaction holds the writer connection.
func TestFrontReadsDoNotWaitForWriter(t *testing.T) {
	if ncruces.Platform().SingleConnection {
		t.Skip("one connection: reads take turns with the writer")
	}
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	ctx := testdir.Context(t)
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
	tx, err := ws.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO notes(body) VALUES ('in tx')"); err != nil {
		t.Fatal(err)
	}
	// Had this gone to the writer, it would wait for the transaction, which
	// waits for it: the context would end first.
	var n int
	if err := ws.SQL().QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("count = %d, want 1 (the transaction's row is not committed)", n)
	}
}

// TestFrontTx: BeginTx is a real transaction on the writer connection;
// prepared statements work in it and outside it.
func TestFrontTx(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	db, ctx := ws.SQL(), testdir.Context(t)
	st, err := db.PrepareContext(ctx, "INSERT INTO notes(body) VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := db.PrepareContext(ctx, "INSERT INTO nosuchtable VALUES (1)"); err == nil {
		t.Error("Prepare of a statement on a missing table succeeded")
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, "tx"); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil || n != 3 {
		t.Fatalf("count in tx = %d, %v; want 3", n, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := notes(t, ws, "tx"); n != 0 {
		t.Errorf("rolled back rows = %d, want 0", n)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO notes(body) VALUES ('tx')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ExecContext(ctx, "stmt"); err != nil {
		t.Fatal(err)
	}
	if n := notes(t, ws, "tx") + notes(t, ws, "stmt"); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
	// Batches go on after the transactions.
	if err := ws.Write(ctx, insertNote("w")); err != nil {
		t.Fatal(err)
	}
}

// TestFrontInsideWrite: inside a Write function, the front's and DB's
// statements join the function's savepoint (rolled back with it), and a
// transaction begun there fails at once with ErrNestedWrite.
func TestFrontInsideWrite(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	ctx := context.Background()
	errFn := errors.New("fn failed")
	err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
		if _, err := ws.SQL().ExecContext(ctx, "INSERT INTO notes(body) VALUES ('front')"); err != nil {
			return err
		}
		if _, err := ws.DB().ExecContext(ctx, "INSERT INTO notes(body) VALUES ('db')"); err != nil {
			return err
		}
		var n int
		if err := ws.SQL().QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("count inside the function = %d, want 2", n)
		}
		for name, db := range map[string]*sql.DB{"SQL": ws.SQL(), "DB": ws.DB()} {
			if _, err := db.BeginTx(ctx, nil); !errors.Is(err, workspace.ErrNestedWrite) {
				t.Errorf("%s().BeginTx inside Write = %v, want ErrNestedWrite", name, err)
			}
		}
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Fatalf("Write = %v, want %v", err, errFn)
	}
	if n := count(t, ws, "SELECT count(*) FROM notes"); n != 0 {
		t.Errorf("rows after the function failed = %d, want 0", n)
	}
}

// TestFrontAndDBCloseAreTheirs: closing SQL() or DB() closes those pools
// only: Write, the other handles and Close go on.
func TestFrontAndDBCloseAreTheirs(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	other := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	if err := ws.SQL().Close(); err != nil {
		t.Fatal(err)
	}
	if err := ws.DB().Close(); err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(testdir.Context(t), insertNote("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := other.SQL().ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES ('b')"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.DB().ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES ('c')"); err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseBoundedByOpenTransaction: Close waits for a transaction left
// open on DB at most CloseWait, then rolls it back, releases the lock and
// says so; the transaction's later statements fail with ErrLeaseRevoked.
func TestCloseBoundedByOpenTransaction(t *testing.T) {
	dir := testdir.New(t)
	ws, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Migrations: schema(1), CloseWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testdir.Context(t)
	tx, err := ws.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO notes(body) VALUES ('leaked')"); err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(); !errors.Is(err, workspace.ErrLeaseRevoked) {
		t.Fatalf("Close = %v, want ErrLeaseRevoked", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO notes(body) VALUES ('late')"); !errors.Is(err, workspace.ErrLeaseRevoked) {
		t.Errorf("a statement after Close took the connection back = %v, want ErrLeaseRevoked", err)
	}
	tx.Rollback()
	l, err := acquireLock(ctx, dir, lock.Options{})
	if err != nil {
		t.Fatalf("lock after Close: %v", err)
	}
	l.Release()
	ro, err := workspace.OpenReadOnly(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var n int
	if err := ro.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil || n != 0 {
		t.Errorf("rows of the leaked transaction = %d, %v; want 0", n, err)
	}
}

// TestEveryStatementCached: the writer prepares a statement text once,
// whichever call runs it.
func TestEveryStatementCached(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	ctx := context.Background()
	const query = "INSERT INTO notes(body) VALUES (?) RETURNING id"
	prepares := func() int64 { return workspace.WriterPrepares(ws) }
	run := func() {
		if err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
			if _, err := q.ExecContext(ctx, query, "e"); err != nil {
				return err
			}
			var id int64
			if err := q.QueryRowContext(ctx, query, "r").Scan(&id); err != nil {
				return err
			}
			rows, err := q.QueryContext(ctx, query, "q")
			if err != nil {
				return err
			}
			rows.Close()
			st, err := q.PrepareContext(ctx, query)
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = st.ExecContext(ctx, "p")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := ws.SQL().ExecContext(ctx, query, "front"); err != nil {
			t.Fatal(err)
		}
	}
	run()
	after := prepares()
	run()
	run()
	if got := prepares(); got != after {
		t.Errorf("statements prepared by later runs = %d, want 0", got-after)
	}
}

// TestFrontReadsStayPrepared: a read-only text that the front runs on the
// read pool is prepared once per read connection, however often and by
// however many goroutines it runs, through QueryRow, Query or Prepare; a
// text that writes is not kept there; and Close finalizes what the read
// connections kept, so the workspace closes cleanly.
func TestFrontReadsStayPrepared(t *testing.T) {
	if ncruces.Platform().SingleConnection {
		t.Skip("one connection: front reads go through the writer's statement cache")
	}
	const readers = 2
	ws, err := workspace.Open(testdir.Context(t), testdir.New(t), &workspace.Options{Migrations: schema(1), Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testdir.Context(t)
	for i := range 10 {
		if _, err := ws.SQL().ExecContext(ctx, "INSERT INTO notes(body) VALUES (?)", fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	const query = "SELECT body FROM notes WHERE id = ?"
	before := workspace.ReaderPrepares(ws)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				id := (g*25+i)%10 + 1
				var body string
				if err := ws.SQL().QueryRowContext(ctx, query, id).Scan(&body); err != nil || body != fmt.Sprint("n", id-1) {
					t.Errorf("QueryRow(%d) = %q, %v", id, body, err)
					return
				}
				rows, err := ws.SQL().QueryContext(ctx, query, id)
				if err != nil {
					t.Error(err)
					return
				}
				if !rows.Next() {
					t.Errorf("Query(%d): no row (%v)", id, rows.Err())
				}
				rows.Close()
			}
		})
	}
	wg.Wait()
	st, err := ws.SQL().PrepareContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 10; id++ {
		var body string
		if err := st.QueryRowContext(ctx, id).Scan(&body); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if got := workspace.ReaderPrepares(ws) - before; got < 1 || got > readers {
		t.Errorf("read connections prepared %q %d times for 210 runs, want 1 to %d (once per connection)", query, got, readers)
	}

	// A text that writes is classified once, then goes to the writer.
	const insert = "INSERT INTO notes(body) VALUES (?) RETURNING id"
	before = workspace.ReaderPrepares(ws)
	for i := range 5 {
		var id int64
		if err := ws.SQL().QueryRowContext(ctx, insert, fmt.Sprint("w", i)).Scan(&id); err != nil {
			t.Fatal(err)
		}
	}
	if got := workspace.ReaderPrepares(ws) - before; got != 1 {
		t.Errorf("read connections prepared the RETURNING insert %d times, want once (to learn that it writes)", got)
	}

	// Each read connection still holds a statement: SQLite refuses to
	// close a connection that does, so this fails unless Close finalizes
	// them first.
	if err := ws.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
