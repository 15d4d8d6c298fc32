package workspace_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestWriteBeginsImmediate checks that a Write's batch takes SQLite's write
// lock when it begins (BEGIN IMMEDIATE), so that another process beside it
// (one that holds a read transaction, and one that writes, as a second
// program or a replicator might) never makes the batch fail with
// SQLITE_BUSY. The batch's function reads first and writes after the other
// process has tried to write: had the batch begun DEFERRED, its read would
// have pinned a snapshot, the other process's write would have gone through,
// and the batch's write would fail at once with SQLITE_BUSY_SNAPSHOT, which
// no busy timeout waits out.
func TestWriteBeginsImmediate(t *testing.T) {
	var cfg immediateChild
	if testproc.IsChild(t, &cfg) {
		runImmediateChild(t, cfg)
		return
	}
	switch p := ncruces.Platform(); {
	case runtime.GOOS == "wasip1" || runtime.GOOS == "js":
		t.Skipf("no child processes on %s", runtime.GOOS)
	case !p.FileLocking || p.LockingExclusive:
		t.Skipf("no other process can use the database beside its owner here (%s/%s: %q)", p.GOOS, p.GOARCH, p.Notes)
	}
	dir := testdir.New(t)
	ctx := testdir.Context(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	if err := ws.Write(ctx, insertNote("first")); err != nil {
		t.Fatal(err)
	}
	other := testproc.Start(t, "other", immediateChild{DB: ws.Path()})
	other.WaitFor(ctx, "ready")

	read, proceed := make(chan int, 1), make(chan struct{})
	result := make(chan error, 1)
	go func() {
		result <- ws.Write(ctx, func(q workspace.Querier) error {
			var n int
			if err := q.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
				return err
			}
			read <- n
			<-proceed
			// Upgrades the read to a write under DEFERRED.
			_, err := q.ExecContext(ctx, "INSERT INTO notes(body) VALUES (?)", fmt.Sprint("after reading ", n))
			return err
		})
	}()
	var n int
	select {
	case n = <-read:
	case err := <-result:
		t.Fatalf("the Write ended before its read: %v", err)
	}
	other.Send("write")
	outcome := other.WaitForPrefix(ctx, "wrote", "busy")
	close(proceed)
	if err := <-result; err != nil {
		t.Errorf("Write that read, then wrote beside another process: %v", err)
	}
	if outcome != "busy" {
		t.Errorf("the other process, writing while the batch was open: %q, want busy (the batch holds the write lock from its start)", outcome)
	}

	// Beside the other process's open read transaction, concurrent Writes
	// all commit.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range cap(errs) {
		wg.Go(func() { errs <- ws.Write(ctx, insertNote(fmt.Sprint("beside ", i))) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Write beside another process's read transaction: %v", err)
		}
	}
	other.Send("read")
	if got, want := other.WaitForPrefix(ctx, "count "), fmt.Sprint("count ", n); got != want {
		t.Errorf("the other process's read transaction: %q, want %q (its snapshot)", got, want)
	}
	other.Finish(ctx)
	if got := count(t, ws, "SELECT count(*) FROM notes WHERE body LIKE 'beside %' OR body = ?", fmt.Sprint("after reading ", n)); got != cap(errs)+1 {
		t.Errorf("acknowledged rows: got %d, want %d", got, cap(errs)+1)
	}
}

// immediateChild is the configuration of TestWriteBeginsImmediate's child:
// the database file.
type immediateChild struct{ DB string }

// runImmediateChild opens the database with plain pools of its own, not a
// workspace, holds a read transaction, and says "ready". Then, for each
// command: "write" tries to insert a row in a transaction of its own,
// without waiting for locks, and says "wrote" or "busy"; "read" counts the
// rows in its read transaction and says "count N".
func runImmediateChild(t *testing.T, cfg immediateChild) {
	p := testproc.NewParent()
	ctx := context.Background()
	open := func() *sql.DB {
		db, err := ncruces.Open(ctx, ncruces.Config{
			Path:     cfg.DB,
			NoCreate: true,
			// No waiting: a busy database answers at once.
			Pragmas: []ncruces.Pragma{{Name: "busy_timeout", Value: "0"}},
		})
		if err != nil {
			p.Fail(t, "open: %v", err)
		}
		return db
	}
	rdb, wdb := open(), open()
	defer rdb.Close()
	defer wdb.Close()
	reader, err := rdb.Conn(ctx)
	if err != nil {
		p.Fail(t, "%v", err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(ctx, "BEGIN"); err != nil {
		p.Fail(t, "begin: %v", err)
	}
	readCount := func() int {
		var n int
		if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil {
			p.Fail(t, "read: %v", err)
		}
		return n
	}
	readCount() // the read transaction starts here
	p.Say("ready")
	for {
		cmd, ok := p.Next()
		if !ok {
			return
		}
		switch cmd {
		case "write":
			_, err := wdb.ExecContext(ctx, "BEGIN IMMEDIATE; INSERT INTO notes(body) VALUES ('other'); COMMIT")
			switch {
			case err == nil:
				p.Say("wrote")
			case errors.Is(err, ncruces.ErrBusy):
				wdb.ExecContext(ctx, "ROLLBACK")
				p.Say("busy")
			default:
				p.Fail(t, "write: %v", err)
			}
		case "read":
			p.Say("count %d", readCount())
		default:
			p.Fail(t, "unknown command %q", strings.TrimSpace(cmd))
		}
	}
}
