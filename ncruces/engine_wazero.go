//go:build !litedir_wasm2go

package ncruces

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/embed" // sets sqlite3.Binary
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// engineName is the engine of this build: the driver up to v0.32, on wazero.
const engineName = EngineWazero

// setupEngine configures the driver's wazero runtime and compiles SQLite.
func setupEngine(logger *slog.Logger, info *Engine) error {
	if sqlite3.RuntimeConfig != nil {
		info.CacheNote = "sqlite3.RuntimeConfig was set by the program; litedir left it alone"
		logger.Info("ncruces: using the program's sqlite3.RuntimeConfig")
	} else {
		var cfg wazero.RuntimeConfig
		cfg, info.CacheDir, info.CacheNote = runtimeConfig(logger)
		sqlite3.RuntimeConfig = cfg
	}
	return sqlite3.Initialize()
}

// baseConfig restates the driver's defaults, which it drops as soon as
// RuntimeConfig is set.
func baseConfig() wazero.RuntimeConfig {
	cfg := wazero.NewRuntimeConfig()
	if bits.UintSize < 64 {
		cfg = cfg.WithMemoryLimitPages(512) // 32 MB
	} else {
		cfg = cfg.WithMemoryLimitPages(4096) // 256 MB
	}
	return cfg.WithCoreFeatures(api.CoreFeaturesV2)
}

// runtimeConfig returns the configuration for the driver, with a validated
// compilation cache when one is usable, its directory and the cache note.
//
// The warm path compiles nothing here: when the entry wazero will load for
// SQLite is there and valid (checkEntry), the driver's compile is the only
// one. Otherwise a trial compile proves the cache first (openCache).
func runtimeConfig(logger *slog.Logger) (cfg wazero.RuntimeConfig, dir, note string) {
	cfg = baseConfig()
	dir, note = cacheDir()
	if dir == "" {
		logger.Debug("ncruces: no compilation cache", "reason", note)
		return cfg, "", note
	}

	bin, binErr := wasmBinary()
	if binErr == nil && bin != nil {
		err := checkEntry(dir, bin)
		if err == nil {
			// NewCompilationCacheWithDir only creates directories that are
			// missing; checkEntry found them, so it writes nothing.
			var cache wazero.CompilationCache
			if cache, err = wazero.NewCompilationCacheWithDir(dir); err == nil {
				return cfg.WithCompilationCache(cache), dir, ""
			}
		}
		logger.Debug("ncruces: no valid cache entry for SQLite", "dir", dir, "err", err)
		if werr := checkWritable(dir); werr != nil && !errors.Is(werr, os.ErrNotExist) {
			// A cache the user can read but not write: loading is all it
			// can do, and there is nothing valid to load. Compiling with it
			// would fail on writing the entry, and rebuilding it would
			// remove what its owner installed.
			logger.Warn("ncruces: the compilation cache cannot be written and holds no valid entry for this SQLite; compiling without it (seconds)",
				"dir", dir, "entry", err, "write", werr)
			return cfg, "", fmt.Sprintf("not usable: %v, and no valid entry to load: %v", werr, err)
		}
	}

	cache, err := openCache(cfg, dir)
	if err == nil {
		return cfg.WithCompilationCache(cache), dir, ""
	}
	logger.Warn("ncruces: compilation cache unusable, rebuilding it", "dir", dir, "err", err)
	if rmErr := removeCache(dir); rmErr != nil {
		logger.Debug("ncruces: removing the compilation cache", "dir", dir, "err", rmErr)
	}
	cache, err2 := openCache(cfg, dir)
	if err2 == nil {
		return cfg.WithCompilationCache(cache), dir, fmt.Sprintf("rebuilt after: %v", err)
	}
	logger.Warn("ncruces: running without a compilation cache; every process compiles SQLite (seconds)", "dir", dir, "err", err2)
	return cfg, "", fmt.Sprintf("not usable: %v", err2)
}

// trialCompiles counts openCache's compiles, for tests: a warm start has
// none, so that the driver's compile is the only one in the process.
var trialCompiles atomic.Int32

// trialModule is the module compiled by openCache. It is never closed: the
// compiled code lives in wazero's engine, which is shared by every runtime
// configured with the same cache and reference-counts compiled modules.
// Holding this reference keeps the code there, so the driver's own compile
// right after finds it in memory.
var trialModule wazero.CompiledModule

// cacheDir returns the cache directory, or "" and the reason there is none.
func cacheDir() (dir, note string) {
	switch env := os.Getenv(EnvCacheDir); env {
	case "off":
		return "", "disabled by " + EnvCacheDir + "=off"
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Sprintf("no user cache directory: %v", err)
		}
		return filepath.Join(base, "litedir", "wazero"), ""
	default:
		abs, err := filepath.Abs(env)
		if err != nil {
			return "", fmt.Sprintf("%s=%q: %v", EnvCacheDir, env, err)
		}
		return abs, ""
	}
}

// checkWritable reports whether a file can be created in dir. wazero reports
// a failed write only as a failed compile; this finds out first.
func checkWritable(dir string) error {
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	return nil
}

// openCache opens the compilation cache in dir and proves that it works by
// compiling SQLite with it, the way the driver will.
func openCache(cfg wazero.RuntimeConfig, dir string) (wazero.CompilationCache, error) {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			cache.Close(ctx)
		}
	}()

	if err := checkWritable(dir); err != nil {
		return nil, err
	}

	bin, err := wasmBinary()
	if err != nil || bin == nil {
		// The driver will report this itself; the cache is not the problem.
		ok = true
		return cache, nil
	}
	trialCompiles.Add(1)
	// CompileModule needs no imports. The runtime can be closed: with a cache
	// configured it neither owns the engine nor the compiled module.
	rt := wazero.NewRuntimeWithConfig(ctx, cfg.WithCompilationCache(cache))
	defer rt.Close(ctx)
	// The driver compiles with GOMAXPROCS/4 workers; so do we, as this is the
	// one cold compile when the cache is empty.
	compiled, err := rt.CompileModule(experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0)/4), bin)
	if err != nil {
		return nil, fmt.Errorf("compile SQLite with the cache: %w", err)
	}
	trialModule = compiled
	ok = true
	return cache, nil
}

// wasmBinary returns the SQLite binary the driver will load.
func wasmBinary() ([]byte, error) {
	if sqlite3.Binary != nil || sqlite3.Path == "" {
		return sqlite3.Binary, nil
	}
	return os.ReadFile(sqlite3.Path)
}

// removeCache removes wazero's entries in dir: the version-specific
// directories wazero creates there ("wazero-<version>-<arch>-<os>"). Nothing
// else is touched, as EnvCacheDir may name a directory shared with others.
func removeCache(dir string) error {
	entries, err := filepath.Glob(filepath.Join(dir, "wazero-*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if fi, err := os.Lstat(e); err == nil && fi.IsDir() {
			errs = append(errs, os.RemoveAll(e))
		}
	}
	return errors.Join(errs...)
}
