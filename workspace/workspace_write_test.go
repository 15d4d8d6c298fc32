package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// occupy starts a Write whose function blocks until release is called, and
// returns once that function runs and the Write has reported on queued (see
// queueHook): the writer is busy, so the Writes that follow queue up and join
// its batch together once it is released.
func occupy(t *testing.T, ws *workspace.Workspace, queued <-chan struct{}) (release func(), result <-chan error) {
	t.Helper()
	// The Writes queued behind it join its batch however long it is held,
	// on however slow a machine.
	workspace.SetMaxBatchTime(t, time.Hour)
	started, unblock := make(chan struct{}), make(chan struct{})
	res := make(chan error, 1)
	go func() {
		res <- ws.Write(testdir.Context(t), func(workspace.Querier) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	wait(t, started, "the occupying Write to run")
	wait(t, queued, "the occupying Write to queue")
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	return release, res
}

// queueHook makes every Write report on the returned channel once it has
// queued its request.
func queueHook(t *testing.T) <-chan struct{} {
	queued := make(chan struct{}, 100)
	workspace.SetTestHookQueued(t, func() { queued <- struct{}{} })
	return queued
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-testdir.Context(t).Done():
		t.Fatalf("timed out waiting for %s", what)
	}
}

// insertNote returns a Write function that inserts body into notes.
func insertNote(body string) func(workspace.Querier) error {
	return func(q workspace.Querier) error {
		_, err := q.ExecContext(context.Background(), "INSERT INTO notes(body) VALUES (?)", body)
		return err
	}
}

func notes(t *testing.T, ws *workspace.Workspace, body string) int {
	t.Helper()
	return count(t, ws, "SELECT count(*) FROM notes WHERE body = ?", body)
}

func TestWriteCommits(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	if err := ws.Write(testdir.Context(t), insertNote("a")); err != nil {
		t.Fatal(err)
	}
	if n := notes(t, ws, "a"); n != 1 {
		t.Errorf("rows = %d, want 1", n)
	}
	st := ws.WriteStats()
	if st.Writes != 1 || st.Batches != 1 || st.Failed != 0 {
		t.Errorf("stats = %+v, want one write in one batch", st)
	}
	if err := ws.Write(testdir.Context(t), nil); err == nil {
		t.Error("Write(nil) succeeded")
	}
}

func TestWriteBatchIsolation(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	queued := queueHook(t)
	release, occupied := occupy(t, ws, queued)

	errBoom := errors.New("boom")
	type result struct {
		name  string
		err   error
		panic any
	}
	results := make(chan result, 4)
	write := func(name string, fn func(workspace.Querier) error) {
		go func() {
			r := result{name: name}
			defer func() {
				r.panic = recover()
				results <- r
			}()
			r.err = ws.Write(testdir.Context(t), fn)
		}()
		wait(t, queued, name+" queued")
	}
	write("a", insertNote("a"))
	write("b", func(q workspace.Querier) error {
		if err := insertNote("b")(q); err != nil {
			return err
		}
		return errBoom
	})
	write("c", func(q workspace.Querier) error {
		insertNote("c")(q)
		panic("c panicked")
	})
	write("d", insertNote("d"))
	release()

	got := map[string]result{}
	for range 4 {
		r := <-results
		got[r.name] = r
	}
	if err := <-occupied; err != nil {
		t.Errorf("occupying Write: %v", err)
	}
	if r := got["a"]; r.err != nil || r.panic != nil {
		t.Errorf("a: %+v, want success", r)
	}
	if r := got["b"]; !errors.Is(r.err, errBoom) {
		t.Errorf("b: %+v, want errBoom", r)
	}
	if r := got["c"]; r.panic != "c panicked" {
		t.Errorf("c: %+v, want the panic re-raised in the caller", r)
	}
	if r := got["d"]; r.err != nil || r.panic != nil {
		t.Errorf("d: %+v, want success", r)
	}
	for body, want := range map[string]int{"a": 1, "b": 0, "c": 0, "d": 1} {
		if n := notes(t, ws, body); n != want {
			t.Errorf("rows of %s = %d, want %d", body, n, want)
		}
	}
	st := ws.WriteStats()
	if st.MaxBatch < 4 {
		t.Errorf("largest batch = %d, want the four queued Writes in one", st.MaxBatch)
	}
	if st.Writes != 3 || st.Failed != 2 {
		t.Errorf("stats = %+v, want 3 writes and 2 failures", st)
	}
}

func TestWriteCancelledBeforeStart(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	queued := queueHook(t)
	release, _ := occupy(t, ws, queued)

	ctx, cancel := context.WithCancel(testdir.Context(t))
	var ran atomic.Bool
	res := make(chan error, 1)
	go func() {
		res <- ws.Write(ctx, func(q workspace.Querier) error {
			ran.Store(true)
			return insertNote("cancelled")(q)
		})
	}()
	wait(t, queued, "the Write to cancel")
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want context.Canceled", err)
	}
	release()
	// A Write after it proves the queue moved past the cancelled one.
	if err := ws.Write(testdir.Context(t), insertNote("after")); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Error("the function of a cancelled Write ran")
	}
	if n := notes(t, ws, "cancelled"); n != 0 {
		t.Errorf("rows of the cancelled Write = %d, want 0", n)
	}

	done, stop := context.WithCancel(t.Context())
	stop()
	if err := ws.Write(done, insertNote("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a done context = %v, want context.Canceled", err)
	}
}

