package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// cryptMarker starts every message body of the encrypted runs: plaintext
// that must never reach a file.
const cryptMarker = "PLAINTEXT-MARKER-"

// newKeyFile writes a random key, as hex, into a new file readable by its
// owner only, and returns the key and the file.
func newKeyFile(t *testing.T) (key []byte, path string) {
	t.Helper()
	key = make([]byte, workspace.KeySize)
	rand.Read(key)
	path = filepath.Join(t.TempDir(), "ws.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, path
}

// scanner reads every file under some directories over and over, from a
// goroutine of its own, and remembers each file in which it ever found a
// marker: it sees the files at many points of a run, temporary ones
// included, as another user of the disk would.
type scanner struct {
	dirs   []string
	marker []byte
	stop   chan struct{}
	done   chan struct{}

	mu    sync.Mutex
	found map[string]bool
	scans int
}

func startScanner(dirs []string, marker string) *scanner {
	s := &scanner{dirs: dirs, marker: []byte(marker), stop: make(chan struct{}), done: make(chan struct{}), found: map[string]bool{}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			s.scan()
			select {
			case <-s.stop:
				s.scan()
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// scan looks at every regular file under the directories once. Files
// vanish and change while it reads them; what it could read is what counts.
func (s *scanner) scan() {
	for _, dir := range s.dirs {
		filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, s.marker) {
				s.mu.Lock()
				s.found[path] = true
				s.mu.Unlock()
			}
			return nil
		})
	}
	s.mu.Lock()
	s.scans++
	s.mu.Unlock()
}

// finish stops the scanner and returns the files in which it found the
// marker, and how many times it looked.
func (s *scanner) finish() (found []string, scans int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for path := range s.found {
		found = append(found, path)
	}
	return found, s.scans
}

// killAcked kills a writer child (SIGKILL) and waits until its
// acknowledgements are read to their end and it is reaped.
func killAcked(ctx context.Context, t *testing.T, w *testproc.Child, acks *lsAcks) {
	t.Helper()
	w.Kill()
	select {
	case <-acks.done:
	case <-ctx.Done():
		t.Fatalf("writer did not end: %v", context.Cause(ctx))
	}
	w.Wait(ctx)
}

// TestEncryptedKill runs 16 writer goroutines in a child process on an
// encrypted workspace, every message starting with a plaintext marker, while
// the CLI takes backups and compacted copies of it under its key, and kills
// the child (SIGKILL) with transactions in its WAL. Meanwhile and after, a
// scanner reads every file of the workspace and the copies' directories,
// their temporary files included: none may ever hold the marker. After the
// kill, a wrong key and none fail, with the error that says so and no byte
// of the database's files changed (plain SQLite would drop the WAL); the
// right key finds every acknowledged message, exactly once, in a database
// that passes integrity_check, and so do the copies.
func TestEncryptedKill(t *testing.T) {
	var cfg writerConfig
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	if runtime.GOOS == "wasip1" || runtime.GOOS == "js" {
		t.Skipf("no child processes on %s", runtime.GOOS)
	}
	ctx := testdir.Context(t)
	dir, copies := t.TempDir(), t.TempDir()
	key, keyFile := newKeyFile(t)
	sc := startScanner([]string{dir, copies}, cryptMarker)
	defer func() {
		if found, scans := sc.finish(); len(found) > 0 || scans < 3 {
			t.Errorf("after %d scans, the plaintext marker in %v", scans, found)
		}
	}()

	w := testproc.Start(t, "writer", writerConfig{Dir: dir, Writers: 16, Prefix: cryptMarker, Checkpoint: true, Key: key})
	w.WaitFor(ctx, readyLine)
	acks := collectLsAcks(w)
	// While the writers write: a backup and a compacted copy, through
	// temporary files in the copies' directory, three times.
	for round := range 3 {
		acks.waitCount(ctx, t, (round+1)*1000)
		for _, args := range [][]string{
			{"backup", "-key-file", keyFile, dir, filepath.Join(copies, fmt.Sprintf("backup%d.db", round))},
			{"vacuum", "-key-file", keyFile, "-into", filepath.Join(copies, fmt.Sprintf("vacuum%d.db", round)), dir},
		} {
			if r := litedir(t, ctx, args...); r.code != 0 {
				t.Fatalf("%v", r)
			}
		}
	}
	killAcked(ctx, t, w, acks)
	if len(acks.bad) > 0 {
		t.Fatalf("writer said %q", acks.bad)
	}
	acked := acks.prefix(acks.count())

	// The WAL holds transactions: a wrong key or none must not lose them.
	files := []string{"litedir.db", "litedir.db-wal", "litedir.db-shm"}
	before := testdir.Snapshot(t, dir, files...)
	if len(before["litedir.db-wal"]) == 0 {
		t.Logf("the kill left an empty WAL (%v)", testdir.Names(t, dir))
	}
	_, wrongFile := newKeyFile(t)
	for _, tt := range []struct {
		key  workspace.KeySource
		want error
	}{{workspace.KeyFile(wrongFile), workspace.ErrWrongKey}, {nil, workspace.ErrEncrypted}} {
		if _, err := workspace.Open(ctx, dir, &workspace.Options{Key: tt.key}); !errors.Is(err, tt.want) {
			t.Errorf("Open: got %v, want %v", err, tt.want)
		}
	}
	if r := litedir(t, ctx, "checkpoint", dir); r.code != 1 || !strings.Contains(r.stderr, "no key was given") {
		t.Errorf("checkpoint without a key: %v", r)
	}
	testdir.SameFiles(t, before, testdir.Snapshot(t, dir, files...))

	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin, Key: workspace.KeyFile(keyFile)})
	mustCheck(t, ctx, ws)
	mustConsistentCounts(t, ctx, ws)
	stored := bodies(t, ctx, ws)
	for _, body := range acked {
		if stored[body] != 1 {
			t.Errorf("%s: acknowledged, found %d times", body, stored[body])
		}
	}
	if len(acked) < 3000 || !strings.HasPrefix(acked[0], cryptMarker) {
		t.Fatalf("%d acknowledged messages, first %q: the run wrote too little to tell", len(acked), acked[0])
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		for _, name := range []string{fmt.Sprintf("backup%d", round), fmt.Sprintf("vacuum%d", round)} {
			cp := mustOpenReadOnly(t, ctx, copies, &workspace.Options{Name: name, Key: workspace.KeyFile(keyFile)})
			mustCheck(t, ctx, cp)
			if n := len(bodies(t, ctx, cp)); n < (round+1)*1000 {
				t.Errorf("%s holds %d messages, want at least the %d acknowledged before it", name, n, (round+1)*1000)
			}
		}
	}
	t.Logf("%d messages acknowledged before the kill, all found with the key", len(acked))
}
