package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/litedir/litedir/cmd/litedir/internal/bench"
)

// benchDoc is the description in litedir bench's usage.
const benchDoc = `
Bench measures what many goroutines (sub-agents) get from one workspace, and
how that compares with what programs ship today. Three phases run the same
workload, one after the other, each for -duration (5s):

  litedir   each writer loops on Workspace.Write, running a write's
            statements (insert a message, update its session) in one call,
            which litedir gathers with other goroutines' calls into one
            transaction (group commit); readers use Workspace.ReadDB.
  front     the same statements through Workspace.SQL, the code unchanged:
            each statement outside a transaction joins a group-commit batch,
            reads go to the read pool.
  baseline  a fresh database with one pooled connection, as programs ship
            today: one BEGIN IMMEDIATE transaction per write (with -workload
            sqlc or client: each statement in autocommit, as sqlc-generated
            code over a *sql.DB runs it), the reads on that same connection.

The table ends with the ratios: litedir/baseline and front/baseline for
rates, the inverse for latencies, so that above 1 always means litedir is
better; the line under it says in one sentence how much faster litedir and
the front wrote. -compare=false runs the litedir phase alone, in a third of
the time. With the defaults a run takes about 25 seconds: 15 for the phases,
the rest verifying, checking, and timing Open.

Every Write's latency is recorded. At the end of each phase bench runs
PRAGMA integrity_check and verifies that every write that returned nil is in
the database exactly once, by the key at the start of its text, and that
count(messages) and the sum of sessions.message_count both grew by exactly
that many. A mismatch or a failed write fails the run with exit status 1, an
integrity problem with exit status 4.

-workload chooses the statements:

  plain   (default) the built-in agent schema; INSERT the message and UPDATE
          its session's count, two ExecContext calls.
  sqlc    the same schema in sqlc's shapes: INSERT … RETURNING * and
          UPDATE … RETURNING through QueryRowContext; readers alternate a
          read by id and the latest messages of a session.
  client  a real sqlc client's schema (text UUID keys, messages whose JSON
          parts are 0.2 to 4 KiB, a trigger that counts each message in its
          session, three indexes): sqlc's CreateMessage (:one, INSERT …
          RETURNING every column) and UpdateSessionUsage (:exec); readers
          alternate a session's latest messages and a session by id.
          -row-size does not apply.

With -hold-reader, the litedir phase runs again beside a reader that holds a
read transaction and renews it every second, as Litestream and other WAL
replicators do; bench reports its writes/s, worst write and WAL size against
the phase without it.

Then bench closes the workspace and runs "litedir bench-open DIR" -open-runs
times as child processes, each timing Open plus a first query: the first
with an empty engine cache (cold: it compiles SQLite), the others with the
cache the first one filled (warm).

On a terminal, a progress line on stderr shows the elapsed time, writes and
reads per second, the mean batch and the WAL size every 500 ms.

With -key-file (or LITEDIR_KEY_FILE) the workspace, and the baseline's
database, are encrypted with the key in that file, and the open-time
children read it as a program would: the cost of encryption, against a run
without it.

Without DIR, bench uses a new temporary workspace and removes it at the end
(unless -keep). With DIR, it opens or creates the workspace there, adds its
sessions and messages to it, and keeps it.

Interrupting bench (Ctrl-C) stops the running phase early and skips the
phases after it; bench still verifies and prints what was measured, removes
its temporary directories (unless -keep) and exits with status 1.

Examples:

	litedir bench                              # litedir, the front and the baseline, with ratios
	litedir bench -compare=false               # litedir alone: the short run
	litedir bench -sync full -duration 10s
	litedir bench -writers 4 -readers 4 -json
	litedir bench -workload client             # a real sqlc client's schema and calls
	litedir bench -hold-reader -compare=false  # beside a long-lived reader`

// ackLogEnv names a file that bench writes a line to after each
// acknowledged write (see bench.Config.LogAcks). It is for CI's strace
// checker (.ci/strace), not for users, and is not in bench's usage.
const ackLogEnv = "LITEDIR_BENCH_ACKS"

// runBench is litedir bench: it parses the flags (before or after DIR, as
// every command takes them), runs the phases (package bench), prints what
// they measured, and returns the exit status.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("bench", "[flags] [DIR]", benchDoc, stderr)
	bf := bench.DefineFlags(flags)
	asJSON := flags.Bool("json", false, "print one JSON object, in ns, bytes and counts")
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, rest, err := parseInterspersed(flags, args)
	if err != nil {
		return usageExit(flags, err)
	}
	pos = append(pos, rest...)
	dir := ""
	switch {
	case len(pos) > 1:
		return usageExit(flags, usageError("unexpected argument %q (want at most DIR)", pos[1]))
	case len(pos) == 1 && pos[0] == "":
		return usageExit(flags, usageError("empty DIR"))
	case len(pos) == 1:
		dir = pos[0]
	}
	var progress io.Writer
	if isTerminal(stderr) {
		progress = stderr
	}
	c, err := bf.Config(dir, *name, progress, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return usageExit(flags, usageError("%v", err))
	}
	if path := os.Getenv(ackLogEnv); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return report(stderr, "bench", fmt.Errorf("%s: %w", ackLogEnv, err))
		}
		defer f.Close()
		c.LogAcks(f)
	}
	c.SetKeyFile(key.file())
	res, err := bench.Run(ctx, c, stderr)
	if res != nil {
		var werr error
		if *asJSON {
			werr = writeJSON(stdout, res)
		} else {
			werr = bench.WriteText(stdout, res)
		}
		err = errors.Join(err, werr)
	}
	return report(stderr, "bench", err)
}

// runBenchOpen is the hidden command "litedir bench-open [-name N] DIR",
// the child process of bench's open-time measurement (see
// bench.MeasureOpenChild): it prints the elapsed nanoseconds, alone on a
// line, after closing the workspace.
func runBenchOpen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet(bench.OpenChild, "[-name N] [-workload W] [-key-file F] DIR",
		"Bench-open is the child process of litedir bench's open-time measurement.", stderr)
	name := nameFlag(flags)
	workload := flags.String("workload", "plain", "the workload whose schema the workspace has")
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	if err != nil {
		return usageExit(flags, err)
	}
	elapsed, err := bench.MeasureOpenChild(ctx, pos[0], *name, *workload, key.file())
	if errors.Is(err, bench.ErrUsage) {
		return usageExit(flags, err)
	}
	if err != nil {
		return report(stderr, bench.OpenChild, err)
	}
	fmt.Fprintln(stdout, elapsed.Nanoseconds())
	return exitOK
}