func TestWriteNested(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	other := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	var inner, elsewhere error
	err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
		inner = ws.Write(testdir.Context(t), insertNote("inner"))
		// Another workspace has its own writer: that is no deadlock.
		elsewhere = other.Write(testdir.Context(t), insertNote("elsewhere"))
		return insertNote("outer")(q)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, workspace.ErrNestedWrite) {
		t.Errorf("nested Write = %v, want ErrNestedWrite", inner)
	}
	if elsewhere != nil {
		t.Errorf("Write to another workspace from a Write function: %v", elsewhere)
	}
	if notes(t, ws, "outer") != 1 || notes(t, ws, "inner") != 0 || notes(t, other, "elsewhere") != 1 {
		t.Error("wrong rows after a nested Write")
	}
}

func TestWriteDeniesTransactionControl(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	for _, stmt := range []string{"COMMIT", "ROLLBACK", "BEGIN", "END", "SAVEPOINT mine", "RELEASE litedir_write", "ROLLBACK TO litedir_write"} {
		t.Run(stmt, func(t *testing.T) {
			err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
				if err := insertNote(stmt)(q); err != nil {
					return err
				}
				_, err := q.ExecContext(context.Background(), stmt)
				return err
			})
			if !errors.Is(err, sqlite3.AUTH) {
				t.Errorf("Write running %s = %v, want SQLITE_AUTH", stmt, err)
			}
			if n := notes(t, ws, stmt); n != 0 {
				t.Errorf("rows = %d, want 0", n)
			}
		})
	}
	// The same statements still work through DB().
	tx, err := ws.DB().BeginTx(testdir.Context(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SAVEPOINT mine"); err != nil {
		t.Errorf("SAVEPOINT through DB(): %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Error(err)
	}
}

func TestWriteDeferredForeignKey(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), nil)
	mustExec(t, ws, `CREATE TABLE parent (id INTEGER PRIMARY KEY)`)
	mustExec(t, ws, `CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`)
	queued := queueHook(t)
	release, occupied := occupy(t, ws, queued)

	bad, good := make(chan error, 1), make(chan error, 1)
	go func() {
		bad <- ws.Write(testdir.Context(t), func(q workspace.Querier) error {
			_, err := q.ExecContext(context.Background(), "INSERT INTO child VALUES (99)")
			return err
		})
	}()
	wait(t, queued, "the violating Write")
	go func() {
		good <- ws.Write(testdir.Context(t), func(q workspace.Querier) error {
			_, err := q.ExecContext(context.Background(), "INSERT INTO parent VALUES (1)")
			return err
		})
	}()
	wait(t, queued, "the sound Write")
	release()

	if err := <-bad; !errors.Is(err, ncruces.ErrConstraint) {
		t.Errorf("violating Write = %v, want ErrConstraint", err)
	}
	if err := <-good; err != nil {
		t.Errorf("sound Write in the same batch = %v, want success", err)
	}
	if err := <-occupied; err != nil {
		t.Errorf("occupying Write = %v", err)
	}
	if n := count(t, ws, "SELECT count(*) FROM parent"); n != 1 {
		t.Errorf("parent rows = %d, want 1", n)
	}
	if n := count(t, ws, "SELECT count(*) FROM child"); n != 0 {
		t.Errorf("child rows = %d, want 0", n)
	}
}

