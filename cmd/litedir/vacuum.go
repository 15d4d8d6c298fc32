package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/litedir/litedir/workspace"
)

const vacuumDoc = `
Vacuum rebuilds a workspace's database file without its free pages, and
prints its size before and after. It opens the workspace like a program does,
taking its lock, so it fails with exit status 3, naming the owner, while
another process holds the workspace (unless -wait outlasts it). It never
creates a workspace. VACUUM rewrites the whole database: it needs free disk
space of up to twice the database's size while it runs.

With -into FILE the workspace is left alone and a compacted copy is written to
the new file FILE instead (VACUUM INTO), read-only and without the lock, like
backup: the copy appears at FILE only once it is complete, synced and checked,
and FILE must not exist unless -force is given.

Examples:

	litedir vacuum ./data
	litedir vacuum -into /backups/litedir-compact.db ./data`

func runVacuum(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("vacuum", "[-into FILE [-force] [-copy-key-file F | -plaintext]] [-wait D] [-name N] [-key-file F] DIR", vacuumDoc, stderr)
	into := flags.String("into", "", "write a compacted copy to the new `file` instead")
	force := flags.Bool("force", false, "with -into, replace FILE if it exists")
	wait := waitFlag(flags, "a workspace")
	name := nameFlag(flags)
	key := keyFlag(flags)
	ck := copyKeyFlags(flags)
	pos, err := parseArgs(flags, args, "DIR")
	switch {
	case err != nil:
	case *force && *into == "":
		err = usageError("-force needs -into")
	case (ck.key.source() != nil || *ck.plaintext) && *into == "":
		err = usageError("-copy-key-file and -plaintext need -into")
	case ck.check() != nil:
		err = ck.check()
	case *wait != 0 && *into != "":
		err = usageError("-wait needs a vacuum in place: -into takes no lock")
	}
	if err != nil {
		return usageExit(flags, err)
	}
	opts := workspace.Options{Name: *name, Key: key.source()}
	if *into != "" {
		return report(stderr, "vacuum", copyWorkspace(ctx, stdout, stderr, "vacuum into", pos[0], opts, *into, *force, ck, (*workspace.Workspace).VacuumIntoWith))
	}
	return report(stderr, "vacuum", vacuumInPlace(ctx, stdout, stderr, pos[0], opts, *wait))
}

// vacuumInPlace vacuums the database of the workspace in dir that opts
// names.
func vacuumInPlace(ctx context.Context, stdout, stderr io.Writer, dir string, opts workspace.Options, wait time.Duration) (err error) {
	ws, err := openExisting(ctx, stderr, dir, opts, "litedir vacuum", wait)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	before, err := ws.Status(ctx)
	if err != nil {
		return err
	}
	if _, err := ws.DB().ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("vacuum %s: %w", ws.Path(), err)
	}
	// The rebuilt pages are in the WAL; the file shrinks with the
	// checkpoint.
	if _, err := ws.Checkpoint(ctx, workspace.CheckpointTruncate); err != nil {
		return fmt.Errorf("vacuum %s: %w", ws.Path(), err)
	}
	after, err := ws.Status(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "vacuumed %s: %d pages, %d free -> %d pages (%d -> %d bytes)\n", ws.Path(),
		before.PageCount, before.FreePages, after.PageCount, before.DBSize+before.WALSize, after.DBSize+after.WALSize)
	return err
}

// checkDest checks the destination of a copy before anything is read: its
// directory must exist, and dst must not unless force is set, in which case
// it must be a regular file. It returns dst made absolute.
func checkDest(op, dst string, force bool) (string, error) {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return "", err
	}
	// The copy is written to a temporary file beside dst, and would name
	// that file when the directory is missing; name the directory instead.
	if _, err := os.Stat(filepath.Dir(abs)); err != nil {
		return "", err
	}
	info, err := os.Lstat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return abs, nil
	case err != nil:
		return "", err
	case !force:
		return "", &os.PathError{Op: op, Path: abs, Err: errDestExists}
	case !info.Mode().IsRegular():
		return "", &os.PathError{Op: op, Path: abs, Err: errDestNotRegular}
	}
	return abs, nil
}

var (
	errDestExists     = fmt.Errorf("%w (-force replaces it)", os.ErrExist)
	errDestNotRegular = errors.New("not a regular file: -force replaces files only")
)
