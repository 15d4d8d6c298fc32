package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// benchDoc is the description in litedir bench's usage.
const benchDoc = `
Bench measures what many goroutines (sub-agents) get from one workspace:
each writer loops on Workspace.Write, inserting a message and updating its
session in one call, which litedir gathers with other goroutines' calls into
one transaction (group commit); each reader loops on the latest 20 messages
of a session through Workspace.ReadDB. Every Write's latency is recorded.

At the end of each phase bench runs PRAGMA integrity_check and verifies that
every Write that returned nil is in the database: count(messages) and the sum
of sessions.message_count must both have grown by exactly that many. A
mismatch or a failed write fails the run with exit status 1, an integrity
problem with exit status 4.

With -compare, two more phases run the same workload: through the front
(Workspace.SQL), the code unchanged, each statement outside a transaction
joining a group-commit batch and the reads going to the read pool; and on
the configuration agents ship today: a fresh database with one pooled
connection, one BEGIN IMMEDIATE transaction per write (with -workload sqlc:
each statement in autocommit, as sqlc-generated code over a *sql.DB runs
it), and the reads on that same connection.

With -hold-reader, the litedir phase runs again beside a reader that holds a
read transaction and renews it every second, as Litestream and other WAL
replicators do; bench reports its writes/s, worst write and WAL size against
the phase without it.

-workload sqlc runs the statement shapes of sqlc-generated code: each write
is INSERT … RETURNING * into messages and UPDATE … RETURNING of its
session, through QueryRowContext, and readers alternate a read by id and the
latest messages of a session.

Then bench closes the workspace and runs "litedir bench-open DIR" -open-runs
times as child processes, each timing Open plus a first query: the first
with an empty engine cache (cold: it compiles SQLite), the others with the
cache the first one filled (warm).

On a terminal, a progress line on stderr shows the elapsed time, writes and
reads per second, the mean batch and the WAL size every 500 ms.

Without DIR, bench uses a new temporary workspace and removes it at the end
(unless -keep). With DIR, it opens or creates the workspace there, adds its
sessions and messages to it, and keeps it.

Interrupting bench (Ctrl-C) stops the running phase early and skips the
phases after it; bench still verifies and prints what was measured, removes
its temporary directories (unless -keep) and exits with status 1.

Examples:

	litedir bench                              # 16 writers on a fresh workspace
	litedir bench -compare -sync full -duration 10s
	litedir bench -writers 4 -readers 4 -compare -json
	litedir bench -workload sqlc -compare        # sqlc's statement shapes
	litedir bench -hold-reader                  # beside a long-lived reader`

// benchConfig is the command line of litedir bench, validated.
type benchConfig struct {
	dir      string // "" means a new temporary workspace
	name     string // workspace name
	writers  int
	readers  int
	conns    int // the workspace's read pool; 0 = its default
	duration time.Duration
	sync     string // OFF, NORMAL, FULL or EXTRA
	rowSize  int
	sessions int
	compare  bool
	workload string // workloadPlain or workloadSQLC
	// holdReader runs the litedir phase again beside a reader that holds
	// a read transaction and renews it every second.
	holdReader bool
	json       bool
	openRuns   int
	keep       bool
}

// maxRowSize bounds -row-size: every writer holds a body in memory and
// SQLite holds a batch of them, and nothing agents write comes close.
const maxRowSize = 16 << 20

