package bench

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

// Config is what a run measures: litedir bench's command line, validated
// by [Flags.Config].
type Config struct {
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
	workload string   // the value of -workload
	wl       workload // the workload it names
	// holdReader runs the litedir phase again beside a reader that holds
	// a read transaction and renews it every second.
	holdReader bool
	// externalCheckpoints opens the workspace with
	// Options.ExternalCheckpoints, as beside Litestream.
	externalCheckpoints bool
	openRuns            int
	keep                bool
	// cpuProfile, when not "", is where each phase's CPU profile goes, the
	// phase's name inserted before the extension (see phaseProfilePath).
	cpuProfile string

	// keyFile, when not "", encrypts the workspace and the baseline with
	// the key in that file (see Config.SetKeyFile); key is that key, open
	// while Run runs.
	keyFile string
	key     *ncruces.Key

	// progress, when not nil, receives a progress line redrawn every
	// 500 ms (a terminal); logger receives the workspace's warnings.
	progress io.Writer
	logger   *slog.Logger

	// acks, when not nil, receives the markers of LogAcks.
	acks io.Writer
}

// LogAcks makes the phases that write through the workspace (litedir,
// front, hold_reader; not the baseline) write a line "phase NAME" to w as
// they start, and a line "ack KEY" after each write that returned nil, where
// KEY is the write's key, which leads its message body. Each line is one
// Write call on w, which must be safe for concurrent use: with an *os.File
// each is one write(2), which CI's strace checker (.ci/stracecheck) sees in
// order with the WAL's writes and syncs, to prove that every acknowledged
// write was on disk before its acknowledgement. A write to w that fails
// stops its writer with the error, which fails the run.
func (c *Config) LogAcks(w io.Writer) { c.acks = w }

// maxRowSize bounds -row-size: every writer holds a body in memory and
// SQLite holds a batch of them, and nothing agents write comes close.
const maxRowSize = 16 << 20

// syncModes are the values of -sync, mapped to PRAGMA synchronous.
var syncModes = map[string]string{"off": "OFF", "normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}

// ErrUsage is matched by the errors of [Flags.Config]: a value out of range
// on the command line.
var ErrUsage = errors.New("usage")

// usageErr is a value out of range on the command line. It matches
// ErrUsage; its text is the complaint alone.
type usageErr struct{ msg string }

func (e *usageErr) Error() string        { return e.msg }
func (e *usageErr) Is(target error) bool { return target == ErrUsage }

// usageError returns an error matching ErrUsage.
func usageError(format string, args ...any) error {
	return &usageErr{msg: fmt.Sprintf(format, args...)}
}

// Flags are bench's flags, defined on a flag set by [DefineFlags].
type Flags struct {
	c    Config
	sync string
}

// DefineFlags defines bench's measurement flags on flags (the command adds
// its own: -json, -name) and returns them, to read after flags.Parse.
func DefineFlags(flags *flag.FlagSet) *Flags {
	f := &Flags{}
	c := &f.c
	flags.IntVar(&c.writers, "writers", 16, "number of writer goroutines")
	flags.IntVar(&c.readers, "readers", 0, "number of reader goroutines")
	flags.IntVar(&c.conns, "read-conns", 0, "connections in the workspace's read pool (Options.Readers); 0 means its default, max(2, GOMAXPROCS)")
	flags.DurationVar(&c.duration, "duration", 5*time.Second, "how long each phase runs")
	flags.StringVar(&f.sync, "sync", "normal", "PRAGMA synchronous: off, normal, full or extra")
	flags.IntVar(&c.rowSize, "row-size", 200, "message body size in bytes")
	flags.IntVar(&c.sessions, "sessions", 64, "sessions the writers and readers spread over")
	flags.BoolVar(&c.compare, "compare", true, "also run the front (Workspace.SQL, code unchanged) and the baseline (one connection, as programs ship today) and print the ratios; -compare=false runs litedir alone, a third of the time")
	flags.BoolVar(&c.holdReader, "hold-reader", false, "also run the litedir phase beside a reader that holds a read transaction and renews it every second, as WAL replicators do")
	flags.BoolVar(&c.externalCheckpoints, "external-checkpoints", false, "open the workspace with Options.ExternalCheckpoints: litedir runs no checkpoint, as beside Litestream")
	flags.StringVar(&c.workload, "workload", workloadPlain, "statement shapes: plain (two ExecContext per write), sqlc (INSERT … RETURNING * and UPDATE … RETURNING through QueryRowContext; reads by id and by session) or client (a real sqlc client's schema: JSON parts of 0.2–4 KiB, a trigger, three indexes; a :one INSERT … RETURNING and an :exec UPDATE per write)")
	flags.IntVar(&c.openRuns, "open-runs", 5, "child processes timing Open and a first query; 0 skips")
	flags.BoolVar(&c.keep, "keep", false, "keep the temporary directories")
	flags.StringVar(&c.cpuProfile, "cpuprofile", "", "write each phase's CPU profile (the workload only) to this file, the phase's name before its extension: cpu.pprof gives cpu.litedir.pprof, cpu.front.pprof, cpu.baseline.pprof")
	return f
}

// Config validates the parsed flags and returns the run's configuration:
// dir is the workspace directory ("" for a new temporary one), name the
// workspace name, progress (nil for none) where a progress line is redrawn,
// logger (nil discards) where the workspace's warnings go. Errors match
// ErrUsage.
func (f *Flags) Config(dir, name string, progress io.Writer, logger *slog.Logger) (*Config, error) {
	c := f.c
	c.dir, c.name, c.progress, c.logger = dir, name, progress, logger
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	mode, ok := syncModes[strings.ToLower(f.sync)]
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
		return nil, usageError("-sync %q: want off, normal, full or extra", f.sync)
	case c.rowSize < 1 || c.rowSize > maxRowSize:
		return nil, usageError("-row-size %d: want 1 to %d bytes", c.rowSize, maxRowSize)
	case c.sessions < 1:
		return nil, usageError("-sessions %d: need at least 1", c.sessions)
	case c.openRuns < 0:
		return nil, usageError("-open-runs %d: cannot be negative", c.openRuns)
	case !isWorkload(c.workload):
		return nil, usageError("-workload %q: want %s", c.workload, strings.Join(workloadNames, ", "))
	}
	c.sync = mode
	c.wl, _ = newWorkload(c.workload, c.rowSize)
	return &c, nil
}

