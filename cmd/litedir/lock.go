package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/litedir/litedir/lock"
)

const lockDoc = `
Lock takes a workspace's directory lock, the one every program opening the
workspace takes, creating DIR if it is missing, and holds it until it is
interrupted (Ctrl-C, SIGINT or SIGTERM). Once the lock is held it prints
"locked DIR (pid N)"; after releasing it, "released DIR". It does not read
standard input, so it can run in the background of a script, which then waits
for the "locked" line and ends it with a signal.

An exclusive lock (the default) keeps every other program out and writes an
owner record naming this process, its -program and its -meta pairs, which
other programs show when they are refused. A -shared lock only keeps out
exclusive holders and writes no record.

Exit status 3 means another process holds the lock (after -wait, if given).`

func runLock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("lock", "[-shared] [-program P] [-meta key=value]... [-wait D] [-name N] DIR", lockDoc, stderr)
	shared := flags.Bool("shared", false, "take the lock shared rather than exclusive")
	program := flags.String("program", "litedir lock", "`program` named in the owner record")
	meta := metaFlag{}
	flags.Var(meta, "meta", "`key=value` pair for the owner record; repeatable")
	wait := waitFlag(flags, "a lock")
	name := nameFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
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
	return report(stderr, "lock", holdLock(ctx, stdout, stderr, pos[0], opts))
}

// holdLock takes the lock of dir and holds it until ctx is done.
func holdLock(ctx context.Context, stdout, stderr io.Writer, dir string, opts lock.Options) (err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	// lock.Acquire never creates the directory; workspace.Open does, and so
	// does this command, so that a workspace can be reserved before it
	// exists.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	l, err := lock.Acquire(ctx, dir, opts)
	if err != nil {
		return err
	}
	if !lock.Supported {
		// The lock then excludes other holders in this process only, and
		// this process holds nothing else: say so rather than pretend.
		fmt.Fprintf(stderr, "litedir lock: warning: %s has no inter-process file locks; this lock keeps no other process out\n", runtime.GOOS)
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
