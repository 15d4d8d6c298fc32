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
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/embed" // sets sqlite3.Binary
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// EnvCacheDir is the environment variable that overrides the directory of the
// compilation cache. The value "off" disables the cache.
const EnvCacheDir = "LITEDIR_CACHE_DIR"

// driverModule is the driver's module path, for its version in the build info.
const driverModule = "github.com/ncruces/go-sqlite3"

// Engine describes the SQLite engine after [Initialize].
type Engine struct {
	// CacheDir is the directory of wazero's compilation cache, or "" when no
	// cache is in use.
	CacheDir string

	// CacheNote says why the cache is off ("disabled by
	// LITEDIR_CACHE_DIR=off", "not usable: ..."), or why it was rebuilt. It
	// is "" when the cache worked at once.
	CacheNote string

	// InitTime is how long Initialize took: seconds when SQLite was compiled
	// from scratch, milliseconds from a warm cache.
	InitTime time.Duration

	// SQLiteVersion is SQLite's sqlite_version(), such as "3.51.3".
	SQLiteVersion string

	// DriverVersion is the module version of github.com/ncruces/go-sqlite3 in
	// the build info, or the version litedir pins when there is none.
	DriverVersion string
}

// engine is the process-wide state behind Initialize. sqlite3.Initialize
// runs once per process, and so does this.
var engine struct {
	once sync.Once
	err  error
	info atomic.Pointer[Engine]

	// probe is the module compiled while validating the cache. It is never
	// closed: the compiled code lives in wazero's engine, which is shared by
	// every runtime configured with the same cache and reference-counts
	// compiled modules. Holding this reference keeps the code there, so the
	// driver's own compile right after is a memory hit.
	probe wazero.CompiledModule
}

// Initialize configures the driver's wazero runtime and compiles SQLite, once
// per process. It is safe for concurrent use; every call blocks until the
// first one is done and returns its result. logger receives what happened to
// the cache (nil discards); loggers of later calls are ignored. [Open] calls
// Initialize, so calling it is only needed to choose when the compile
// happens; see also [Warmup].
//
// The configuration: a compilation cache in $LITEDIR_CACHE_DIR (see
// [EnvCacheDir]) or os.UserCacheDir()/litedir/wazero, a Wasm memory limit of
// 256 MB per connection (32 MB on 32-bit platforms; without a limit each
// connection reserves 4 GB of address space), and the Wasm 2.0 core features
// SQLite needs. The driver uses these defaults only when it has no
// configuration at all, so litedir has to restate them next to the cache.
//
// A cache that fails to compile SQLite would fail it for the rest of the
// process (the driver compiles once and remembers the error), so Initialize
// first compiles SQLite with the cache itself: if that fails (a directory
// that cannot be written, a corrupt entry), it removes wazero's entries from
// the cache directory and tries once more with a fresh cache, and if that
// fails too, runs without a cache. The cache never causes an error.
//
// If the program set sqlite3.RuntimeConfig itself, Initialize leaves it alone
// and says so in [Engine].CacheNote. If something compiled SQLite before
// Initialize (any connection opened through the driver does), the
// configuration comes too late to apply; call Initialize first.
func Initialize(logger *slog.Logger) error {
	engine.once.Do(func() { engine.err = initialize(logger) })
	return engine.err
}

// Warmup starts [Initialize] in a new goroutine and returns at once, so that
// compiling SQLite overlaps other work, such as waiting for a lock. The
// goroutine ends by itself when Initialize returns; there is nothing to stop.
// Its result is what the next Initialize or [Open] returns.
func Warmup(logger *slog.Logger) {
	go func() { _ = Initialize(logger) }()
}

// EngineInfo returns the engine's description once [Initialize] has
// returned, even if it failed, and the zero Engine before.
func EngineInfo() Engine {
	if info := engine.info.Load(); info != nil {
		return *info
	}
	return Engine{}
}

func initialize(logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	info := Engine{DriverVersion: driverVersion()}
	defer func() {
		info.InitTime = time.Since(start)
		engine.info.Store(&info)
	}()

	if sqlite3.RuntimeConfig != nil {
		info.CacheNote = "sqlite3.RuntimeConfig was set by the program; litedir left it alone"
		logger.Info("ncruces: using the program's sqlite3.RuntimeConfig")
	} else {
		var cfg wazero.RuntimeConfig
		cfg, info.CacheDir, info.CacheNote = runtimeConfig(logger)
		sqlite3.RuntimeConfig = cfg
	}

	if err := sqlite3.Initialize(); err != nil {
		return fmt.Errorf("ncruces: initialize SQLite: %w", err)
	}
	version, err := sqliteVersion()
	if err != nil {
		return fmt.Errorf("ncruces: initialize SQLite: %w", err)
	}
	info.SQLiteVersion = version
	logger.Debug("ncruces: SQLite ready", "sqlite", version, "driver", info.DriverVersion,
		"cache", info.CacheDir, "took", time.Since(start))
	return nil
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
func runtimeConfig(logger *slog.Logger) (cfg wazero.RuntimeConfig, dir, note string) {
	cfg = baseConfig()
	dir, note = cacheDir()
	if dir == "" {
		logger.Debug("ncruces: no compilation cache", "reason", note)
		return cfg, "", note
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

	// wazero reports a failed write only as a failed compile; find out first.
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("not writable: %w", err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("not writable: %w", err)
	}

	bin, err := wasmBinary()
	if err != nil || bin == nil {
		// The driver will report this itself; the cache is not the problem.
		ok = true
		return cache, nil
	}
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
	engine.probe = compiled
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

// sqliteVersion asks SQLite for its version on an in-memory database.
func sqliteVersion() (string, error) {
	conn, err := sqlite3.Open(":memory:")
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stmt, _, err := conn.Prepare("SELECT sqlite_version()")
	if err != nil {
		return "", err
	}
	defer stmt.Close()
	if !stmt.Step() {
		return "", errors.Join(stmt.Err(), errors.New("sqlite_version() returned no row"))
	}
	return stmt.ColumnText(0), stmt.Close()
}

// driverVersion returns the driver's module version from the build info.
func driverVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != driverModule {
				continue
			}
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			if m.Version != "" && m.Version != "(devel)" {
				return m.Version
			}
		}
	}
	return "v0.32.0"
}