// SetKeyFile makes the run encrypt its workspace, and the baseline's
// database, with the key in the file at path (32 bytes, or 64 hex digits; see
// workspace.KeyFile), which every process of the run reads for itself:
// bench, and each child of the open-time measurement, whose time includes
// reading it. "" means plaintext, the default.
func (c *Config) SetKeyFile(path string) { c.keyFile = path }

// Run runs the phases c asks for and returns what they measured, also when
// it returns an error after a phase ran, so that an interrupted or failing
// run still shows its numbers. Notes (a kept directory, a failed cleanup)
// go to stderr. What a phase found wrong is in the error: lost or extra rows
// match ErrVerify, integrity problems workspace.ErrCheckFailed.
func Run(ctx context.Context, c *Config, stderr io.Writer) (res *Result, err error) {
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
	var keySource workspace.KeySource
	if c.keyFile != "" {
		keySource = workspace.KeyFile(c.keyFile)
		raw, err := keySource(ctx)
		if err != nil {
			return nil, err
		}
		if c.key, err = ncruces.NewKey(raw); err != nil {
			return nil, err
		}
		defer c.key.Close()
	}
	if temporary {
		if dir, err = tempDir("litedir-bench-*"); err != nil {
			return nil, err
		}
	}

	ws, err := workspace.Open(ctx, dir, &workspace.Options{
		Name:       c.name,
		Migrations: c.wl.schema(),
		Program:    "litedir bench",
		Readers:    c.conns,
		Logger:     c.logger,
		Pragmas:    []ncruces.Pragma{{Name: "synchronous", Value: c.sync}},
		Key:        keySource,

		ExternalCheckpoints: c.externalCheckpoints,
	})
	if err != nil {
		if errors.Is(err, migrations.ErrSchemaTooNew) || errors.Is(err, migrations.ErrMigrationFailed) {
			err = fmt.Errorf("%w (the %s workload has a schema of its own: a workspace another -workload made cannot take it)", err, c.workload)
		}
		return nil, err
	}
	st, err := ws.Status(ctx)
	if err != nil {
		return nil, errors.Join(err, ws.Close())
	}
	engine := ncruces.EngineInfo()
	res = &Result{Config: ConfigJSON{
		Writers:     c.writers,
		Readers:     c.readers,
		ReadConns:   st.Readers,
		DurationNs:  c.duration.Nanoseconds(),
		Synchronous: c.sync,
		RowSize:     c.rowSize,
		Sessions:    c.sessions,
		Workload:    c.workload,
		BodyBytes:   c.wl.describe().bodyBytes,

		ExternalCheckpoints: c.externalCheckpoints,
		Encrypted:           c.key != nil,
		GOMAXPROCS:          runtime.GOMAXPROCS(0),
		GOOS:                runtime.GOOS,
		GOARCH:              runtime.GOARCH,
		SQLiteVersion:       engine.SQLiteVersion,
		Engine:              engine.Name,
		DriverVersion:       engine.DriverVersion,
		Workspace:           ws.Path(),
		Temporary:           temporary,
		Kept:                !temporary || c.keep,
	}}
	defer func() {
		if res != nil {
			res.Interrupted = ctx.Err() != nil
		}
	}()
	// The safety failures of each phase; they outrank an interruption in the
	// exit status.
	var failures []error

	lt := &litedirTarget{ws: ws, wl: c.wl}
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
		t, err := openBaseline(ctx, filepath.Join(bdir, c.name+".db"), c.sync, c.wl, c.key, keySource)
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
			res.Open, err = measureOpen(ctx, dir, c.name, c.workload, c.keyFile, cache, c.openRuns)
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
