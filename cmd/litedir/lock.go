package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/workspace"
)

const lockDoc = `
Lock takes a workspace's directory lock, the one every program opening the
workspace takes, creating DIR if it is missing, and holds it until it is
interrupted (Ctrl-C, SIGINT or SIGTERM). Once the lock is held it prints
"locked DIR (pid N)"; after releasing it, "released DIR". It does not read
standard input, so it can run in the background of a script, which then waits
for the "locked" line and ends it with a signal.

Given a command after "--", lock holds the lock while the command runs, for a
maintenance window, and exits with the command's exit status. The command
inherits standard input and output and the environment, plus
LITEDIR_SKIP_LOCK=1, so that the litedir commands and litedir programs it runs
use the workspace under this lock instead of being refused by it. An
interrupt is passed on to the command; lock waits for it to end, then
releases the lock.

An exclusive lock (the default) keeps every other program out and writes an
owner record naming this process, its -program and its -meta pairs, which
other programs show when they are refused. A -shared lock only keeps out
exclusive holders and writes no record.

Exit status 3 means another process holds the lock (after -wait, if given);
the error names the holder.

Examples:

	litedir lock -wait 30s ./data -- litedir vacuum ./data
	litedir lock -program deploy -meta ticket=OPS-12 ./data &   # until killed`

func runLock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("lock", "[-shared] [-program P] [-meta key=value]... [-wait D] [-name N] DIR [-- CMD ARGS...]", lockDoc, stderr)
	shared := flags.Bool("shared", false, "take the lock shared rather than exclusive")
	program := flags.String("program", "litedir lock", "`program` named in the owner record")
	meta := metaFlag{}
	flags.Var(meta, "meta", "`key=value` pair for the owner record; repeatable")
	wait := waitFlag(flags, "a lock")
	name := nameFlag(flags)
	pos, cmd, err := parseCommandArgs(flags, args, "DIR")
	if err == nil && *shared {
		flags.Visit(func(f *flag.Flag) {
			if f.Name == "program" || f.Name == "meta" {
				err = usageError("-%s needs an exclusive lock: shared holders write no owner record", f.Name)
			}
		})
	}
	if err != nil {
		return usageExit(flags, err)
	}
	opts := lock.Options{Name: *name, Wait: *wait, Program: *program, Meta: meta}
	if *shared {
		opts.Mode = lock.Shared
	}
	if cmd != nil {
		return runLocked(ctx, stderr, pos[0], opts, cmd)
	}
	return report(stderr, "lock", holdLock(ctx, stdout, stderr, pos[0], opts))
}

// acquireDir takes the lock of dir, creating dir if it is missing. It warns
// on stderr where the lock keeps no other process out.
func acquireDir(ctx context.Context, stderr io.Writer, dir string, opts lock.Options) (*lock.Lock, string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", err
	}
	// lock.Acquire never creates the directory; workspace.Open does, and so
	// does this command, so that a workspace can be reserved before it
	// exists.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	// Where the platform has no locks at all (wasip1), the lock is this
	// process's alone, as the warning below says. A filesystem that refuses
	// locks on a platform that has them fails with lock.ErrUnsupported: a
	// lock for the commands that run under this one must keep other
	// processes out.
	opts.AllowInProcess = !lock.Supported
	l, err := lock.Acquire(ctx, dir, opts)
	if err != nil {
		return nil, "", err
	}
	if l.InProcess() {
		// The lock then excludes other holders in this process only, and
		// this process holds nothing else: say so rather than pretend.
		fmt.Fprintf(stderr, "litedir lock: warning: %s has no inter-process file locks; this lock keeps no other process out\n", runtime.GOOS)
	}
	return l, dir, nil
}

// runLocked runs the command args while holding the lock of dir and returns
// the command's exit status, or litedir's own for an error of its own.
func runLocked(ctx context.Context, stderr io.Writer, dir string, opts lock.Options, args []string) int {
	l, _, err := acquireDir(ctx, stderr, dir, opts)
	if err != nil {
		return report(stderr, "lock", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), workspace.EnvSkipLock+"=1")
	code, err := runChild(ctx, cmd)
	if rerr := l.Release(); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return report(stderr, "lock", err)
	}
	return code
}

// childGrace is how long an interrupted command has to end before it is
// killed.
const childGrace = 10 * time.Second

// runChild starts cmd and waits for it. When ctx ends first (litedir was
// interrupted) it interrupts cmd, and kills it if it is still running
// childGrace later. It returns cmd's exit status, or an error if cmd could
// not run or was killed by a signal.
func runChild(ctx context.Context, cmd *exec.Cmd) (int, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		if serr := cmd.Process.Signal(os.Interrupt); serr != nil {
			// Windows cannot deliver an interrupt to another process.
			cmd.Process.Kill()
		}
		select {
		case err = <-done:
		case <-time.After(childGrace):
			cmd.Process.Kill()
			err = <-done
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() >= 0 {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", cmd.Path, err)
	}
	return exitOK, nil
}

// holdLock takes the lock of dir and holds it until ctx is done.
func holdLock(ctx context.Context, stdout, stderr io.Writer, dir string, opts lock.Options) (err error) {
	l, dir, err := acquireDir(ctx, stderr, dir, opts)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := l.Release(); rerr != nil {
			err = errors.Join(err, rerr)
			return
		}
		if err == nil {
			_, err = fmt.Fprintf(stdout, "released %s\n", dir)
		}
	}()
	mode := ""
	if opts.Mode == lock.Shared {
		mode = "shared, "
	}
	if _, err := fmt.Fprintf(stdout, "locked %s (%spid %d)\n", dir, mode, os.Getpid()); err != nil {
		// Nobody would learn that the lock is held.
		return err
	}
	<-ctx.Done()
	// A signal is how this command is meant to end: not an error.
	return nil
}
