package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// Litestream (https://litestream.io) replicates a SQLite database by
// reading its WAL from another process. TestLitestream runs the real CLI
// beside a writer process and restores what it copied.

// The Litestream release the test runs, from the Go module proxy.
const (
	litestreamPackage = "github.com/benbjohnson/litestream/cmd/litestream"
	litestreamVersion = "v0.5.18"
)

// Environment of the Litestream test.
const (
	// envLitestream is the directory that holds the installed CLI, in a
	// subdirectory named after the version. Default:
	// os.UserCacheDir()/litedir/litestream.
	envLitestream = "LITEDIR_LITESTREAM"
	// envLitestreamRequired, set to 1, turns a skip into a failure: for CI,
	// which installs the CLI first (.ci/litestream).
	envLitestreamRequired = "LITEDIR_LITESTREAM_REQUIRED"
)

// litestreamInstallTime is how long a cold "go install" of the CLI takes on
// a 2-core machine, with margin: the test installs it only with this much
// time left before its deadline.
const litestreamInstallTime = 10 * time.Minute

// skipLitestream skips the test with reason, or fails it when
// LITEDIR_LITESTREAM_REQUIRED is set.
func skipLitestream(t *testing.T, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if v, _ := strconv.ParseBool(os.Getenv(envLitestreamRequired)); v {
		t.Fatalf("Litestream required (%s=1), but: %s", envLitestreamRequired, reason)
	}
	t.Skip("SKIPPED: " + reason)
}

// litestreamBin returns the Litestream CLI, installing it into the cache
// directory with "go install" when it is not there yet. It skips the test
// when the CLI cannot be had: no go command, no network, too little time.
func litestreamBin(t *testing.T) string {
	t.Helper()
	base := os.Getenv(envLitestream)
	if base == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			skipLitestream(t, "no cache directory for the Litestream CLI (%v); set %s", err, envLitestream)
		}
		base = filepath.Join(cache, "litedir", "litestream")
	}
	dir := filepath.Join(base, litestreamVersion)
	bin := filepath.Join(dir, "litestream")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		if got := strings.TrimSpace(string(out)); got != litestreamVersion {
			t.Fatalf("%s version: got %q, want %q", bin, got, litestreamVersion)
		}
		return bin
	}

	if testing.Short() {
		skipLitestream(t, "Litestream %s is not installed in %s and -short does not install it (about 6 minutes): run .ci/litestream", litestreamVersion, dir)
	}
	if d, ok := t.Deadline(); ok && time.Until(d) < litestreamInstallTime {
		skipLitestream(t, "Litestream %s is not installed in %s, and installing it takes minutes; the test has %v left: run .ci/litestream, or go test -timeout 20m",
			litestreamVersion, dir, time.Until(d).Round(time.Second))
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		skipLitestream(t, "Litestream %s is not installed in %s and there is no go command to install it: %v", litestreamVersion, dir, err)
	}
	t.Logf("installing Litestream %s into %s (minutes, once)", litestreamVersion, dir)
	cmd := exec.Command(goBin, "install", litestreamPackage+"@"+litestreamVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		skipLitestream(t, "go install %s@%s: %v\n%s", litestreamPackage, litestreamVersion, err, out)
	}
	return bin
}

// needLitestream skips the test where Litestream cannot run beside a
// writer, and returns the CLI (see litestreamBin).
func needLitestream(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		skipLitestream(t, "the Litestream test runs on Linux and macOS, not %s", runtime.GOOS)
	}
	if p := ncruces.Platform(); p.LockingExclusive || p.NoLock {
		skipLitestream(t, "Litestream reads the WAL beside the writer, which needs WAL shared memory and file locks; %s/%s has %q", p.GOOS, p.GOARCH, p.Notes)
	}
	return litestreamBin(t)
}

// litestream is a running "litestream replicate".
type litestream struct {
	t      *testing.T
	bin    string
	config string
	socket string
	cmd    *exec.Cmd
	out    testproc.Buffer
	exited chan struct{}
	err    error // set before exited is closed
}

