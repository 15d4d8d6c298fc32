package e2e_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// TestConcurrentWriters runs 32 goroutines writing through one workspace for
// 10 seconds (1 second with -short) — the load, not a time limit; nothing
// here is timed — and checks that every successful Write left its row, that
// each message was counted in its session in the same commit, that each
// goroutine reads its own writes through the read pool, and that the
// database is sound.
func TestConcurrentWriters(t *testing.T) {
	const writers = 32
	load := 10 * time.Second
	if testing.Short() {
		load = time.Second
	}
	// Every readBack writes, a goroutine reads its session's messages
	// through the read pool: a Write that returned has committed, so the
	// count must include it.
	const readBack = 100

	ctx := testdir.Context(t)
	ws := mustOpen(t, ctx, t.TempDir(), &workspace.Options{Migrations: migrations.Builtin})

	sessions := make([]int64, writers)
	for g := range sessions {
		id, err := newSession(ctx, ws, fmt.Sprintf("writer %d", g))
		if err != nil {
			t.Fatalf("new session: %v", err)
		}
		sessions[g] = id
	}

	written := make([]int, writers) // successful writes, by goroutine
	stop := make(chan struct{})
	timer := time.AfterFunc(load, func() { close(stop) })
	defer timer.Stop()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := addMessage(ctx, ws, sessions[g], fmt.Sprintf("w%02d-%07d", g, n)); err != nil {
					t.Errorf("writer %d, message %d: %v", g, n, err)
					return
				}
				written[g]++
				if written[g]%readBack != 0 {
					continue
				}
				var got int
				err := ws.ReadDB().QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE session_id = ?`, sessions[g]).Scan(&got)
				if err != nil {
					t.Errorf("writer %d: read back: %v", g, err)
					return
				}
				if got != written[g] {
					t.Errorf("writer %d: read back: got %d messages, want %d", g, got, written[g])
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	mustCheck(t, ctx, ws)
	mustConsistentCounts(t, ctx, ws)
	total := 0
	for g, id := range sessions {
		total += written[g]
		if got := count(t, ctx, ws, `SELECT count(*) FROM messages WHERE session_id = ?`, id); got != written[g] {
			t.Errorf("writer %d: got %d messages, want %d", g, got, written[g])
		}
	}
	if got := count(t, ctx, ws, `SELECT count(DISTINCT body) FROM messages`); got != total {
		t.Errorf("distinct messages: got %d, want %d", got, total)
	}
	stats := ws.WriteStats()
	if stats.Failed != 0 {
		t.Errorf("WriteStats.Failed: got %d, want 0", stats.Failed)
	}
	t.Logf("%d writes in %d batches (largest %d)", stats.Writes, stats.Batches, stats.MaxBatch)
}
