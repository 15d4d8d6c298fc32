//go:build litedir_wasm2go

package ncruces

import (
	"log/slog"

	"github.com/ncruces/go-sqlite3"
)

// The litedir_wasm2go tag needs github.com/ncruces/go-sqlite3 v0.33 or later
// (require it in go.mod); on v0.32 this line fails to compile, "undefined:
// sqlite3.WithMaxMemory", rather than SQLite silently compiling from scratch
// in every process on a wazero without litedir's cache.
var _ = sqlite3.WithMaxMemory

// engineName is the engine of this build: the driver from v0.33 on, where
// SQLite's Wasm is translated to Go (wasm2go) and compiled with the program.
const engineName = EngineWasm2go

// cacheNotNeeded is the cache note of the wasm2go engine.
const cacheNotNeeded = "not needed: SQLite is compiled into the program (wasm2go)"

// setupEngine has nothing to configure: there is no runtime and no compile
// at start-up, and the driver's default memory limit per connection (256 MB,
// 32 MB on 32-bit platforms) is the one litedir sets on wazero. SQLite itself
// starts with the first connection, which sqliteVersion opens.
func setupEngine(logger *slog.Logger, info *Engine) error {
	info.CacheNote = cacheNotNeeded
	logger.Debug("ncruces: no compilation cache", "reason", cacheNotNeeded)
	return nil
}
