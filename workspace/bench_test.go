package workspace_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// The benchmarks write what an agent's sub-agents write: a message with a
// ~200-byte body and an update of its session's counters, in one transaction.
const (
	benchSessions = 64
	insertMessage = "INSERT INTO messages(session_id, role, body) VALUES (?, 'assistant', ?)"
	updateSession = "UPDATE sessions SET message_count = message_count + 1, updated_at = ? WHERE id = ?"
	recentQuery   = "SELECT id, role, body, created_at FROM messages WHERE session_id = ? ORDER BY id DESC LIMIT 20"
)

var benchBody = strings.Repeat("x", 200)

func benchWorkspace(b *testing.B, synchronous string) *workspace.Workspace {
	b.Helper()
	ws, err := workspace.Open(context.Background(), testdir.New(b), &workspace.Options{
		Migrations: migrations.Builtin,
		Pragmas:    []ncruces.Pragma{{Name: "synchronous", Value: synchronous}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ws.Close() })
	for s := 1; s <= benchSessions; s++ {
		if _, err := ws.DB().Exec("INSERT INTO sessions(id) VALUES (?)", s); err != nil {
			b.Fatal(err)
		}
	}
	return ws
}

// agentWrite is one sub-agent write through any Querier.
func agentWrite(ctx context.Context, q workspace.Querier, i int64) error {
	session := i%benchSessions + 1
	if _, err := q.ExecContext(ctx, insertMessage, session, benchBody); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, updateSession, i, session)
	return err
}

// parallel runs write b.N times from goroutines goroutines and reports
// rows/s.
func parallel(b *testing.B, goroutines int, write func(i int64) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range goroutines {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := write(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWrite measures group commit through Workspace.Write.
func BenchmarkWrite(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		for _, goroutines := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("sync=%s/goroutines=%d", sync, goroutines), func(b *testing.B) {
				ws := benchWorkspace(b, sync)
				ctx := context.Background()
				parallel(b, goroutines, func(i int64) error {
					return ws.Write(ctx, func(q workspace.Querier) error { return agentWrite(ctx, q, i) })
				})
				b.ReportMetric(ws.WriteStats().MeanBatch(), "rows/batch")
			})
		}
	}
}

// insertReturning is the sqlc ":one" shape of insertMessage.
const insertReturning = "INSERT INTO messages(session_id, role, body) VALUES (?, 'assistant', ?) RETURNING id, session_id, role, body, created_at"

// returningWrite is one sub-agent write as sqlc-generated code makes it.
func returningWrite(ctx context.Context, q workspace.Querier, i int64) error {
	session := i%benchSessions + 1
	var (
		id, sid, created int64
		role, body       string
	)
	return q.QueryRowContext(ctx, insertReturning, session, benchBody).Scan(&id, &sid, &role, &body, &created)
}

// BenchmarkFront measures the front, Workspace.SQL, with statements outside
// a transaction: a plain INSERT through ExecContext and an INSERT …
// RETURNING through QueryRowContext, each joining a batch.
func BenchmarkFront(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		for _, shape := range []string{"exec", "returning"} {
			b.Run(fmt.Sprintf("sync=%s/%s", sync, shape), func(b *testing.B) {
				ws := benchWorkspace(b, sync)
				ctx, db := context.Background(), ws.SQL()
				parallel(b, 16, func(i int64) error {
					if shape == "exec" {
						_, err := db.ExecContext(ctx, insertMessage, i%benchSessions+1, benchBody)
						return err
					}
					var (
						id, sid, created int64
						role, body       string
					)
					return db.QueryRowContext(ctx, insertReturning, i%benchSessions+1, benchBody).Scan(&id, &sid, &role, &body, &created)
				})
				b.ReportMetric(ws.WriteStats().MeanBatch(), "rows/batch")
			})
		}
	}
}