// startLitestream writes a configuration that replicates db to the file
// replica in replicaDir and starts "litestream replicate" with it. Litestream
// runs with its defaults but for the control socket that "litestream sync"
// needs. It is killed, if still running, when the test ends.
func startLitestream(t *testing.T, bin, db, replicaDir string) *litestream {
	t.Helper()
	dir := t.TempDir()
	// Unix socket paths are short (108 bytes on Linux).
	sock, err := os.CreateTemp("", "litedir-ls-*.sock")
	if err != nil {
		t.Fatal(err)
	}
	sock.Close()
	os.Remove(sock.Name())
	t.Cleanup(func() { os.Remove(sock.Name()) })

	config := filepath.Join(dir, "litestream.yml")
	yml := fmt.Sprintf("socket:\n  enabled: true\n  path: %s\ndbs:\n  - path: %s\n    replica:\n      type: file\n      path: %s\n",
		sock.Name(), db, replicaDir)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &litestream{t: t, bin: bin, config: config, socket: sock.Name(), exited: make(chan struct{})}
	l.cmd = exec.Command(bin, "replicate", "-config", config)
	l.cmd.Stdout = &l.out
	l.cmd.Stderr = &l.out
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("start litestream: %v", err)
	}
	go func() {
		l.err = l.cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-l.exited:
		default:
			l.cmd.Process.Kill()
			<-l.exited
		}
	})
	return l
}

// sync runs "litestream sync -wait" for db: once it returns, everything
// committed before it started is in the replica. It first waits for the
// daemon's control socket.
func (l *litestream) sync(ctx context.Context, db string) {
	l.t.Helper()
	if busy, err := l.trySync(ctx, db); err != nil {
		l.t.Fatalf("litestream sync (busy %v): %v\nlitestream:\n%s", busy, err, l.out.String())
	}
}

// trySync is sync that returns its error; busy reports that Litestream
// found the database busy (SQLITE_BUSY), the one failure worth trying again.
func (l *litestream) trySync(ctx context.Context, db string) (busy bool, err error) {
	waitFile(ctx, l.t, l.socket)
	out, err := exec.CommandContext(ctx, l.bin, "sync", "-socket", l.socket, "-wait", "-timeout", "60", db).CombinedOutput()
	if err == nil {
		return false, nil
	}
	// Another process's output: its text is all there is to go by.
	busy = bytes.Contains(out, []byte("SQLITE_BUSY")) || bytes.Contains(out, []byte("database is locked"))
	return busy, fmt.Errorf("%w\n%s", err, out)
}

// stop ends Litestream with SIGTERM, as a service manager does, and waits
// for it: it syncs what it has not copied yet before it exits.
func (l *litestream) stop(ctx context.Context) {
	l.t.Helper()
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		l.t.Fatalf("interrupt litestream: %v", err)
	}
	select {
	case <-l.exited:
	case <-ctx.Done():
		l.t.Fatalf("litestream did not stop: %v\n%s", context.Cause(ctx), l.out.String())
	}
	if l.err != nil {
		l.t.Errorf("litestream: %v\n%s", l.err, l.out.String())
	}
}

// kill ends Litestream with SIGKILL.
func (l *litestream) kill() {
	l.t.Helper()
	if err := l.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		l.t.Fatalf("kill litestream: %v", err)
	}
	<-l.exited
}

// waitFile waits until path exists, checking every 20 ms, or fails the test
// when ctx ends.
func waitFile(ctx context.Context, t *testing.T, path string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never appeared: %v", path, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// lsAcks collects a writer child's acknowledgements, with the time each
// arrived, from a goroutine of its own, so that the test can run commands
// meanwhile.
type lsAcks struct {
	mu    sync.Mutex
	order []string             // bodies, in the order they arrived
	at    map[string]time.Time // when
	bad   []string             // error lines
	more  chan struct{}        // signalled on every ack; capacity 1
	done  chan struct{}        // closed when the child's stdout ends
}

// collectLsAcks reads c's lines until its stdout ends.
func collectLsAcks(c *testproc.Child) *lsAcks {
	a := &lsAcks{at: map[string]time.Time{}, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for line := range c.Lines() {
			now := time.Now()
			a.mu.Lock()
			if body, ok := strings.CutPrefix(line, "ack "); ok {
				a.order = append(a.order, body)
				a.at[body] = now
			} else if strings.HasPrefix(line, testproc.ErrorPrefix) {
				a.bad = append(a.bad, line)
			}
			a.mu.Unlock()
			select {
			case a.more <- struct{}{}:
			default:
			}
		}
	}()
	return a
}

// count returns the number of acks so far.
func (a *lsAcks) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.order)
}

