package workspace_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// panicValuer is a driver.Valuer whose Value panics.
type panicValuer struct{}

func (panicValuer) Value() (driver.Value, error) { panic("valuer boom") }

// recovered runs f and returns what it panicked with.
func recovered(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// syncLevels are the synchronous levels the panic tests run at: NORMAL
// commits in the committer, FULL hands batches to the syncer.
var syncLevels = []string{"NORMAL", "FULL"}

func openAt(t *testing.T, level string) (*workspace.Workspace, string) {
	t.Helper()
	dir := testdir.New(t)
	ws, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{
		Migrations: schema(1),
		Pragmas:    []ncruces.Pragma{{Name: "synchronous", Value: level}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws, dir
}

// mustCloseReleases closes ws and checks that the directory lock is free.
func mustCloseReleases(t *testing.T, ws *workspace.Workspace, dir string) {
	t.Helper()
	if err := ws.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l, err := acquireLock(testdir.Context(t), dir, lock.Options{})
	if err != nil {
		t.Fatalf("the lock is still held after Close: %v", err)
	}
	l.Release()
}

// TestWritePanicInStatement: a panic inside a statement a Write function
// runs — a driver.Valuer, on a statement that is cached or not — is
// re-raised in the Write's caller, the function's work is rolled back, the
// other functions of its batch commit, and the workspace goes on: later
// Writes work and Close returns and releases the lock.
func TestWritePanicInStatement(t *testing.T) {
	for _, level := range syncLevels {
		for _, cached := range []bool{false, true} {
			for _, how := range []string{"Exec", "QueryRow", "Query", "Prepare"} {
				t.Run(fmt.Sprintf("%s/cached=%v/%s", level, cached, how), func(t *testing.T) {
					ws, dir := openAt(t, level)
					query := "INSERT INTO notes(body) VALUES (?) RETURNING id"
					if how == "Exec" || how == "Prepare" {
						query = "INSERT INTO notes(body) VALUES (?)"
					}
					if cached {
						// Run the text once so that the writer has it prepared.
						if err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
							_, err := q.ExecContext(context.Background(), query, "warm")
							return err
						}); err != nil {
							t.Fatal(err)
						}
					} else {
						query += " -- " + t.Name()
					}
					queued := queueHook(t)
					release, first := occupy(t, ws, queued)
					// A second function in the same batch as the panicking one.
					other := make(chan error, 1)
					go func() { other <- ws.Write(testdir.Context(t), insertNote("other")) }()
					wait(t, queued, "the other Write to queue")

					p := make(chan any, 1)
					go func() {
						p <- recovered(func() {
							ws.Write(testdir.Context(t), func(q workspace.Querier) error {
								if _, err := q.ExecContext(context.Background(), "INSERT INTO notes(body) VALUES ('lost')"); err != nil {
									return err
								}
								ctx := context.Background()
								var err error
								switch how {
								case "Exec":
									_, err = q.ExecContext(ctx, query, panicValuer{})
								case "QueryRow":
									var id int64
									err = q.QueryRowContext(ctx, query, panicValuer{}).Scan(&id)
								case "Query":
									rows, qerr := q.QueryContext(ctx, query, panicValuer{})
									if qerr == nil {
										rows.Close()
									}
									err = qerr
								case "Prepare":
									st, perr := q.PrepareContext(ctx, query)
									if perr != nil {
										return perr
									}
									_, err = st.ExecContext(ctx, panicValuer{})
								}
								return fmt.Errorf("the statement returned %v instead of panicking", err)
							})
						})
					}()
					wait(t, queued, "the panicking Write to queue")
					release()
					if got := <-p; got != "valuer boom" {
						t.Errorf("Write panicked with %v, want %q", got, "valuer boom")
					}
					if err := <-first; err != nil {
						t.Error(err)
					}
					if err := <-other; err != nil {
						t.Errorf("the other Write of the batch: %v", err)
					}
					if n := notes(t, ws, "other"); n != 1 {
						t.Errorf("the other Write's row: %d, want 1", n)
					}
					if n := notes(t, ws, "lost"); n != 0 {
						t.Errorf("the panicking function's work: %d rows, want 0 (rolled back)", n)
					}
					// The committer goes on, with the same statement too.
					if err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
						_, err := q.ExecContext(context.Background(), "INSERT INTO notes(body) VALUES (?)", "after")
						return err
					}); err != nil {
						t.Fatal(err)
					}
					mustCloseReleases(t, ws, dir)
				})
			}
		}
	}
}

