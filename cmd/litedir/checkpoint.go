package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

const checkpointDoc = `
Checkpoint copies the WAL of a workspace's database into the database file, in
the given mode (see https://sqlite.org/pragma.html#pragma_wal_checkpoint):
passive copies what it can without waiting, full waits for writers, restart
also makes the next writer start the WAL over, and truncate (the default) also
cuts the WAL file to zero bytes.

It opens the workspace like a program does, taking its lock, so it fails with
exit status 3, naming the owner, while another process holds the workspace
(unless -wait outlasts it). It never creates a workspace.

Closing the workspace afterwards runs a truncate checkpoint too, as every
litedir program does when it closes a workspace last, so the modes other than
truncate only matter for what this command reports.

Example:

	litedir checkpoint -truncate ./data`

func runCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("checkpoint", "[-mode passive|full|restart|truncate | -truncate] [-wait D] [-name N] [-key-file F] DIR", checkpointDoc, stderr)
	mode := workspace.CheckpointTruncate
	flags.Func("mode", "checkpoint `mode`: passive, full, restart or truncate (default truncate)", func(s string) error {
		m, err := workspace.ParseCheckpointMode(s)
		if err != nil {
			return errors.New("want passive, full, restart or truncate")
		}
		mode = m
		return nil
	})
	truncate := flags.Bool("truncate", false, "same as -mode truncate")
	wait := waitFlag(flags, "a workspace")
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	if err == nil && *truncate && mode != workspace.CheckpointTruncate {
		err = usageError("-truncate and -mode %v contradict each other", mode)
	}
	if err != nil {
		return usageExit(flags, err)
	}
	opts := workspace.Options{Name: *name, Key: key.source()}
	return report(stderr, "checkpoint", checkpointWorkspace(ctx, stdout, stderr, pos[0], opts, mode, *wait))
}

// checkpointWorkspace opens the workspace in dir that opts names, with its
// lock, and checkpoints its WAL in mode.
func checkpointWorkspace(ctx context.Context, stdout, stderr io.Writer, dir string, opts workspace.Options, mode workspace.CheckpointMode, wait time.Duration) (err error) {
	ws, err := openExisting(ctx, stderr, dir, opts, "litedir checkpoint", wait)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	// A TRUNCATE checkpoint that succeeds reports an empty WAL, so the size
	// before is the only measure of what it did.
	before, err := ws.Status(ctx)
	if err != nil {
		return err
	}
	r, err := ws.Checkpoint(ctx, mode)
	if err != nil {
		return err
	}
	switch {
	case r.WALFrames < 0:
		_, err = fmt.Fprintf(stdout, "%s is not in WAL mode: nothing to checkpoint\n", ws.Path())
	case r.Busy:
		// Another connection, such as a reader of litedir status or
		// backup, kept the checkpoint from finishing.
		err = fmt.Errorf("checkpoint %v %s: %w: %d of %d WAL frames copied", mode, ws.Path(),
			ncruces.ErrBusy, r.Checkpointed, r.WALFrames)
	case mode == workspace.CheckpointTruncate:
		_, err = fmt.Fprintf(stdout, "checkpoint %v %s: WAL of %d bytes copied and truncated\n", mode, ws.Path(), before.WALSize)
	default:
		_, err = fmt.Fprintf(stdout, "checkpoint %v %s: %d of %d WAL frames copied\n", mode, ws.Path(), r.Checkpointed, r.WALFrames)
	}
	return err
}
