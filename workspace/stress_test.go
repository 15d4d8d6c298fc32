package workspace_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/workspace"
)

// TestStressOpenClose runs 64 goroutines against four directories: 16 hold
// a handle on one of the first two and Write through it without pause,
// while 48 open and close handles on all four, each time through another
// spelling of the path (absolute, relative, through a symbolic link, with
// "./", "//" and ".." in it), writing through some of them. The last two
// directories have no long-lived handle, so their entries are opened from
// nothing and closed to nothing over and over, racing the Opens that come
// in while they close.
//
// It checks, under the race detector in CI, that no operation fails, that
// every acknowledged Write is in its database, that each directory's lock
// is free once the last handle is closed (lock.Acquire succeeds), and that
// no goroutine of the workspace outlives its last Close.
func TestStressOpenClose(t *testing.T) {
	const (
		dirs     = 4
		held     = 2 // directories that the writers hold open
		writers  = 16
		openers  = 48
		openIter = 12 // Open/Close rounds per opener
	)
	opts := &workspace.Options{Migrations: schema(1)}
	ctx := testdir.Context(t)

	base, err := filepath.EvalSymlinks(testdir.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(base, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlinks := runtime.GOOS != "windows" // they need privileges there
	spellings := make([][]string, dirs)
	for i := range dirs {
		name := fmt.Sprintf("d%d", i)
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		spellings[i] = []string{
			dir,
			name,               // relative to the working directory, base
			"./" + name + "/",  // relative, with ./ and a trailing slash
			base + "//" + name, // a doubled separator
			dir + string(os.PathSeparator) + ".",
			filepath.Join(base, "x") + string(os.PathSeparator) + ".." + string(os.PathSeparator) + name, // through x/..
			filepath.Join(base, "x", "..", name), // what filepath.Join makes of it
		}
		if symlinks {
			link := filepath.Join(base, "link-"+name)
			testdir.Symlink(t, dir, link)
			spellings[i] = append(spellings[i], link, "link-"+name)
		}
	}
	t.Chdir(base)

	// Compile the engine and create the databases first, so that the
	// goroutine baseline includes whatever the engine keeps for the life of
	// the process.
	for i := range dirs {
		ws, err := workspace.Open(ctx, spellings[i][0], opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
	}
	baseline := runtime.NumGoroutine()

	var acked [dirs]atomic.Int64 // Writes that returned nil, by directory
	insert := func(ws *workspace.Workspace, i int, body string) error {
		err := ws.Write(ctx, func(q workspace.Querier) error {
			_, err := q.ExecContext(ctx, `INSERT INTO notes (body) VALUES (?)`, body)
			return err
		})
		if err == nil {
			acked[i].Add(1)
		}
		return err
	}

	// The writers' handles, opened before anything starts so that the held
	// directories stay open throughout.
	handles := make([]*workspace.Workspace, writers)
	for w := range writers {
		i := w % held
		ws, err := workspace.Open(ctx, spellings[i][w%len(spellings[i])], opts)
		if err != nil {
			t.Fatal(err)
		}
		handles[w] = ws
	}

	stop := make(chan struct{})
	var writersWG, openersWG sync.WaitGroup
	for w, ws := range handles {
		writersWG.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := insert(ws, w%held, fmt.Sprintf("writer %d: %d", w, n)); err != nil {
					t.Errorf("writer %d: Write: %v", w, err)
					return
				}
			}
		})
	}
	for g := range openers {
		openersWG.Go(func() {
			for n := range openIter {
				i := (g + n) % dirs
				path := spellings[i][(g*7+n)%len(spellings[i])]
				ws, err := workspace.Open(ctx, path, opts)
				if err != nil {
					t.Errorf("opener %d: Open(%q): %v", g, path, err)
					return
				}
				if n%2 == 0 {
					if err := insert(ws, i, fmt.Sprintf("opener %d: %d", g, n)); err != nil {
						t.Errorf("opener %d: Write through %q: %v", g, path, err)
					}
				}
				if err := ws.Close(); err != nil {
					t.Errorf("opener %d: Close(%q): %v", g, path, err)
				}
			}
		})
	}
	openersWG.Wait()
	close(stop)
	writersWG.Wait()
	for w, ws := range handles {
		if err := ws.Close(); err != nil {
			t.Errorf("writer %d: Close: %v", w, err)
		}
	}
	if t.Failed() {
		return
	}

	for i := range dirs {
		dir := spellings[i][0]
		// The last Close released the lock: another Acquire gets it.
		l, err := acquireLock(ctx, dir, lock.Options{})
		if err != nil {
			t.Errorf("%s: lock after the last Close: %v", dir, err)
			continue
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		ws, err := workspace.OpenReadOnly(ctx, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := count(t, ws, `SELECT count(*) FROM notes`), int(acked[i].Load()); got != want {
			t.Errorf("%s: got %d rows, want the %d acknowledged", dir, got, want)
		}
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("rows written: %d %d %d %d", acked[0].Load(), acked[1].Load(), acked[2].Load(), acked[3].Load())

	if n := waitGoroutines(ctx, baseline); n > baseline {
		var profile bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&profile, 1)
		t.Errorf("goroutines after the last Close: got %d, want at most %d as before\n%s", n, baseline, workspaceStacks(profile.String()))
	}
}

// waitGoroutines waits until at most want goroutines run, or ctx ends, and
// returns the last count. Goroutines that Close stopped may still be on
// their way out when it returns; nothing signals their last instruction, so
// this polls.
func waitGoroutines(ctx context.Context, want int) int {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return n
		}
		select {
		case <-tick.C:
		case <-deadline.Done():
			return n
		}
	}
}

// workspaceStacks keeps the records of a goroutine profile (debug=1) that
// mention the workspace package, or all of it if none does.
func workspaceStacks(profile string) string {
	var keep []string
	for _, rec := range strings.Split(profile, "\n\n") {
		if strings.Contains(rec, "litedir/workspace.") {
			keep = append(keep, rec)
		}
	}
	if len(keep) == 0 {
		return profile
	}
	return strings.Join(keep, "\n\n")
}