// BenchmarkFrontRead measures a read by key through the front, which runs
// it on the read pool, against the same read on ReadDB with a statement
// prepared once (the floor) and without (a prepare per call).
func BenchmarkFrontRead(b *testing.B) {
	ws := benchWorkspace(b, "NORMAL")
	ctx := context.Background()
	for i := range int64(1000) {
		if err := agentWrite(ctx, ws.DB(), i); err != nil {
			b.Fatal(err)
		}
	}
	const byID = "SELECT id, session_id, role, body FROM messages WHERE id = ?"
	stmt, err := ws.ReadDB().PrepareContext(ctx, byID)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	for _, bc := range []struct {
		name string
		row  func(id int64) *sql.Row
	}{
		{"front", func(id int64) *sql.Row { return ws.SQL().QueryRowContext(ctx, byID, id) }},
		{"readdb-prepared", func(id int64) *sql.Row { return stmt.QueryRowContext(ctx, id) }},
		{"readdb-unprepared", func(id int64) *sql.Row { return ws.ReadDB().QueryRowContext(ctx, byID, id) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var (
				id, sid    int64
				role, body string
			)
			for i := int64(0); b.Loop(); i++ {
				if err := bc.row(i%1000+1).Scan(&id, &sid, &role, &body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteReturning measures Write with sqlc's RETURNING shape.
func BenchmarkWriteReturning(b *testing.B) {
	ws := benchWorkspace(b, "NORMAL")
	ctx := context.Background()
	parallel(b, 16, func(i int64) error {
		return ws.Write(ctx, func(q workspace.Querier) error { return returningWrite(ctx, q, i) })
	})
	b.ReportMetric(ws.WriteStats().MeanBatch(), "rows/batch")
}

// BenchmarkBaseline measures what production agents ship today: one pooled
// connection, one BEGIN IMMEDIATE transaction per write.
func BenchmarkBaseline(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		for _, goroutines := range []int{1, 16} {
			b.Run(fmt.Sprintf("sync=%s/goroutines=%d", sync, goroutines), func(b *testing.B) {
				db := baselineDB(b, sync)
				ctx := context.Background()
				parallel(b, goroutines, func(i int64) error {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					if err := agentWrite(ctx, tx, i); err != nil {
						tx.Rollback()
						return err
					}
					return tx.Commit()
				})
			})
		}
	}
}

func baselineDB(b *testing.B, synchronous string) *sql.DB {
	b.Helper()
	pragmas, err := ncruces.MergePragmas(ncruces.DefaultPragmas(), ncruces.Pragma{Name: "synchronous", Value: synchronous})
	if err != nil {
		b.Fatal(err)
	}
	db, err := ncruces.Open(context.Background(), ncruces.Config{
		Path:      filepath.Join(testdir.New(b), "baseline.db"),
		Immediate: true,
		MaxConns:  1,
		Pragmas:   pragmas,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	m, err := migrations.New(db, migrations.Builtin, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		b.Fatal(err)
	}
	for s := 1; s <= benchSessions; s++ {
		if _, err := db.Exec("INSERT INTO sessions(id) VALUES (?)", s); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkReadUnderWrite measures reads through ReadDB while 4 goroutines
// write through Write, and reports both rates.
func BenchmarkReadUnderWrite(b *testing.B) {
	ws := benchWorkspace(b, "NORMAL")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Some rows to read.
	for i := range int64(1000) {
		if err := ws.Write(ctx, func(q workspace.Querier) error { return agentWrite(ctx, q, i) }); err != nil {
			b.Fatal(err)
		}
	}
	var writes atomic.Int64
	var wg sync.WaitGroup
	// A Write that fails while the benchmark runs fails it: only the
	// cancellation at its end may stop a writer.
	writeErrs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := int64(w); ctx.Err() == nil; i += 4 {
				err := ws.Write(ctx, func(q workspace.Querier) error { return agentWrite(ctx, q, i) })
				if err != nil {
					if ctx.Err() == nil {
						writeErrs <- fmt.Errorf("writer %d: Write: %w", w, err)
					}
					return
				}
				writes.Add(1)
			}
		})
	}
	written := writes.Load()
	parallel(b, 4, func(i int64) error {
		rows, err := ws.ReadDB().QueryContext(ctx, recentQuery, i%benchSessions+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, created int64
			var role, body string
			if err := rows.Scan(&id, &role, &body, &created); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	cancel()
	wg.Wait()
	close(writeErrs)
	for err := range writeErrs {
		b.Error(err)
	}
	b.ReportMetric(float64(writes.Load()-written)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkOneStatement measures a write of one statement, the one-row
// INSERT of a message, four ways: through Write and through the front, as
// ExecContext and as sqlc's QueryRowContext with RETURNING. Write and the
// front should cost the same for it, and RETURNING about what Exec does.
func BenchmarkOneStatement(b *testing.B) {
	for _, sync := range []string{"NORMAL", "FULL"} {
		for _, way := range []string{"write-exec", "front-exec", "write-returning", "front-returning"} {
			b.Run(fmt.Sprintf("sync=%s/%s", sync, way), func(b *testing.B) {
				ws := benchWorkspace(b, sync)
				ctx, front := context.Background(), ws.SQL()
				one := func(q workspace.Querier, i int64) error {
					if strings.HasSuffix(way, "exec") {
						_, err := q.ExecContext(ctx, insertMessage, i%benchSessions+1, benchBody)
						return err
					}
					return returningWrite(ctx, q, i)
				}
				parallel(b, 16, func(i int64) error {
					if strings.HasPrefix(way, "front") {
						return one(front, i)
					}
					return ws.Write(ctx, func(q workspace.Querier) error { return one(q, i) })
				})
				b.ReportMetric(ws.WriteStats().MeanBatch(), "rows/batch")
			})
		}
	}
}
