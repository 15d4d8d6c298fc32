package e2e_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// coldStarts is how many processes start at once against an empty engine
// cache. Each compiles SQLite (seconds of CPU), so this runs once, also in
// a soak run.
const coldStarts = 8

// cacheConfig configures a child of TestEngineCache: a process that opens
// a workspace with the engine cache its environment names.
type cacheConfig struct {
	Dir  string
	Wait bool // say readyLine and wait for "go" before opening
}

// engineLine is what a cache child says about its engine: the part of
// ncruces.Engine that tells what happened to the cache.
type engineLine struct {
	CacheDir, CacheNote string
}

// runCacheChild plays a cache child. It opens cfg.Dir with the builtin
// schema, which compiles SQLite or loads it from the cache, writes a
// session, and says "engine <JSON engineLine>".
func runCacheChild(t *testing.T, cfg cacheConfig) {
	ctx := t.Context()
	p := testproc.NewParent()
	if cfg.Wait {
		p.Say(readyLine)
		if !awaitCommand(t, p, "go") {
			return
		}
	}
	ws, err := workspace.Open(ctx, cfg.Dir, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		p.Fail(t, "open: %v", err)
	}
	if _, err := newSession(ctx, ws, "cache"); err != nil {
		p.Fail(t, "write: %v", err)
	}
	if err := ws.Close(); err != nil {
		p.Fail(t, "close: %v", err)
	}
	e := ncruces.EngineInfo()
	b, err := json.Marshal(engineLine{CacheDir: e.CacheDir, CacheNote: e.CacheNote})
	if err != nil {
		p.Fail(t, "%v", err)
	}
	p.Say("engine %s", b)
}

// TestEngineCache starts 8 processes at once against an empty engine cache
// directory: all must open their workspaces, and the cache they leave must
// be complete (no temporary files) and valid: a later process loads it
// without writing anything (had it compiled, wazero would have stored a new
// entry in a new file). Then it damages the cache entry in three ways: a
// process facing each must still open its workspace, report the cache as
// rebuilt, and leave a valid cache behind. Nothing here is timed.
func TestEngineCache(t *testing.T) {
	var cfg cacheConfig
	if testproc.IsChild(t, &cfg) {
		runCacheChild(t, cfg)
		return
	}
	if e := ncruces.EngineInfo(); e.Name != ncruces.EngineWazero {
		t.Skipf("the %s engine has no cache to test", e.Name)
	}
	cache := t.TempDir() // empty
	base := t.TempDir()
	starts := 0
	// start runs one cache child to its end and returns what it said of
	// its engine.
	start := func(t *testing.T) engineLine {
		t.Helper()
		starts++
		ctx := testdir.Context(t)
		c := startCacheChild(t, fmt.Sprintf("start %d", starts), cacheConfig{Dir: filepath.Join(base, fmt.Sprint(starts))}, cache)
		e := engineOf(t, c, c.WaitForPrefix(ctx, "engine "))
		c.Finish(ctx)
		return e
	}
	// mustLoad checks that a process loads the cache as it is.
	mustLoad := func(t *testing.T) {
		t.Helper()
		before := cacheFiles(t, cache)
		if e := start(t); e.CacheDir != cache || e.CacheNote != "" {
			t.Errorf("later start: got cache %q, note %q; want %q, no note", e.CacheDir, e.CacheNote, cache)
		}
		sameCacheFiles(t, before, cacheFiles(t, cache))
	}

	t.Run("cold", func(t *testing.T) {
		ctx := testdir.Context(t)
		cs := make([]*testproc.Child, coldStarts)
		for i := range cs {
			cs[i] = startCacheChild(t, fmt.Sprintf("cold %d", i), cacheConfig{Dir: filepath.Join(base, fmt.Sprint("cold", i)), Wait: true}, cache)
		}
		goTogether(t, ctx, cs)
		for _, c := range cs {
			e := engineOf(t, c, c.WaitForPrefix(ctx, "engine "))
			if e.CacheDir != cache || e.CacheNote != "" {
				t.Errorf("%s: got cache %q, note %q; want %q, no note", c.Name(), e.CacheDir, e.CacheNote, cache)
			}
			c.Finish(ctx)
		}
		if len(cacheFiles(t, cache)) == 0 {
			t.Fatalf("no files in the cache %s after %d starts", cache, coldStarts)
		}
		mustLoad(t)
	})
	if t.Failed() {
		return
	}

	damages := []struct {
		name   string
		damage func(path string, content []byte) []byte
	}{
		{"flipped", func(_ string, b []byte) []byte {
			// The middle of the entry is compiled code, which wazero
			// checksums.
			for i := len(b) / 2; i < len(b)/2+64 && i < len(b); i++ {
				b[i] ^= 0xff
			}
			return b
		}},
		{"truncated", func(_ string, b []byte) []byte { return b[:len(b)/2] }},
		{"empty", func(string, []byte) []byte { return nil }},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			for path := range cacheFiles(t, cache) {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				mustWriteFile(t, path, d.damage(path, b))
			}
			if e := start(t); e.CacheDir != cache || !strings.HasPrefix(e.CacheNote, "rebuilt after") {
				t.Errorf("start with a damaged cache: got cache %q, note %q; want %q, rebuilt", e.CacheDir, e.CacheNote, cache)
			}
			mustLoad(t)
		})
	}
}

// startCacheChild starts a cache child of the test t, named name, with cfg and the engine
// cache in the directory cache: a setting of the process, so of its environment.
func startCacheChild(t *testing.T, name string, cfg cacheConfig, cache string) *testproc.Child {
	t.Helper()
	cmd := testproc.Command(t, cfg)
	cmd.Env = append(cmd.Env, ncruces.EnvCacheDir+"="+cache)
	return testproc.StartCmd(t, name, cmd)
}

// engineOf decodes an "engine" line of a cache child.
func engineOf(t *testing.T, c *testproc.Child, line string) engineLine {
	t.Helper()
	var e engineLine
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "engine ")), &e); err != nil {
		t.Fatalf("%s: %q: %v", c.Name(), line, err)
	}
	return e
}

// cacheFiles returns the regular files under the cache directory dir. A
// temporary file of wazero's (an entry written but not renamed into place)
// fails the test: every process ended cleanly.
func cacheFiles(t *testing.T, dir string) map[string]fs.FileInfo {
	t.Helper()
	files := make(map[string]fs.FileInfo)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if strings.HasSuffix(path, ".tmp") {
			t.Errorf("temporary file left in the cache: %s", path)
		}
		info, err := d.Info()
		files[path] = info
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameCacheFiles fails the test for every cache file that was created,
// removed, replaced (a new inode: wazero writes an entry to a temporary file
// and renames it) or rewritten since before.
func sameCacheFiles(t *testing.T, before, after map[string]fs.FileInfo) {
	t.Helper()
	for path, b := range before {
		a, ok := after[path]
		switch {
		case !ok:
			t.Errorf("%s: removed from the cache", path)
		case !os.SameFile(a, b) || !a.ModTime().Equal(b.ModTime()) || a.Size() != b.Size():
			t.Errorf("%s: written again (compiled, not loaded)", path)
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			t.Errorf("%s: added to the cache (compiled, not loaded)", path)
		}
	}
}
