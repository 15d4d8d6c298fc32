package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/litedir/litedir/cmd/litedir/internal/bench"
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

	litedir bench                              # 16 writers on a fresh workspace
	litedir bench -compare -sync full -duration 10s
	litedir bench -writers 4 -readers 4 -compare -json
	litedir bench -workload sqlc -compare        # sqlc's statement shapes
	litedir bench -hold-reader                  # beside a long-lived reader`

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
	flags := newFlagSet(bench.OpenChild, "[-name N] [-key-file F] DIR",
		"Bench-open is the child process of litedir bench's open-time measurement.", stderr)
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	if err != nil {
		return usageExit(flags, err)
	}
	elapsed, err := bench.MeasureOpenChild(ctx, pos[0], *name, key.file())
	if err != nil {
		return report(stderr, bench.OpenChild, err)
	}
	fmt.Fprintln(stdout, elapsed.Nanoseconds())
	return exitOK
}
