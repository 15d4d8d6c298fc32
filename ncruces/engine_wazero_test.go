//go:build !litedir_wasm2go

package ncruces

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
)

// checkEngineSetup checks what Initialize set up on wazero: litedir's
// runtime configuration for the driver.
func checkEngineSetup(t *testing.T, info Engine) {
	t.Helper()
	if sqlite3.RuntimeConfig == nil {
		t.Error("sqlite3.RuntimeConfig: got nil, want litedir's")
	}
	if info.DriverVersion != "v0.32.0" {
		t.Errorf("DriverVersion: got %q, want v0.32.0", info.DriverVersion)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv(EnvCacheDir, "off")
	if dir, note := cacheDir(); dir != "" || note != "disabled by LITEDIR_CACHE_DIR=off" {
		t.Errorf("off: got %q, %q", dir, note)
	}

	t.Setenv(EnvCacheDir, "relative/cache")
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if dir, note := cacheDir(); dir != filepath.Join(cwd, "relative", "cache") || note != "" {
		t.Errorf("relative: got %q, %q, want it made absolute", dir, note)
	}

	t.Setenv(EnvCacheDir, "")
	base, err := os.UserCacheDir()
	if err != nil {
		if dir, note := cacheDir(); dir != "" || !strings.Contains(note, "no user cache directory") {
			t.Errorf("no user cache dir: got %q, %q", dir, note)
		}
		return
	}
	if dir, note := cacheDir(); dir != filepath.Join(base, "litedir", "wazero") || note != "" {
		t.Errorf("default: got %q, %q, want %s", dir, note, filepath.Join(base, "litedir", "wazero"))
	}
}

// engineReport is what the child of TestEngineCache prints.
type engineReport struct {
	Engine        Engine
	InitErr       string
	Query         string // the result of a query on a new database
	TrialCompiles int32  // openCache's compiles: 0 on a warm start
}

// TestEngineCache runs Initialize in child processes, since it runs once
// per process, with caches that cannot be used.
func TestEngineCache(t *testing.T) {
	var role string
	if testproc.IsChild(t, &role) {
		engineChild(t, role)
		return
	}
	if testing.Short() {
		t.Skip("compiles SQLite from scratch in several processes")
	}
	// Every child compiles SQLite from scratch: about a second each, but 15
	// to 60 s with -race. Under -race only the case that must never fail
	// runs; the race detector has nothing to add to the others, which the
	// plain go test runs.
	slow := func(t *testing.T) {
		t.Helper()
		if raceEnabled {
			t.Skip("cold compiles are too slow with -race; covered by go test without -race")
		}
	}

	runAttr := func(t *testing.T, role string, attr *syscall.SysProcAttr, env ...string) engineReport {
		t.Helper()
		ctx := testdir.Context(t)
		cmd := testproc.Command(t, role)
		cmd.SysProcAttr = attr
		cmd.Env = append(cmd.Env, env...)
		c := testproc.StartCmd(t, "child", cmd)
		c.CloseStdin()
		line := strings.TrimPrefix(c.WaitForPrefix(ctx, "engine "), "engine ")
		c.Finish(ctx)
		var r engineReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("child report %q: %v", line, err)
		}
		if r.InitErr != "" || r.Query != "ok" {
			t.Fatalf("child: Initialize %q, query %q, want it working", r.InitErr, r.Query)
		}
		t.Logf("child engine: %+v, trial compiles %d", r.Engine, r.TrialCompiles)
		return r
	}
	run := func(t *testing.T, role string, env ...string) engineReport {
		t.Helper()
		return runAttr(t, role, nil, env...)
	}
	// warmCache returns a new cache directory that a child has warmed.
	warmCache := func(t *testing.T) string {
		t.Helper()
		dir := filepath.Join(testdir.New(t), "cache")
		r := run(t, "report", EnvCacheDir+"="+dir)
		if r.Engine.CacheDir != dir || r.Engine.CacheNote != "" || r.TrialCompiles != 1 {
			t.Fatalf("cold: got %+v, %d trial compiles, want cache %s and one trial compile", r.Engine, r.TrialCompiles, dir)
		}
		if len(cacheEntries(t, dir)) == 0 {
			t.Skip("wazero wrote no cache entry (interpreter platform)")
		}
		return dir
	}

	t.Run("warm start compiles once", func(t *testing.T) {
		t.Parallel()
		slow(t)
		dir := warmCache(t)
		r := run(t, "report", EnvCacheDir+"="+dir)
		if r.Engine.CacheDir != dir || r.Engine.CacheNote != "" || r.TrialCompiles != 0 {
			t.Errorf("warm: got %+v, %d trial compiles, want cache %s and none: the driver's compile is the only one", r.Engine, r.TrialCompiles, dir)
		}
	})

	t.Run("read-only warm cache", func(t *testing.T) {
		t.Parallel()
		slow(t)
		dir := warmCache(t)
		before := snapshot(t, dir)
		attr, env := readOnlyChild(t, dir)
		r := runAttr(t, "report", attr, append(env, EnvCacheDir+"="+dir)...)
		if r.Engine.CacheDir != dir || r.Engine.CacheNote != "" || r.TrialCompiles != 0 {
			t.Errorf("read-only: got %+v, %d trial compiles, want cache %s used for loading, no trial compile", r.Engine, r.TrialCompiles, dir)
		}
		if after := snapshot(t, dir); after != before {
			t.Errorf("the read-only cache changed:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("read-only empty cache", func(t *testing.T) {
		t.Parallel()
		slow(t)
		dir := filepath.Join(testdir.New(t), "cache")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		attr, env := readOnlyChild(t, dir)
		r := runAttr(t, "report", attr, append(env, EnvCacheDir+"="+dir)...)
		if r.Engine.CacheDir != "" || !strings.HasPrefix(r.Engine.CacheNote, "not usable: not writable") || r.TrialCompiles != 0 {
			t.Errorf("read-only, empty: got %+v, %d trial compiles, want no cache, not writable, no trial compile", r.Engine, r.TrialCompiles)
		}
		if names := testdir.Names(t, dir); len(names) != 0 {
			t.Errorf("the read-only cache changed: got %v, want it empty", names)
		}
	})

	t.Run("read-only corrupt cache", func(t *testing.T) {
		t.Parallel()
		slow(t)
		dir := warmCache(t)
		corruptEntries(t, dir)
		before := snapshot(t, dir)
		attr, env := readOnlyChild(t, dir)
		r := runAttr(t, "report", attr, append(env, EnvCacheDir+"="+dir)...)
		if r.Engine.CacheDir != "" || !strings.HasPrefix(r.Engine.CacheNote, "not usable: not writable") || !strings.Contains(r.Engine.CacheNote, "corrupt") {
			t.Errorf("read-only, corrupt: got %+v, want no cache, not writable and corrupt", r.Engine)
		}
		if after := snapshot(t, dir); after != before {
			t.Errorf("the read-only cache changed:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		slow(t)
		r := run(t, "report", EnvCacheDir+"=off")
		if r.Engine.CacheDir != "" || r.Engine.CacheNote != "disabled by LITEDIR_CACHE_DIR=off" {
			t.Errorf("got %+v, want no cache, disabled", r.Engine)
		}
	})

	t.Run("unwritable", func(t *testing.T) {
		t.Parallel()
		// A directory under a regular file cannot be created, even by root.
		file := filepath.Join(testdir.New(t), "file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := run(t, "report", EnvCacheDir+"="+filepath.Join(file, "cache"))
		if r.Engine.CacheDir != "" || !strings.HasPrefix(r.Engine.CacheNote, "not usable: ") {
			t.Errorf("got %+v, want no cache, not usable", r.Engine)
		}
		if got := testdir.ReadFile(t, file); string(got) != "x" {
			t.Errorf("the file in the way changed: got %q", got)
		}
	})

	t.Run("program's RuntimeConfig", func(t *testing.T) {
		t.Parallel()
		slow(t)
		r := run(t, "preset")
		if r.Engine.CacheDir != "" || !strings.Contains(r.Engine.CacheNote, "left it alone") {
			t.Errorf("got %+v, want the program's configuration left alone", r.Engine)
		}
	})

	t.Run("corrupt entry", func(t *testing.T) {
		t.Parallel()
		slow(t)
		testdir.NeedRemoveAll(t) // removeCache drops the corrupt entry with it
		dir := filepath.Join(testdir.New(t), "cache")
		env := EnvCacheDir + "=" + dir
		if r := run(t, "report", env); r.Engine.CacheDir != dir || r.Engine.CacheNote != "" {
			t.Fatalf("cold: got %+v, want cache %s", r.Engine, dir)
		}
		if len(cacheEntries(t, dir)) == 0 {
			t.Skip("wazero wrote no cache entry (interpreter platform)")
		}
		corruptEntries(t, dir)
		if r := run(t, "report", env); r.Engine.CacheDir != dir || !strings.HasPrefix(r.Engine.CacheNote, "rebuilt after: ") {
			t.Errorf("corrupt: got %+v, want the cache rebuilt", r.Engine)
		}
		if r := run(t, "report", env); r.Engine.CacheDir != dir || r.Engine.CacheNote != "" {
			t.Errorf("after the rebuild: got %+v, want the cache working", r.Engine)
		}
	})
}

// engineChild is the child role of TestEngineCache.
func engineChild(t *testing.T, role string) {
	if dir := os.Getenv(envReadOnlyMount); dir != "" {
		// Root ignores permission bits: the parent started this child in a
		// mount namespace of its own, where the cache becomes read-only.
		if err := mountReadOnly(dir); err != nil {
			t.Fatalf("mount %s read-only: %v", dir, err)
		}
	}
	if dir := os.Getenv(EnvCacheDir); os.Getenv(envReadOnlyMount) != "" || os.Getenv(envReadOnlyBits) != "" {
		// Every read-only case must really be one, or it proves nothing.
		if err := checkWritable(dir); err == nil {
			t.Fatalf("cache %s: writable, want it read-only for this test", dir)
		}
	}
	if role == "preset" {
		sqlite3.RuntimeConfig = baseConfig()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var r engineReport
	if err := Initialize(logger); err != nil {
		r.InitErr = err.Error()
	}
	r.Engine = EngineInfo()
	r.TrialCompiles = trialCompiles.Load()
	r.Query = func() string {
		db, err := Open(context.Background(), Config{Path: filepath.Join(testdir.New(t), "e.db"), Logger: logger})
		if err != nil {
			return err.Error()
		}
		defer db.Close()
		var s string
		if err := db.QueryRow("SELECT 'ok'").Scan(&s); err != nil {
			return err.Error()
		}
		return s
	}()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("engine %s\n", b)
}

// corruptEntries flips 64 bytes in the middle of every file in the cache
// directory dir: compiled code, which wazero's checksum covers.
func corruptEntries(t *testing.T, dir string) {
	t.Helper()
	for _, e := range cacheEntries(t, dir) {
		b := testdir.ReadFile(t, e)
		for i := len(b) / 2; i < len(b)/2+64 && i < len(b); i++ {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(e, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot describes every file under dir: path, size and a hash.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, e := range cacheEntries(t, dir) {
		data := testdir.ReadFile(t, e)
		fmt.Fprintf(&b, "%s:%d:%x ", strings.TrimPrefix(e, dir), len(data), sha256.Sum256(data))
	}
	return b.String()
}

// cacheEntries returns the files wazero wrote in the cache directory dir.
func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRemoveCache checks that only wazero's directories are removed.
func TestRemoveCache(t *testing.T) {
	testdir.NeedRemoveAll(t)
	dir := testdir.New(t)
	keep := []string{"mine.txt", "wazero-file", "other"}
	for _, name := range []string{"wazero-v1-amd64-linux", "wazero-v2-" + runtime.GOARCH + "-" + runtime.GOOS} {
		if err := os.MkdirAll(filepath.Join(dir, name, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range keep {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeCache(dir); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(testdir.Names(t, dir), " ")
	if want := "mine.txt other wazero-file"; got != want {
		t.Errorf("after removeCache: got %v, want %v", got, want)
	}
}

// TestOpenCacheProbe checks openCache on a usable directory and on one that
// is a file, in this process: the probe compile uses its own runtime and
// leaves the driver's configuration alone.
func TestOpenCacheProbe(t *testing.T) {
	if err := Initialize(nil); err != nil {
		t.Fatal(err)
	}
	before := sqlite3.RuntimeConfig
	file := filepath.Join(testdir.New(t), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if cache, err := openCache(baseConfig(), file); err == nil {
		cache.Close(context.Background())
		t.Errorf("openCache(%s): got nil error, want one for a file", file)
	}
	if sqlite3.RuntimeConfig != before {
		t.Error("openCache changed sqlite3.RuntimeConfig")
	}
}