// syncModes are the values of -sync, mapped to PRAGMA synchronous.
var syncModes = map[string]string{"off": "OFF", "normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}

// benchFlags defines litedir bench's flags on flags, parses args and
// validates them. Errors are flag.ErrHelp for -h, or match errUsage.
func benchFlags(flags *flag.FlagSet, args []string) (*benchConfig, error) {
	c := &benchConfig{}
	var sync string
	flags.IntVar(&c.writers, "writers", 16, "number of writer goroutines")
	flags.IntVar(&c.readers, "readers", 0, "number of reader goroutines")
	flags.IntVar(&c.conns, "read-conns", 0, "connections in the workspace's read pool (Options.Readers); 0 means its default, max(2, GOMAXPROCS)")
	flags.DurationVar(&c.duration, "duration", 5*time.Second, "how long each phase runs")
	flags.StringVar(&sync, "sync", "normal", "PRAGMA synchronous: off, normal, full or extra")
	flags.IntVar(&c.rowSize, "row-size", 200, "message body size in bytes")
	flags.IntVar(&c.sessions, "sessions", 64, "sessions the writers and readers spread over")
	flags.BoolVar(&c.compare, "compare", false, "also run the front (Workspace.SQL, code unchanged) and the baseline: one connection, one transaction per write")
	flags.BoolVar(&c.holdReader, "hold-reader", false, "also run the litedir phase beside a reader that holds a read transaction and renews it every second, as WAL replicators do")
	flags.StringVar(&c.workload, "workload", workloadPlain, "statement shapes: plain (two ExecContext per write) or sqlc (INSERT … RETURNING * and UPDATE … RETURNING through QueryRowContext; reads by id and by session)")
	flags.BoolVar(&c.json, "json", false, "print one JSON object, in ns, bytes and counts")
	flags.IntVar(&c.openRuns, "open-runs", 5, "child processes timing Open and a first query; 0 skips")
	flags.BoolVar(&c.keep, "keep", false, "keep the temporary directories")
	name := nameFlag(flags)
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		// The flag package has printed the error and the usage already.
		return nil, &usageErr{msg: err.Error(), shown: true}
	}
	c.name = *name
	switch pos := flags.Args(); {
	case len(pos) > 1 && strings.HasPrefix(pos[1], "-"):
		// As in the other commands: the flag package stops at DIR.
		return nil, usageError("flag %s after the arguments: flags go first", pos[1])
	case len(pos) > 1:
		return nil, usageError("unexpected argument %q (want at most DIR)", pos[1])
	case len(pos) == 1 && pos[0] == "":
		return nil, usageError("empty DIR")
	case len(pos) == 1:
		c.dir = pos[0]
	}

	mode, ok := syncModes[strings.ToLower(sync)]
	switch {
	case c.writers < 1:
		return nil, usageError("-writers %d: need at least 1", c.writers)
	case c.readers < 0:
		return nil, usageError("-readers %d: cannot be negative", c.readers)
	case c.conns < 0:
		return nil, usageError("-read-conns %d: cannot be negative", c.conns)
	case c.duration <= 0:
		return nil, usageError("-duration %v: must be positive", c.duration)
	case !ok:
		return nil, usageError("-sync %q: want off, normal, full or extra", sync)
	case c.rowSize < 1 || c.rowSize > maxRowSize:
		return nil, usageError("-row-size %d: want 1 to %d bytes", c.rowSize, maxRowSize)
	case c.sessions < 1:
		return nil, usageError("-sessions %d: need at least 1", c.sessions)
	case c.openRuns < 0:
		return nil, usageError("-open-runs %d: cannot be negative", c.openRuns)
	case c.workload != workloadPlain && c.workload != workloadSQLC:
		return nil, usageError("-workload %q: want plain or sqlc", c.workload)
	}
	c.sync = mode
	return c, nil
}

// runBench is litedir bench: it parses the flags, runs the phases, prints
// what they measured, and returns the exit status.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("bench", "[flags] [DIR]", benchDoc, stderr)
	c, err := benchFlags(flags, args)
	if err != nil {
		return usageExit(flags, err)
	}
	res, err := bench(ctx, c, stderr)
	if res != nil {
		var werr error
		if c.json {
			werr = writeJSON(stdout, res)
		} else {
			werr = writeBenchText(stdout, res)
		}
		err = errors.Join(err, werr)
	}
	return report(stderr, "bench", err)
}