func TestWriteBatchAborted(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	// RAISE(ROLLBACK) in a trigger ends the whole transaction, the way
	// SQLite does by itself after some I/O errors.
	mustExec(t, ws, `CREATE TRIGGER notes_rollback BEFORE INSERT ON notes WHEN NEW.body = 'rollback'
		BEGIN SELECT RAISE(ROLLBACK, 'rolled back by trigger'); END`)
	queued := queueHook(t)
	release, occupied := occupy(t, ws, queued)

	results := make(map[string]chan error)
	write := func(name string, fn func(workspace.Querier) error) {
		results[name] = make(chan error, 1)
		go func() { results[name] <- ws.Write(testdir.Context(t), fn) }()
		wait(t, queued, name)
	}
	var afterRollback error
	write("a", insertNote("a"))
	write("b", func(q workspace.Querier) error {
		insertNote("rollback")(q) // the error is ignored on purpose
		afterRollback = insertNote("after")(q)
		return nil
	})
	write("c", insertNote("c"))
	release()

	for _, name := range []string{"a", "b"} {
		if err := <-results[name]; !errors.Is(err, workspace.ErrBatchAborted) {
			t.Errorf("%s = %v, want ErrBatchAborted", name, err)
		}
	}
	if err := <-occupied; !errors.Is(err, workspace.ErrBatchAborted) {
		t.Errorf("occupying Write in the aborted batch = %v, want ErrBatchAborted", err)
	}
	if afterRollback == nil {
		t.Error("a statement after the rollback ran outside the batch")
	}
	if err := <-results["c"]; err != nil {
		t.Errorf("c, in the next batch = %v, want success", err)
	}
	for body, want := range map[string]int{"a": 0, "after": 0, "c": 1} {
		if n := notes(t, ws, body); n != want {
			t.Errorf("rows of %s = %d, want %d", body, n, want)
		}
	}
}

