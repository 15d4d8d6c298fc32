package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/litedir/litedir/ncruces"
)

const warmDoc = `
Warm compiles the SQLite engine into the on-disk engine cache, so that the
first program that opens a workspace afterwards starts in milliseconds
instead of seconds. Installers and editor plugins run it once after
installing; running it again only checks the cache.

The cache is $LITEDIR_CACHE_DIR, or litedir/wazero under the user cache
directory. It is an error when no cache can be used (LITEDIR_CACHE_DIR=off,
or a directory that cannot be written and holds no valid entry): warming
would then achieve nothing. A directory that can only be read is fine once
it holds the entry, as a cache installed system-wide does.

A litedir built with -tags litedir_wasm2go (the wasm2go engine) needs no
cache: SQLite is compiled into the program. Warm then only says so.

Example:

	LITEDIR_CACHE_DIR=/opt/myapp/cache litedir warm`

func runWarm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("warm", "", warmDoc, stderr)
	if _, err := parseArgs(flags, args); err != nil {
		return usageExit(flags, err)
	}
	return report(stderr, "warm", warm(stdout, stderr))
}

// errNoCache is the error of warm when the engine runs without a cache.
var errNoCache = errors.New("no engine cache")

// warm compiles the engine, or loads it from the cache, and says which.
func warm(stdout, stderr io.Writer) error {
	if err := ncruces.Initialize(newLogger(stderr, slog.LevelWarn)); err != nil {
		return err
	}
	e := ncruces.EngineInfo()
	if e.Name == ncruces.EngineWasm2go {
		_, err := fmt.Fprintf(stdout, "SQLite %s ready in %s; no engine cache needed (%s)\n",
			e.SQLiteVersion, e.InitTime.Round(1e6), e.CacheNote)
		return err
	}
	if e.CacheDir == "" {
		return fmt.Errorf("%w: %s (set %s to a writable directory)", errNoCache, e.CacheNote, ncruces.EnvCacheDir)
	}
	if _, err := os.Stat(e.CacheDir); err != nil {
		return fmt.Errorf("%w: %w", errNoCache, err)
	}
	note := ""
	if e.CacheNote != "" {
		note = " (" + e.CacheNote + ")"
	}
	_, err := fmt.Fprintf(stdout, "SQLite %s ready in %s, cached in %s%s\n",
		e.SQLiteVersion, e.InitTime.Round(1e6), e.CacheDir, note)
	return err
}
