// Command litedir inspects, checks, backs up and benchmarks litedir
// workspaces, also while another process owns them.
//
// Usage:
//
//	litedir <command> [flags] [arguments]
//
// The commands are:
//
//	bench       measure group-commit writes and reads on a workspace
//	status      show a workspace's files, schema, lock owner and engine
//	check       verify a workspace's database (exit status 4 on problems)
//	backup      write a consistent copy of a workspace's database
//	recover     salvage a damaged workspace into a new one
//	sql         run SQL on a workspace, read-only unless -write
//	migrate     apply migrations to a workspace, or list them
//	checkpoint  copy the WAL into the database file
//	vacuum      rebuild the database without free pages, or copy it compacted
//	rekey       re-encrypt an encrypted workspace with a new key
//	encrypt     encrypt a plaintext workspace in place
//	decrypt     decrypt an encrypted workspace in place
//	lock        hold a workspace's lock until interrupted, or while a command runs
//	warm        compile the SQLite engine into the on-disk cache
//	version     print versions and the platform profile
//
// Run "litedir <command> -h" for a command's flags and details.
//
// # Workspaces and locks
//
// A workspace is a directory holding the database NAME.db and the lock file
// NAME.lock (NAME is "litedir" unless -name says otherwise). status, check,
// backup, sql and vacuum -into read the database without the lock, so they
// work while another process owns the workspace, and never change a byte of
// it; migrate, checkpoint, vacuum, sql -write, rekey, encrypt and decrypt
// take the lock like any program opening the workspace, and lock takes it
// and holds it. No command but migrate, lock and recover (whose DST is a new
// workspace) creates a workspace.
//
// Flags may come before or after the arguments; "--" ends them.
//
// # Encrypted workspaces
//
// Every command that opens a workspace takes the key of an encrypted one
// from the file named by -key-file, or by LITEDIR_KEY_FILE: 32 bytes, or 64
// hex digits and a newline. A key is never a flag's value, which the process
// list would show. rekey, encrypt and decrypt change a workspace's key in
// place, under its lock.
//
// # Exit status
//
// 0 success (and -h), 1 error, 2 usage error, 3 workspace locked by another
// process, 4 check found problems (recover: rows could not be recovered). Errors are printed on stderr as
// "litedir <command>: ...", naming the operation and the path.
//
// # Environment
//
// LITEDIR_CACHE_DIR is the directory of the compiled SQLite engine ("off"
// disables the cache; the default is under the user cache directory).
// LITEDIR_KEY_FILE names the key file of an encrypted workspace when
// -key-file is not given.
// LITEDIR_SKIP_LOCK=1 makes the commands that take the lock open workspaces
// without it, for filesystems that have no advisory locks (lock -- CMD sets
// it for CMD, which runs under lock's own lock).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/litedir/litedir/cmd/litedir/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand: its name, a one-line summary and its entry
// point, which parses its own flags and returns the exit status.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"bench", "measure group-commit writes and reads on a workspace", runBench},
	{"status", "show a workspace's files, schema, lock owner and engine", runStatus},
	{"check", "verify a workspace's database (exit status 4 on problems)", runCheck},
	{"backup", "write a consistent copy of a workspace's database", runBackup},
	{"recover", "salvage a damaged workspace into a new one (exit status 4 if rows were lost)", runRecover},
	{"sql", "run SQL on a workspace, read-only unless -write", runSQL},
	{"migrate", "apply migrations to a workspace, or list them", runMigrate},
	{"checkpoint", "copy the WAL into the database file", runCheckpoint},
	{"vacuum", "rebuild the database without free pages, or copy it compacted", runVacuum},
	{"rekey", "re-encrypt an encrypted workspace with a new key", runRekey},
	{"encrypt", "encrypt a plaintext workspace in place", runEncrypt},
	{"decrypt", "decrypt an encrypted workspace in place", runDecrypt},
	{"lock", "hold a workspace's lock until interrupted, or while a command runs", runLock},
	{"warm", "compile the SQLite engine into the on-disk cache", runWarm},
	{"version", "print versions and the platform profile", runVersion},
	// Hidden: the child process of bench's open-time measurement.
	{bench.OpenChild, "", runBenchOpen},
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "litedir: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: litedir <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		if c.summary != "" {
			fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "\nRun 'litedir <command> -h' for a command's flags.\n")
	fmt.Fprintf(w, "Exit status: 0 ok, 1 error, 2 usage, 3 workspace locked, 4 check failed.\n")
}
