package committer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
)

// open opens a committer on a new database with a table t (x) and closes
// it when the test ends.
func open(t *testing.T, pragmas ...ncruces.Pragma) *Committer {
	t.Helper()
	ctx := testdir.Context(t)
	merged, err := ncruces.MergePragmas(ncruces.DefaultPragmas(), pragmas...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "c.db"), Pragmas: merged, Readers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := c.DB().ExecContext(ctx, "CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	return c
}

// insert is a Write that inserts x.
func insert(c *Committer, x any) error {
	return c.Write(context.Background(), func(q Querier) error {
		_, err := q.ExecContext(context.Background(), "INSERT INTO t VALUES (?)", x)
		return err
	})
}

// rows returns the number of rows of t where x = v, read on the read pool.
func rows(t *testing.T, c *Committer, v any) int {
	t.Helper()
	var n int
	if err := c.ReadDB().QueryRowContext(testdir.Context(t), "SELECT count(*) FROM t WHERE x = ?", v).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// setHook sets one of the package's test hooks until the test ends.
func setHook[F any](t *testing.T, hook *F, f F) {
	old := *hook
	*hook = f
	t.Cleanup(func() { *hook = old })
}

// TestMarkerChain: a function below c's marker chain is inside c, and in
// no other committer, for ids that need no bit, one, and many; a goroutine
// it starts is in none.
func TestMarkerChain(t *testing.T) {
	for _, id := range []uint64{0, 1, 2, 5, 1 << 20, 1<<64 - 1} {
		var got uint64
		var ok, deep, inGoroutine bool
		err := callMarked(id, func(Querier) error {
			got, ok = markedID()
			var down func(int) bool
			down = func(n int) bool {
				if n == 0 {
					gotDeep, okDeep := markedID()
					return okDeep && gotDeep == id
				}
				return down(n - 1)
			}
			deep = down(300)
			done := make(chan bool)
			go func() {
				_, in := markedID()
				done <- in
			}()
			inGoroutine = <-done
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || got != id {
			t.Errorf("id %d: the chain spells %d (found %v)", id, got, ok)
		}
		if !deep {
			t.Errorf("id %d: not found 300 frames below the function", id)
		}
		if inGoroutine {
			t.Errorf("id %d: a goroutine started by the function finds a chain", id)
		}
	}
	if _, ok := markedID(); ok {
		t.Error("a chain found outside any function")
	}
}

// TestNestedManyCommitters: with more committers open than any fixed number
// of markers, each recognises calls from its own functions only; and a
// Write from inside a function is ErrNestedWrite.
func TestNestedManyCommitters(t *testing.T) {
	ctx := testdir.Context(t)
	cs := make([]*Committer, 20)
	for i := range cs {
		cs[i] = open(t)
	}
	for i, c := range cs {
		err := c.Write(ctx, func(Querier) error {
			for j, other := range cs {
				// Another committer's function may run meanwhile: its
				// flag is up, and still this goroutine is not its.
				other.inFn.Store(true)
				if got := other.nested(); got != (i == j) {
					t.Errorf("function of committer %d: nested in %d = %v", i, j, got)
				}
				if j != i {
					other.inFn.Store(false)
				}
			}
			return c.Write(ctx, func(Querier) error { return nil })
		})
		if !errors.Is(err, ErrNestedWrite) {
			t.Errorf("Write inside a Write function = %v, want ErrNestedWrite", err)
		}
	}
}

// TestOutcomeDeliveredOnce: every request whose caller waits gets exactly
// one outcome — its own, or an error for one that never ran — however its
// context races the loop.
func TestOutcomeDeliveredOnce(t *testing.T) {
	c := open(t)
	var wg sync.WaitGroup
	var committed, cancelled atomic.Int64
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				go cancel()
			} else {
				defer cancel()
			}
			err := c.Write(ctx, func(q Querier) error {
				_, err := q.ExecContext(ctx, "INSERT INTO t VALUES (?)", i)
				return err
			})
			switch {
			case err == nil:
				committed.Add(1)
			case errors.Is(err, context.Canceled):
				cancelled.Add(1)
			default:
				t.Errorf("Write %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	var n int64
	if err := c.ReadDB().QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != committed.Load() || committed.Load()+cancelled.Load() != 400 {
		t.Errorf("%d rows; %d Writes reported committed and %d cancelled, of 400", n, committed.Load(), cancelled.Load())
	}
	if s := c.Stats(); s.Writes != uint64(committed.Load()) {
		t.Errorf("Stats().Writes = %d, want %d", s.Writes, committed.Load())
	}
}

// TestDoneOnlyAfterCommit: no caller of a batch is told its outcome before
// its COMMIT has run.
func TestDoneOnlyAfterCommit(t *testing.T) {
	c := open(t)
	var delivered atomic.Int32
	setHook(t, &testHookDelivered, func(*request) { delivered.Add(1) })
	var atCommit atomic.Int32
	setHook(t, &testHookCommit, func() error {
		atCommit.Store(delivered.Load() + 1)
		return nil
	})
	if err := insert(c, "a"); err != nil {
		t.Fatal(err)
	}
	if n := atCommit.Load() - 1; n != 0 {
		t.Errorf("%d outcomes delivered before the COMMIT ran", n)
	}
	if rows(t, c, "a") != 1 {
		t.Error("the write is not there")
	}
}

// TestFailedCommitFailsEveryCaller: when COMMIT fails, every request of the
// batch gets an error matching ErrBatchAborted, and none of its work is
// there.
func TestFailedCommitFailsEveryCaller(t *testing.T) {
	c := open(t)
	ioErr := &fs.PathError{Op: "write", Path: "c.db-wal", Err: syscall.EIO}
	release := make(chan struct{})
	var once sync.Once
	setHook(t, &testHookRan, func(r *request) {
		// The first request waits for the others to queue behind it.
		once.Do(func() { <-release })
	})
	// Every COMMIT fails until the four Writes have failed: however the
	// loop grouped them (a slow machine may end the first batch at its
	// time limit), every caller of each batch must fail.
	var failing atomic.Bool
	failing.Store(true)
	setHook(t, &testHookCommit, func() error {
		if failing.Load() {
			return ioErr
		}
		return nil
	})
	queued := make(chan struct{}, 8)
	t.Cleanup(SetTestHookQueued(func() { queued <- struct{}{} }))
	errs := make(chan error, 4)
	go func() { errs <- insert(c, "first") }()
	<-queued
	for i := range 3 {
		go func() { errs <- insert(c, fmt.Sprint("more", i)) }()
		<-queued
	}
	close(release)
	for range 4 {
		if err := <-errs; !errors.Is(err, ErrBatchAborted) || !errors.Is(err, syscall.EIO) {
			t.Errorf("Write in the batch whose COMMIT failed: %v, want ErrBatchAborted wrapping EIO", err)
		}
	}
	failing.Store(false)
	var n int
	if err := c.ReadDB().QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows (%v) after a failed COMMIT, want 0", n, err)
	}
	if err := insert(c, "after"); err != nil {
		t.Errorf("Write after a failed COMMIT: %v", err)
	}
}

// TestQueryCancelledInBatchIsUndone: a front statement with RETURNING
// whose context ends after the loop took it is rolled back and reports the
// context's error, instead of committing a write its caller cannot learn of.
func TestQueryCancelledInBatchIsUndone(t *testing.T) {
	c := open(t)
	front := c.NewFront()
	defer front.Close()
	ctx, cancel := context.WithCancel(context.Background())
	setHook(t, &testHookRan, func(r *request) {
		if r.kind == kindQuery {
			cancel()
		}
	})
	var x string
	err := front.QueryRowContext(ctx, "INSERT INTO t VALUES ('r') RETURNING x").Scan(&x)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RETURNING whose context ended in the batch: %v, want context.Canceled", err)
	}
	if n := rows(t, c, "r"); n != 0 {
		t.Errorf("the cancelled statement's row was committed (%d)", n)
	}
	// An Exec whose context ends there is reported as it happened.
	ctx, cancel = context.WithCancel(context.Background())
	setHook(t, &testHookRan, func(r *request) { cancel() })
	if _, err := front.ExecContext(ctx, "INSERT INTO t VALUES ('e')"); err != nil {
		t.Errorf("Exec whose context ended after it ran: %v, want its success", err)
	}
	if n := rows(t, c, "e"); n != 1 {
		t.Errorf("the Exec's row: %d, want 1", n)
	}
}

// TestSyncStage: the stage fsyncs once for whatever batches wait, sends
// them back with the result, and closes its output when its input closes.
func TestSyncStage(t *testing.T) {
	wal := filepath.Join(t.TempDir(), "x-wal")
	if err := os.WriteFile(wal, []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	var syncs atomic.Int32
	fail := errors.New("disk on fire")
	var failing atomic.Bool
	t.Cleanup(fsync.SetHook(func(c fsync.Call) error {
		if c.Op != fsync.OpData || c.Path != wal {
			return nil
		}
		syncs.Add(1)
		if failing.Load() {
			return &fs.PathError{Op: "fdatasync", Path: c.Path, Err: fail}
		}
		return nil
	}))
	s, err := startSync(wal)
	if err != nil {
		t.Fatal(err)
	}
	bs := []*batch{{}, {}, {}}
	for _, b := range bs {
		s.in <- b
	}
	var got []*batch
	for len(got) < len(bs) {
		out := <-s.out
		if out.err != nil {
			t.Fatal(out.err)
		}
		got = append(got, out.batches...)
	}
	if syncs.Load() > int32(len(bs)) || syncs.Load() == 0 {
		t.Errorf("%d fsyncs for %d batches", syncs.Load(), len(bs))
	}
	for i := range bs {
		if got[i] != bs[i] {
			t.Errorf("batch %d came back out of order", i)
		}
	}
	failing.Store(true)
	s.in <- &batch{}
	out := <-s.out
	var pe *fs.PathError
	if !errors.Is(out.err, fail) || !errors.As(out.err, &pe) || pe.Path != wal {
		t.Errorf("fsync error = %v, want %v naming the WAL", out.err, fail)
	}
	close(s.in)
	if _, ok := <-s.out; ok {
		t.Error("the stage's output stays open after its input closed")
	}
}

// TestFailStop: after an fsync of the WAL fails, the batches it covered and
// every later one fail with ErrFailStop, while a transaction of DB still
// commits on its own; the same after a checkpoint I/O error a hook reports.
func TestFailStop(t *testing.T) {
	t.Run("fsync", func(t *testing.T) {
		var failing atomic.Bool
		c := open(t, ncruces.Pragma{Name: "synchronous", Value: "FULL"})
		wal := c.path + "-wal"
		t.Cleanup(fsync.SetHook(func(call fsync.Call) error {
			if call.Op == fsync.OpData && call.Path == wal && failing.Load() {
				return &fs.PathError{Op: "fdatasync", Path: call.Path, Err: syscall.EIO}
			}
			return nil
		}))
		if err := insert(c, "before"); err != nil {
			t.Fatal(err)
		}
		failing.Store(true)
		if err := insert(c, "failed"); !errors.Is(err, ErrFailStop) || !errors.Is(err, syscall.EIO) {
			t.Errorf("Write whose fsync failed: %v, want ErrFailStop wrapping EIO", err)
		}
		failing.Store(false)
		if err := insert(c, "later"); !errors.Is(err, ErrFailStop) {
			t.Errorf("Write after a failed fsync: %v, want ErrFailStop", err)
		}
		if _, err := c.DB().Exec("INSERT INTO t VALUES ('db')"); err != nil {
			t.Errorf("DB after a failed fsync: %v", err)
		}
	})
	t.Run("checkpoint", func(t *testing.T) {
		c := open(t)
		c.hooks.failed(fmt.Errorf("%w: %w", sqlite3.IOERR_WRITE, &fs.PathError{Op: "write", Path: "c.db", Err: syscall.EIO}), 1000, "PASSIVE")
		if err := insert(c, "x"); !errors.Is(err, ErrFailStop) || !errors.Is(err, syscall.EIO) {
			t.Errorf("Write after a checkpoint I/O error: %v, want ErrFailStop wrapping EIO", err)
		}
	})
}

// TestLeaseBetweenBatches: a lease is granted only after the batch in front
// of it committed, and no batch runs while it is held.
func TestLeaseBetweenBatches(t *testing.T) {
	c := open(t)
	ctx := testdir.Context(t)
	inFn, release := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- c.Write(ctx, func(q Querier) error {
			close(inFn)
			<-release
			_, err := q.ExecContext(ctx, "INSERT INTO t VALUES ('batch')")
			return err
		})
	}()
	<-inFn
	queued := make(chan struct{}, 4)
	t.Cleanup(SetTestHookQueued(func() { queued <- struct{}{} }))
	leased := make(chan int, 1)
	go func() {
		c.WithConn(ctx, func(conn *sqlite3.Conn) error {
			st, _, err := conn.Prepare("SELECT count(*) FROM t WHERE x = 'batch'")
			if err != nil {
				return err
			}
			defer st.Close()
			st.Step()
			leased <- st.ColumnInt(0)
			return nil
		})
	}()
	<-queued
	close(release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if n := <-leased; n != 1 {
		t.Errorf("the lease saw %d rows of the batch queued before it, want 1 (granted before the commit)", n)
	}
}

// TestClosedCommitter: calls on a closed committer fail with ErrClosed, and
// its pools with their own closed errors; Close is idempotent.
func TestClosedCommitter(t *testing.T) {
	ctx := testdir.Context(t)
	c, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "c.db"), Readers: 1})
	if err != nil {
		t.Fatal(err)
	}
	front := c.NewFront()
	defer front.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := insert(c, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if _, err := front.ExecContext(ctx, "INSERT INTO t VALUES (1)"); !errors.Is(err, ErrClosed) {
		t.Errorf("front Exec after Close: %v, want ErrClosed", err)
	}
	var db *sql.DB = c.NewDB()
	defer db.Close()
	if _, err := db.ExecContext(ctx, "SELECT 1"); !errors.Is(err, ErrClosed) {
		t.Errorf("DB Exec after Close: %v, want ErrClosed", err)
	}
}

// TestStmtCacheBounded: the cache keeps at most maxCachedStmts statements,
// dropping the least recently used, and a text in use gets a temporary
// twin.
func TestStmtCacheBounded(t *testing.T) {
	c := open(t)
	ctx := testdir.Context(t)
	db := c.NewDB()
	defer db.Close()
	for i := range maxCachedStmts + 10 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO t VALUES (%d)", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.w.mu.Lock()
	n := len(c.w.cache.m)
	_, first := c.w.cache.m["INSERT INTO t VALUES (0)"]
	c.w.mu.Unlock()
	if n != maxCachedStmts || first {
		t.Errorf("cache holds %d statements (the oldest: %v), want %d without the oldest", n, first, maxCachedStmts)
	}
	// The same text twice at once (nested rows): the second gets a
	// temporary twin, and both read every row.
	err := c.Write(ctx, func(q Querier) error {
		outer, err := q.QueryContext(ctx, "SELECT x FROM t")
		if err != nil {
			return err
		}
		defer outer.Close()
		pairs := 0
		for outer.Next() {
			inner, err := q.QueryContext(ctx, "SELECT x FROM t")
			if err != nil {
				return err
			}
			for inner.Next() {
				pairs++
			}
			if err := inner.Close(); err != nil {
				return err
			}
		}
		if want := (maxCachedStmts + 10) * (maxCachedStmts + 10); pairs != want {
			return fmt.Errorf("nested reads saw %d pairs, want %d", pairs, want)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoMemError checks that only the driver's out-of-memory panic value
// becomes ErrNoMem: the same text in another type is any other panic.
func TestNoMemError(t *testing.T) {
	for _, p := range []any{nil, "sqlite3: out of memory", errors.New("sqlite3: out of memory"), 42} {
		if err := noMemError(p); err != nil {
			t.Errorf("noMemError(%#v) = %v, want nil", p, err)
		}
	}
}

// BenchmarkCheckFiles measures the check that the database and its WAL are
// still the files the committer opened, made once before every COMMIT.
func BenchmarkCheckFiles(b *testing.B) {
	ctx := context.Background()
	c, err := Open(ctx, Config{Path: filepath.Join(b.TempDir(), "c.db"), Readers: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		if err := c.checkFiles(); err != nil {
			b.Fatal(err)
		}
	}
}