func TestWriteQuerierAfterReturn(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	var kept workspace.Querier
	if err := ws.Write(testdir.Context(t), func(q workspace.Querier) error { kept = q; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.ExecContext(context.Background(), "INSERT INTO notes(body) VALUES ('late')"); !errors.Is(err, workspace.ErrQuerierDone) {
		t.Errorf("Exec on a kept Querier = %v, want ErrQuerierDone", err)
	}
	if _, err := kept.QueryContext(context.Background(), "SELECT 1"); !errors.Is(err, workspace.ErrQuerierDone) {
		t.Errorf("Query on a kept Querier = %v, want ErrQuerierDone", err)
	}
	var one int
	if err := kept.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err == nil {
		t.Error("QueryRow on a kept Querier succeeded")
	}
}

func TestWriteLeftOpenRows(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
		if err := insertNote("x")(q); err != nil {
			return err
		}
		_, err := q.QueryContext(context.Background(), "SELECT body FROM notes") // never closed
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(testdir.Context(t), insertNote("y")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, ws, "SELECT count(*) FROM notes"); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
}

func TestWriteAndDBDoNotInterleave(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	tx, err := ws.DB().BeginTx(testdir.Context(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO notes(body) VALUES ('db')"); err != nil {
		t.Fatal(err)
	}
	queued := queueHook(t)
	res := make(chan error, 1)
	go func() { res <- ws.Write(testdir.Context(t), insertNote("write")) }()
	wait(t, queued, "the Write")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if notes(t, ws, "write") != 1 || notes(t, ws, "db") != 0 {
		t.Error("the Write shared the transaction of a DB() caller")
	}
}

func TestWriteGoexit(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	returned := make(chan bool, 1)
	go func() {
		ok := false
		defer func() { returned <- ok }()
		ws.Write(testdir.Context(t), func(q workspace.Querier) error {
			insertNote("goexit")(q)
			runtime.Goexit()
			return nil
		})
		ok = true
	}()
	if <-returned {
		t.Error("Write returned normally after its function called runtime.Goexit")
	}
	if err := ws.Write(testdir.Context(t), insertNote("after")); err != nil {
		t.Fatalf("Write after a Goexit: %v", err)
	}
	if notes(t, ws, "goexit") != 0 || notes(t, ws, "after") != 1 {
		t.Error("wrong rows after a Goexit")
	}
}

// TestWriteConcurrent has many goroutines write into the agent schema at
// once, then checks that every row arrived and the database is sound.
func TestWriteConcurrent(t *testing.T) {
	const writers, perWriter = 32, 100
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: migrations.Builtin})
	ctx := testdir.Context(t)
	for s := 1; s <= writers; s++ {
		mustExec(t, ws, "INSERT INTO sessions(id, title) VALUES (?, ?)", s, fmt.Sprint("agent ", s))
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for s := 1; s <= writers; s++ {
		wg.Go(func() {
			for i := range perWriter {
				err := ws.Write(ctx, func(q workspace.Querier) error {
					if _, err := q.ExecContext(ctx, "INSERT INTO messages(session_id, role, body) VALUES (?, 'assistant', ?)", s, fmt.Sprint("message ", i)); err != nil {
						return err
					}
					_, err := q.ExecContext(ctx, "UPDATE sessions SET message_count = message_count + 1 WHERE id = ?", s)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := count(t, ws, "SELECT count(*) FROM messages"); n != writers*perWriter {
		t.Errorf("messages = %d, want %d", n, writers*perWriter)
	}
	if n := count(t, ws, "SELECT count(*) FROM sessions WHERE message_count != ?", perWriter); n != 0 {
		t.Errorf("%d sessions with a wrong message_count", n)
	}
	r, err := ws.Check(ctx, true)
	if err != nil || !r.OK() {
		t.Errorf("Check = %+v, %v", r, err)
	}
	if st := ws.WriteStats(); st.Writes != writers*perWriter || st.Failed != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestWriteDurableSync checks the writer's deferred fsync under
// synchronous=FULL: Writes commit and arrive, and the writer connection is
// back at FULL for DB() callers after every batch.
func TestWriteDurableSync(t *testing.T) {
	for _, level := range []string{"FULL", "EXTRA", "2"} {
		t.Run(level, func(t *testing.T) {
			ws := mustOpen(t, testdir.New(t), &workspace.Options{
				Migrations: schema(1),
				Pragmas:    []ncruces.Pragma{{Name: "synchronous", Value: level}},
			})
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 50 {
						if err := ws.Write(testdir.Context(t), insertNote(fmt.Sprint(g, "-", i))); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if n := count(t, ws, "SELECT count(*) FROM notes"); n != 400 {
				t.Errorf("rows = %d, want 400", n)
			}
			var got int
			if err := ws.DB().QueryRowContext(testdir.Context(t), "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"FULL": 2, "EXTRA": 3, "2": 2}[level]
			if got != want {
				t.Errorf("synchronous on the writer connection after Writes = %d, want %d", got, want)
			}
			if st := ws.WriteStats(); st.Writes != 400 || st.Failed != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestWriteWALBounded writes far more than the WAL's checkpoint threshold and
// checks that the checkpoints keep the WAL file from growing with it; with
// readers that never pause, the WAL may grow while they hold it (no
// checkpoint makes the writers wait for them), and must shrink back once
// they let go.
func TestWriteWALBounded(t *testing.T) {
	if ncruces.Platform().JournalMode != "wal" {
		t.Skip("no WAL on this platform")
	}
	for _, tt := range []struct {
		name    string
		readers int
		rows    int   // of 8000 bytes each
		maxWAL  int64 // bytes
	}{
		{"writers only", 0, 6000, 24 << 20},
		// After the readers stop: journal_size_limit trims a WAL that
		// started over to 64 MiB.
		{"continuous readers", 4, 12000, 64 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if p := ncruces.Platform(); tt.readers > 0 && p.SingleConnection {
				// Readers and the writer take turns on the one connection: no
				// reader's snapshot can outlive a checkpoint, and readers that
				// never pause only starve the writer.
				t.Skipf("readers share the writer's one connection on %s/%s", p.GOOS, p.GOARCH)
			}
			walBounded(t, tt.readers, tt.rows, tt.maxWAL)
		})
	}
}

func walBounded(t *testing.T, readers, rows int, maxWAL int64) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	const size = 8000
	stop := make(chan struct{})
	var rg sync.WaitGroup
	for range readers {
		rg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				if err := ws.ReadDB().QueryRowContext(testdir.Context(t), "SELECT count(*) FROM notes").Scan(&n); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stopReaders := sync.OnceFunc(func() { close(stop); rg.Wait() })
	defer stopReaders()
	insert := func(n int) error {
		return ws.Write(testdir.Context(t), func(q workspace.Querier) error {
			_, err := q.ExecContext(context.Background(), "INSERT INTO notes(body) VALUES (hex(randomblob(?)))", n/2)
			return err
		})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < rows; i += 8 {
				if err := insert(size); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if readers > 0 {
		// The readers let go: a later commit's checkpoint (after its
		// back-off of at most a second) copies the WAL, a write then
		// starts it over, and journal_size_limit trims the file.
		stopReaders()
		t.Logf("with readers: %+v", ws.WriteStats())
		ctx := testdir.Context(t)
		for {
			st, err := ws.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.WALSize <= maxWAL {
				break
			}
			if err := insert(size); err != nil {
				t.Fatalf("WAL still %d bytes after the readers stopped: %v", st.WALSize, err)
			}
		}
	}
	st, err := ws.Status(testdir.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.DBSize+st.WALSize < int64(rows*size) {
		t.Fatalf("database %d + WAL %d bytes: less than the %d bytes written", st.DBSize, st.WALSize, rows*size)
	}
	t.Logf("database %d bytes, WAL %d bytes, %+v", st.DBSize, st.WALSize, ws.WriteStats())
	if st.WALSize > maxWAL {
		t.Errorf("WAL = %d bytes after writing %d: checkpoints did not keep up", st.WALSize, rows*size)
	}
}
