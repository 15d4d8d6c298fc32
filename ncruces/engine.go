package ncruces

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// EnvCacheDir is the environment variable that overrides the directory of the
// compilation cache. The value "off" disables the cache. Only the wazero
// engine has a cache; the wasm2go engine needs none.
const EnvCacheDir = "LITEDIR_CACHE_DIR"

// driverModule is the driver's module path, for its version in the build info.
const driverModule = "github.com/ncruces/go-sqlite3"

// The engines litedir runs on, the values of [Engine].Name. Which one a
// program gets is decided when it is built: the driver up to v0.32 runs
// SQLite's Wasm in wazero, v0.33 and later translate it to Go (wasm2go), and
// litedir builds against the latter with the litedir_wasm2go build tag.
const (
	// EngineWazero is github.com/ncruces/go-sqlite3 v0.32 with SQLite run by
	// wazero: compiled to machine code at start-up, from an on-disk cache
	// when it is warm. The default build.
	EngineWazero = "wazero"

	// EngineWasm2go is github.com/ncruces/go-sqlite3 v0.33 or later, where
	// SQLite's Wasm is translated to Go and compiled with the program: no
	// start-up compile and no cache. Built with -tags litedir_wasm2go.
	EngineWasm2go = "wasm2go"
)

// Engine describes the SQLite engine after [Initialize].
type Engine struct {
	// Name is the engine this program was built with: [EngineWazero] or
	// [EngineWasm2go]. It is set before Initialize, too.
	Name string

	// CacheDir is the directory of wazero's compilation cache, or "" when no
	// cache is in use (always on wasm2go).
	CacheDir string

	// CacheNote says why the cache is off ("disabled by
	// LITEDIR_CACHE_DIR=off", "not usable: ...", "not needed: ..." on
	// wasm2go), or why it was rebuilt or how it is used ("read-only: ...").
	// It is "" when the cache worked at once.
	CacheNote string

	// InitTime is how long Initialize took: seconds when SQLite was compiled
	// from scratch, milliseconds from a warm cache or on wasm2go.
	InitTime time.Duration

	// SQLiteVersion is SQLite's sqlite_version(), such as "3.51.3".
	SQLiteVersion string

	// DriverVersion is the module version of github.com/ncruces/go-sqlite3
	// linked into the program, or "" when it cannot be told (a driver
	// replaced by a local directory in a program without build info).
	DriverVersion string
}

// engine is the process-wide state behind Initialize. The driver initializes
// SQLite once per process, and so does this.
var engine struct {
	once sync.Once
	err  error
	info atomic.Pointer[Engine]
}

// Initialize prepares SQLite, once per process. It is safe for concurrent
// use; every call blocks until the first one is done and returns its result.
// logger receives what happened to the cache (nil discards); loggers of later
// calls are ignored. [Open] calls Initialize, so calling it is only needed to
// choose when the work happens; see also [Warmup].
//
// What the work is depends on the engine (see [Engine].Name). On wazero (the
// default build) Initialize configures the driver's runtime and compiles
// SQLite to machine code, from a compilation cache when it can: the cache
// lives in $LITEDIR_CACHE_DIR (see [EnvCacheDir]) or
// os.UserCacheDir()/litedir/wazero, each connection gets a Wasm memory limit
// of 256 MB (32 MB on 32-bit platforms; without a limit each connection
// reserves 4 GB of address space), and the Wasm 2.0 core features SQLite
// needs are enabled. The driver uses these defaults only when it has no
// configuration at all, so litedir has to restate them next to the cache.
//
// A cache that fails to compile SQLite would fail it for the rest of the
// process (the driver compiles once and remembers the error), so a cache
// entry is checked before the driver sees it: the entry wazero will load is
// read and verified (header, code checksum) without compiling, and the
// driver's compile is then the only one in the process. When there is no
// valid entry, Initialize first compiles SQLite with the cache itself: if
// that fails (a directory that cannot be written, a corrupt entry), it
// removes wazero's entries from the cache directory and tries once more with
// a fresh cache, and if that fails too, runs without a cache. A cache
// directory that can be read but not written (one installed system-wide) is
// used when it holds a valid entry, and left alone otherwise. The cache never
// causes an error.
//
// If the program set sqlite3.RuntimeConfig itself, Initialize leaves it alone
// and says so in [Engine].CacheNote. If something compiled SQLite before
// Initialize (any connection opened through the driver does), the
// configuration comes too late to apply; call Initialize first.
//
// On wasm2go (-tags litedir_wasm2go) SQLite is already Go code: Initialize
// only asks it for its version, in milliseconds, and there is no cache.
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
// returned, even if it failed. Before, only Name and DriverVersion are set.
func EngineInfo() Engine {
	if info := engine.info.Load(); info != nil {
		return *info
	}
	return Engine{Name: engineName, DriverVersion: driverVersion()}
}

func initialize(logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	info := Engine{Name: engineName, DriverVersion: driverVersion()}
	defer func() {
		info.InitTime = time.Since(start)
		engine.info.Store(&info)
	}()

	if err := setupEngine(logger, &info); err != nil {
		return fmt.Errorf("ncruces: initialize SQLite: %w", err)
	}
	version, err := sqliteVersion()
	if err != nil {
		return fmt.Errorf("ncruces: initialize SQLite: %w", err)
	}
	info.SQLiteVersion = version
	logger.Debug("ncruces: SQLite ready", "engine", info.Name, "sqlite", version, "driver", info.DriverVersion,
		"cache", info.CacheDir, "took", time.Since(start))
	return nil
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

// driverVersion returns the version of the driver linked into the program:
// from the build info of a program, or else from the driver's source path,
// which names the module version (".../go-sqlite3@v0.35.3/conn.go") in test
// binaries and -trimpath builds too, whose build info lists no modules. It
// returns "" when neither tells, as with a driver replaced by a directory.
func driverVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != driverModule {
				continue
			}
			if m.Replace != nil {
				return m.Replace.Version // "" for a directory
			}
			if m.Version != "" && m.Version != "(devel)" {
				return m.Version
			}
		}
	}
	return driverSourceVersion()
}

// driverPathVersion matches the module version in a source path of the
// driver, with slashes.
var driverPathVersion = regexp.MustCompile(`go-sqlite3@(v[0-9][^/]*)/`)

// driverSourceVersion returns the module version in the source path of the
// driver's Open, or "".
func driverSourceVersion() string {
	pc := reflect.ValueOf(sqlite3.Open).Pointer()
	fn := runtime.FuncForPC(pc)
	if fn == nil {
		return ""
	}
	file, _ := fn.FileLine(pc)
	if m := driverPathVersion.FindStringSubmatch(strings.ReplaceAll(file, `\`, "/")); m != nil {
		return m[1]
	}
	return ""
}

// versionAtLeast reports whether the module version v ("v0.35.3", maybe with
// a pre-release or pseudo-version suffix) is at least major.minor.patch. A
// version it cannot parse is not. A pre-release of exactly that version is
// not either.
func versionAtLeast(v string, major, minor, patch int) bool {
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return false
	}
	core, pre, _ := strings.Cut(rest, "-")
	core, _, _ = strings.Cut(core, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return false
		}
		n[i] = x
	}
	want := [3]int{major, minor, patch}
	for i := range n {
		if n[i] != want[i] {
			return n[i] > want[i]
		}
	}
	return pre == ""
}