// waitCount waits until there are at least n acks.
func (a *lsAcks) waitCount(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for a.count() < n {
		select {
		case <-a.more:
		case <-a.done:
			if a.count() < n {
				t.Fatalf("writer ended after %d acks, want %d; it said %q", a.count(), n, a.bad)
			}
		case <-ctx.Done():
			t.Fatalf("%d acks, want %d: %v", a.count(), n, context.Cause(ctx))
		}
	}
}

// prefix returns a copy of the first n acked bodies.
func (a *lsAcks) prefix(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.order[:n]...)
}

// TestLitestream replicates a workspace with the real Litestream CLI while
// a writer process adds messages from 4 goroutines, then ends the run three
// ways: a clean stop of both, kill -9 of the writer (Litestream then stops
// cleanly), and kill -9 of both at once. Each time "litestream restore"
// rebuilds the database from the file replica, which must pass the
// integrity check, hold each writer goroutine's messages as a gapless
// prefix, and hold every message acknowledged before Litestream's last
// completed sync ("litestream sync -wait", run while the writer writes).
// After a clean stop of Litestream, everything acknowledged must be there.
// It logs the lag: what a kill of both lost, as writes and as time.
//
// The writer opens the workspace with wal_autocheckpoint=0, which
// Litestream asks of applications: Litestream checkpoints itself.
func TestLitestream(t *testing.T) {
	var cfg writerConfig
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	bin := needLitestream(t)

	for _, end := range []string{"stop", "kill-writer", "kill-both"} {
		t.Run(end, func(t *testing.T) {
			ctx := testdir.Context(t)
			dir := t.TempDir()
			replica := filepath.Join(t.TempDir(), "replica")
			db := dbPath(dir)

			w := testproc.Start(t, "writer", writerConfig{
				Dir:     dir,
				Pragmas: []ncruces.Pragma{{Name: "wal_autocheckpoint", Value: "0"}},
				Writers: 4,
			})
			w.WaitFor(ctx, readyLine)
			acks := collectLsAcks(w)
			ls := startLitestream(t, bin, db, replica)

			// Let the writer run beside Litestream, then force a sync:
			// everything acknowledged before it started must survive
			// whatever comes next.
			acks.waitCount(ctx, t, 500)
			// Litestream's first sync sets it up, in a write transaction
			// of its own (its _litestream_seq table), which races the
			// writer for SQLite's write lock: the lock is not fair, and a
			// busy writer can outlast Litestream's 1 s busy timeout. A
			// sync that failed completed nothing, so the writes that
			// count are those acknowledged before the one that completed.
			var syncedN int
			var syncTook time.Duration
			for {
				syncedN = acks.count()
				syncStart := time.Now()
				busy, err := ls.trySync(ctx, db)
				syncTook = time.Since(syncStart)
				if err == nil {
					break
				}
				if !busy {
					t.Fatalf("litestream sync: %v\nlitestream:\n%s", err, ls.out.String())
				}
				t.Logf("litestream sync found the database busy after %v; syncing again", syncTook.Round(time.Millisecond))
			}
			// Then a little longer; before the kill of both, long enough
			// (seconds) for Litestream's own syncs to set the lag.
			more := 500
			if end == "kill-both" {
				more = 5000
			}
			acks.waitCount(ctx, t, syncedN+more)

			var cut time.Time
			wantAll := false // every ack, not only those before the sync
			// The collector reads the writer's stdout to its end; then
			// the writer is reaped.
			writerExit := func() error {
				t.Helper()
				select {
				case <-acks.done:
				case <-ctx.Done():
					t.Fatalf("writer did not end: %v\n%s", context.Cause(ctx), w.Output())
				}
				return w.Wait(ctx)
			}
			switch end {
			case "stop":
				w.CloseStdin() // the writer stops writing and closes
				closeStart := time.Now()
				if err := writerExit(); err != nil {
					t.Fatalf("writer: %v\n%s", err, w.Output())
				}
				t.Logf("writer closed in %v beside Litestream", time.Since(closeStart).Round(time.Millisecond))
				ls.sync(ctx, db)
				ls.stop(ctx)
				wantAll = true
			case "kill-writer":
				cut = time.Now()
				w.Kill()
				writerExit()
				// What the writer committed is in its WAL, which
				// Litestream goes on copying.
				ls.sync(ctx, db)
				ls.stop(ctx)
				wantAll = true
			case "kill-both":
				cut = time.Now()
				w.Kill()
				ls.kill()
				writerExit()
			}
			if len(acks.bad) > 0 {
				t.Fatalf("writer said %q", acks.bad)
			}
			all := acks.prefix(acks.count())
			synced := all[:syncedN]

			// Restore and open the result. After the kill of both, in
			// place, the way README's recipe does it: under the
			// workspace's lock, over the database and its -wal and -shm
			// (-force), so that no program opens the workspace halfway.
			// Otherwise into a directory of its own.
			restored := t.TempDir()
			if end == "kill-both" {
				restored = dir
				r := litedir(t, ctx, "lock", dir, "--", bin, "restore", "-force", "-o", db, "file://"+replica)
				if r.code != 0 {
					t.Fatalf("restore under the lock: %v", r)
				}
			} else {
				out, err := exec.CommandContext(ctx, bin, "restore", "-o", dbPath(restored), "file://"+replica).CombinedOutput()
				if err != nil {
					t.Fatalf("litestream restore: %v\n%s", err, out)
				}
			}
			ws := mustOpen(t, ctx, restored, &workspace.Options{Migrations: migrations.Builtin})
			mustCheck(t, ctx, ws)
			mustConsistentCounts(t, ctx, ws)
			stored := bodies(t, ctx, ws)

			// Each goroutine's messages commit in order: the restored ones
			// must be 0..n-1, no gaps.
			last := map[string]int{}
			for body, copies := range stored {
				if copies != 1 {
					t.Errorf("%s: got %d copies, want 1", body, copies)
				}
				g, n, ok := splitBody(body)
				if !ok {
					t.Errorf("unexpected message %q", body)
					continue
				}
				last[g] = max(last[g], n+1)
			}
			for g, n := range last {
				for i := range n {
					if body := fmt.Sprintf("%s-%07d", g, i); stored[body] == 0 {
						t.Errorf("%s: missing, but %s-%07d is there: not a prefix", body, g, n-1)
						break
					}
				}
			}

			lostSynced, lostAll := 0, 0
			var firstLost time.Time
			for _, body := range all {
				if stored[body] > 0 {
					continue
				}
				lostAll++
				if at := acks.at[body]; firstLost.IsZero() || at.Before(firstLost) {
					firstLost = at
				}
			}
			for _, body := range synced {
				if stored[body] == 0 {
					if lostSynced < 5 {
						t.Errorf("%s: acknowledged before Litestream's last completed sync, but not restored", body)
					}
					lostSynced++
				}
			}
			if wantAll && lostAll > 0 {
				t.Errorf("%d of %d acknowledged messages not restored after Litestream stopped cleanly", lostAll, len(all))
			}
			lag := time.Duration(0)
			if lostAll > 0 && !cut.IsZero() {
				lag = cut.Sub(firstLost)
			}
			rate := 0.0
			if first, last := acks.at[all[0]], acks.at[all[len(all)-1]]; last.After(first) {
				rate = float64(len(all)-1) / last.Sub(first).Seconds()
			}
			t.Logf("litestream %s: %d acknowledged (%.0f/s), %d restored, %d of them acknowledged before the forced sync (took %v): %d lost before it, %d lost in all; lag at the cut %v",
				end, len(all), rate, len(stored), len(synced), syncTook.Round(time.Millisecond), lostSynced, lostAll, lag.Round(time.Millisecond))
		})
	}
}

// splitBody splits a writer message body "w03-0000042" into its goroutine
// "w03" and number 42.
func splitBody(body string) (g string, n int, ok bool) {
	g, num, ok := strings.Cut(body, "-")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.Atoi(num)
	return g, n, err == nil
}
