package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/litedir/litedir/workspace"
)

const backupDoc = `
Backup writes a consistent copy of a workspace's database to the new file DST
and prints its path and size. The copy is one self-contained file (rollback
journal, no -wal or -shm beside it), synced and checked before it is put in
place, so DST appears only when it is complete. To use it as a workspace,
name it NAME.db (litedir.db by default) in a directory.

It reads the database read-only and takes no lock, so it works while another
process owns and writes the workspace. The copy of an encrypted workspace
(its key from -key-file or LITEDIR_KEY_FILE) is encrypted with the same key,
or with the key of -copy-key-file, or not at all with -plaintext. DST must not exist unless -force is
given; with -force an existing file DST is replaced in one rename, so that it
is the old file or the whole new copy, never a mix. On a terminal, backup
shows its progress on stderr.

Example:

	litedir backup ./data /backups/agent-$(date +%F).db`

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("backup", "[-force] [-name N] [-key-file F] [-copy-key-file F | -plaintext] DIR DST", backupDoc, stderr)
	force := flags.Bool("force", false, "replace DST if it exists")
	name := nameFlag(flags)
	key := keyFlag(flags)
	ck := copyKeyFlags(flags)
	pos, err := parseArgs(flags, args, "DIR", "DST")
	if err == nil {
		err = ck.check()
	}
	if err != nil {
		return usageExit(flags, err)
	}
	opts := workspace.Options{Name: *name, Key: key.source()}
	return report(stderr, "backup", copyWorkspace(ctx, stdout, stderr, "backup", pos[0], opts, pos[1], *force, ck, (*workspace.Workspace).BackupWith))
}

// copyKeys are the flags that say how a copy is encrypted: under another
// key (-copy-key-file), or not at all (-plaintext).
type copyKeys struct {
	key       *keyFile
	plaintext *bool
}

// copyKeyFlags defines -copy-key-file and -plaintext.
func copyKeyFlags(flags *flag.FlagSet) copyKeys {
	return copyKeys{
		key:       keyFileFlag(flags, "copy-key-file", "the key to encrypt the copy with, instead of the workspace's,", ""),
		plaintext: flags.Bool("plaintext", false, "write the copy unencrypted (from an encrypted workspace)"),
	}
}

// check refuses -copy-key-file with -plaintext.
func (k copyKeys) check() error {
	if k.key.source() != nil && *k.plaintext {
		return usageError("give at most one of -copy-key-file and -plaintext")
	}
	return nil
}

// copyWorkspace writes a copy of the database of the workspace in dir that
// opts names to dst with write (Workspace.BackupWith or VacuumIntoWith),
// encrypted as keys say, showing its progress on stderr when that is a
// terminal, and prints the copy's path and size. op names the command in
// errors and in the progress line.
func copyWorkspace(ctx context.Context, stdout, stderr io.Writer, op, dir string, wsOpts workspace.Options, dst string, force bool, keys copyKeys,
	write func(ws *workspace.Workspace, ctx context.Context, dst string, opts *workspace.CopyOptions) error) (err error) {
	dst, err = checkDest(op, dst, force)
	if err != nil {
		return err
	}
	ws, err := openExisting(ctx, stderr, dir, wsOpts, "", 0)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	opts := &workspace.CopyOptions{Replace: force, Key: keys.key.source(), Plaintext: *keys.plaintext}
	start := time.Now()
	if isTerminal(stderr) {
		opts.Progress = func(copied, total int64) {
			fmt.Fprintf(stderr, "\r\033[K%s: %s of %s copied, %s", op, mib(copied), mib(total), time.Since(start).Round(time.Second))
		}
	}
	err = write(ws, ctx, dst, opts)
	if opts.Progress != nil {
		fmt.Fprintf(stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	info, err := os.Stat(dst)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", dst, info.Size())
	return err
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