// TestFrontPanicInStatement: through the front, a panicking Valuer becomes
// an error matching ErrPanicked; the workspace goes on and closes.
func TestFrontPanicInStatement(t *testing.T) {
	for _, level := range syncLevels {
		t.Run(level, func(t *testing.T) {
			ws, dir := openAt(t, level)
			db := ws.SQL()
			ctx := testdir.Context(t)
			for i := range 2 { // uncached, then cached
				_, err := db.ExecContext(ctx, "INSERT INTO notes(body) VALUES (?)", panicValuer{})
				var pe *workspace.PanicError
				if !errors.Is(err, workspace.ErrPanicked) || !errors.As(err, &pe) || pe.Value != "valuer boom" {
					t.Fatalf("run %d: Exec = %v, want a *PanicError of %q", i, err, "valuer boom")
				}
				st, err := db.PrepareContext(ctx, "INSERT INTO notes(body) VALUES (?)")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.ExecContext(ctx, panicValuer{}); !errors.Is(err, workspace.ErrPanicked) {
					t.Fatalf("run %d: Stmt.Exec = %v, want ErrPanicked", i, err)
				}
				st.Close()
				if _, err := db.ExecContext(ctx, "INSERT INTO notes(body) VALUES (?)", "ok"); err != nil {
					t.Fatal(err)
				}
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO notes(body) VALUES (?)", panicValuer{}); !errors.Is(err, workspace.ErrPanicked) {
				t.Fatalf("Tx.Exec = %v, want ErrPanicked", err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatalf("Rollback after a panic: %v", err)
			}
			if n := notes(t, ws, "ok"); n != 2 {
				t.Errorf("rows = %d, want 2", n)
			}
			mustCloseReleases(t, ws, dir)
		})
	}
}

// TestWriteValueTooBig: a value too large for the engine's memory is an
// error matching ncruces.ErrNoMem, in Write and through the front, and the
// workspace goes on.
func TestWriteValueTooBig(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a value larger than the engine's memory")
	}
	if e := ncruces.EngineInfo(); e.Name != ncruces.EngineWazero {
		// The 256 MiB limit below is the wazero engine's (v0.32).
		t.Skipf("the %s engine's memory limit is not the one this test fills", e.Name)
	}
	ws, dir := openAt(t, "NORMAL")
	big := make([]byte, 300<<20) // more than the engine's 256 MiB memory limit
	err := ws.Write(testdir.Context(t), func(q workspace.Querier) error {
		_, err := q.ExecContext(context.Background(), "INSERT INTO notes(body) VALUES (?)", big)
		return err
	})
	if !errors.Is(err, ncruces.ErrNoMem) {
		t.Fatalf("Write of %d bytes = %v, want ErrNoMem", len(big), err)
	}
	if _, err := ws.SQL().ExecContext(testdir.Context(t), "INSERT INTO notes(body) VALUES (?)", big); !errors.Is(err, ncruces.ErrNoMem) {
		t.Fatalf("front Exec of %d bytes = %v, want ErrNoMem", len(big), err)
	}
	big = nil
	if err := ws.Write(testdir.Context(t), insertNote("after")); err != nil {
		t.Fatal(err)
	}
	if n := notes(t, ws, "after"); n != 1 {
		t.Errorf("rows = %d, want 1", n)
	}
	mustCloseReleases(t, ws, dir)
}
