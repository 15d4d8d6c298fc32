package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/litedir/litedir/workspace"
)

const backupDoc = `
Backup writes a consistent copy of a workspace's database to the new file DST
and prints its path and size. The copy is one self-contained file (rollback
journal, no -wal or -shm beside it), checked before it is put in place; to use
it as a workspace, name it NAME.db (litedir.db by default) in a directory.

It reads the database read-only and takes no lock, so it works while another
process owns and writes the workspace. DST must not exist: backup never
replaces a file.`

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("backup", "[-name N] DIR DST", backupDoc, stderr)
	name := nameFlag(flags)
	pos, err := parseArgs(flags, args, "DIR", "DST")
	if err != nil {
		return usageExit(flags, err)
	}
	return report(stderr, "backup", backupWorkspace(ctx, stdout, stderr, pos[0], pos[1], *name))
}

// backupWorkspace copies the database of the workspace name in dir to dst.
func backupWorkspace(ctx context.Context, stdout, stderr io.Writer, dir, dst, name string) (err error) {
	if err := needDatabase("open workspace", dir, name); err != nil {
		return err
	}
	// Backup resolves dst against the working directory too; resolving it
	// here gives the path to print.
	abs, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	// Backup writes a temporary file beside dst, and would name that file
	// when the directory is missing; name the directory instead.
	if _, err := os.Stat(filepath.Dir(abs)); err != nil {
		return err
	}
	ws, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Name: name, Logger: newLogger(stderr, slog.LevelWarn)})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	if err := ws.Backup(ctx, abs); err != nil {
		return err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", abs, info.Size())
	return err
}