// bench runs the phases c asks for. It returns what was measured, also
// when it returns an error after a phase ran, so that an interrupted or
// failing run still shows its numbers.
func bench(ctx context.Context, c *benchConfig, stderr io.Writer) (res *benchResult, err error) {
	dir, temporary := c.dir, c.dir == ""
	var cleanups []func()
	defer func() {
		// Reverse order: the open-time cache, the baseline, the workspace.
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	tempDir := func(pattern string) (string, error) {
		d, err := os.MkdirTemp("", pattern)
		if err != nil {
			return "", err
		}
		cleanups = append(cleanups, func() {
			if c.keep {
				fmt.Fprintf(stderr, "litedir bench: kept %s\n", d)
				return
			}
			if err := os.RemoveAll(d); err != nil {
				fmt.Fprintf(stderr, "litedir bench: removing %s: %v\n", d, err)
			}
		})
		return d, nil
	}
	if temporary {
		if dir, err = tempDir("litedir-bench-*"); err != nil {
			return nil, err
		}
	}

	ws, err := workspace.Open(ctx, dir, &workspace.Options{
		Name:       c.name,
		Migrations: migrations.Builtin,
		Program:    "litedir bench",
		Readers:    c.conns,
		Logger:     newLogger(stderr, slog.LevelWarn),
		Pragmas:    []ncruces.Pragma{{Name: "synchronous", Value: c.sync}},
	})
	if err != nil {
		return nil, err
	}
	st, err := ws.Status(ctx)
	if err != nil {
		return nil, errors.Join(err, ws.Close())
	}
	res = &benchResult{Config: benchConfigJSON{
		Writers:       c.writers,
		Readers:       c.readers,
		ReadConns:     st.Readers,
		DurationNs:    c.duration.Nanoseconds(),
		Synchronous:   c.sync,
		RowSize:       c.rowSize,
		Sessions:      c.sessions,
		Workload:      c.workload,
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		GOOS:          runtime.GOOS,
		GOARCH:        runtime.GOARCH,
		SQLiteVersion: ncruces.EngineInfo().SQLiteVersion,
		Workspace:     ws.Path(),
		Temporary:     temporary,
		Kept:          !temporary || c.keep,
	}}
	defer func() {
		if res != nil {
			res.Interrupted = ctx.Err() != nil
		}
	}()
	// The safety failures of each phase; they outrank an interruption in the
	// exit status.
	var failures []error

	lt := &litedirTarget{ws: ws, workload: c.workload}
	ph, err := runPhase(ctx, c, "litedir", lt, stderr)
	if ph == nil {
		res = nil // nothing was measured
		return nil, errors.Join(err, ws.Close())
	}
	res.Litedir = ph
	if err != nil {
		return res, errors.Join(err, ws.Close())
	}
	failures = append(failures, ph.failures()...)
	if c.compare && ctx.Err() == nil {
		ph, err := runPhase(ctx, c, "front", &frontTarget{*lt}, stderr)
		res.Front = ph
		if err != nil {
			return res, errors.Join(append(failures, err, ws.Close())...)
		}
		failures = append(failures, ph.failures()...)
	}
	if c.holdReader && ctx.Err() == nil {
		ph, err := runHoldReader(ctx, c, lt, stderr)
		res.HoldReader = ph
		if err != nil {
			return res, errors.Join(append(failures, err, ws.Close())...)
		}
		failures = append(failures, ph.failures()...)
		res.HoldReaderRatios = newRatios(ph, res.Litedir)
	}
	if err := ws.Close(); err != nil {
		return res, errors.Join(append(failures, err)...)
	}

	if c.compare && ctx.Err() == nil {
		bdir, err := tempDir("litedir-bench-baseline-*")
		if err != nil {
			return res, errors.Join(append(failures, err)...)
		}
		t, err := openBaseline(ctx, filepath.Join(bdir, c.name+".db"), c.sync, c.workload)
		if err != nil {
			return res, errors.Join(append(failures, err)...)
		}
		ph, err := runPhase(ctx, c, "baseline", t, stderr)
		res.Baseline = ph
		if cerr := t.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		if err != nil {
			return res, errors.Join(append(failures, err)...)
		}
		failures = append(failures, ph.failures()...)
		res.Ratios = newRatios(res.Litedir, res.Baseline)
		if res.Front != nil {
			res.FrontRatios = newRatios(res.Front, res.Baseline)
		}
	}

	if c.openRuns > 0 && ctx.Err() == nil {
		cache, err := tempDir("litedir-bench-cache-*")
		if err == nil {
			res.Open, err = measureOpen(ctx, dir, c.name, cache, c.openRuns)
		}
		if err != nil && ctx.Err() == nil {
			return res, errors.Join(append(failures, fmt.Errorf("open time: %w", err))...)
		}
	}

	if len(failures) > 0 {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "litedir bench: interrupted\n")
		}
		return res, errors.Join(failures...)
	}
	return res, ctx.Err()
}
