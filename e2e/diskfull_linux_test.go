//go:build linux

package e2e_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// diskSize is the size of the filesystem TestDiskFull fills: small, so that
// filling it takes a moment, and big enough for the schema and a WAL.
const diskSize = 8 << 20

// TestDiskFull runs a workspace on a small tmpfs and fills the filesystem
// while goroutines write through it. Every Write that fails must fail with
// SQLITE_FULL (ncruces.ErrFull), not a corruption or an I/O error; once the
// filler is deleted and the workspace reopened, the database must pass
// integrity_check, hold every message whose Write returned nil, and hold
// none whose Write failed: a Write that fails on a full disk commits
// nothing.
//
// Mounting needs root (CAP_SYS_ADMIN); elsewhere the test is skipped with a
// line starting "SKIPPED:", and .ci/run, which lists TestDiskFull among the
// tests that must pass, counts the skip.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting a small tmpfs to fill needs root: the full-disk promise is untested here")
	}
	ctx := testdir.Context(t)
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", diskSize)); err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs to fill (%v): in a container without CAP_SYS_ADMIN? The full-disk promise is untested here", err)
	}
	// Registered first, run last: after the workspace is closed.
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	dir := filepath.Join(mnt, "ws")
	filler := filepath.Join(mnt, "filler")

	const (
		writers = 4
		// afterFull bounds the Writes each goroutine tries once the disk
		// is full: the WAL may have room left in it, but not this much.
		afterFull = 2000
	)
	pad := strings.Repeat("x", 2000)

	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		t.Fatal(err)
	}
	session, err := newSession(ctx, ws, "disk full")
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		acked   = make(map[string]bool) // keys of the messages whose Write returned nil
		failed  = make(map[string]bool) // keys of the messages whose Write failed
		full    atomic.Bool             // the filler found no more space
		fullErr atomic.Int64            // Writes that failed with ErrFull
		wg      sync.WaitGroup
	)
	started := make(chan struct{}, writers)
	for g := range writers {
		wg.Go(func() {
			// A writer that ends early must not keep the filler waiting.
			signal := sync.OnceFunc(func() { started <- struct{}{} })
			defer signal()
			afterFullTries := 0
			for n := 0; ; n++ {
				if n == 50 {
					signal()
				}
				if full.Load() {
					if afterFullTries++; afterFullTries > afterFull {
						t.Errorf("writer %d: %d Writes on a full disk, and none failed", g, afterFull)
						return
					}
				}
				key := fmt.Sprintf("w%d-%06d", g, n)
				err := addMessage(ctx, ws, session, key+" "+pad)
				if err == nil {
					mu.Lock()
					acked[key] = true
					mu.Unlock()
					continue
				}
				mu.Lock()
				failed[key] = true
				mu.Unlock()
				if !errors.Is(err, ncruces.ErrFull) {
					t.Errorf("writer %d: got %v, want an error matching ncruces.ErrFull", g, err)
					return
				}
				fullErr.Add(1)
				if full.Load() {
					return // the disk is full, and Write said so
				}
			}
		})
	}
	// Fill the disk once every writer is under way, so that the space runs
	// out in the middle of their writes.
	for range writers {
		<-started
	}
	filled, err := fill(filler)
	full.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	t.Logf("filler took %d bytes; %d messages acknowledged, %d Writes failed with SQLITE_FULL", filled, len(acked), fullErr.Load())
	if fullErr.Load() == 0 && !t.Failed() {
		t.Fatal("no Write failed with SQLITE_FULL")
	}

	// Full, the database is still sound for readers.
	mustCheck(t, ctx, ws)

	// Free the space: the workspace works again, and closes cleanly (its
	// checkpoint needs room).
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := addMessage(ctx, ws, session, "after"); err != nil {
		t.Errorf("Write once space is freed: %v", err)
	}
	if err := ws.Close(); err != nil {
		t.Errorf("Close once space is freed: %v", err)
	}

	ws = mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	mustCheck(t, ctx, ws)
	mustConsistentCounts(t, ctx, ws)
	stored := make(map[string]bool)
	for body := range bodies(t, ctx, ws) {
		key, _, _ := strings.Cut(body, " ")
		stored[key] = true
	}
	missing := 0
	for key := range acked {
		if !stored[key] {
			missing++
			if missing <= 10 {
				t.Errorf("acknowledged message %s: missing", key)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged messages missing", missing, len(acked))
	}
	// A failed Write left nothing: neither its message nor (checked by
	// mustConsistentCounts) a count that includes it.
	if len(failed) == 0 {
		t.Fatal("no failed Write to check")
	}
	leaked := 0
	for key := range failed {
		if stored[key] {
			leaked++
			if leaked <= 10 {
				t.Errorf("message %s: its Write failed, but it is in the database", key)
			}
		}
	}
	if leaked > 0 {
		t.Errorf("%d of %d failed Writes committed their message anyway", leaked, len(failed))
	}
	t.Logf("%d acknowledged messages present, %d failed Writes absent", len(acked), len(failed))
}

// fill writes to path until the filesystem is full, and returns how much it
// wrote. The file is synced so that the space is taken, not promised.
func fill(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
