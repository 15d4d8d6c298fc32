package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/litedir/litedir/workspace"
)

const rekeyDoc = `
Rekey re-encrypts an encrypted workspace with a new key, in place. The key it
has now comes from -key-file (or LITEDIR_KEY_FILE), the new one from
-new-key-file; each file holds 32 bytes, or 64 hex digits and a newline
("openssl rand -hex 32 > new.key" makes one). Keys are never given on the
command line, where the process list would show them.

Rekey takes the workspace's lock (exit status 3, naming the owner, while
another process holds it, unless -wait outlasts it) and fails while a process
reading without the lock holds the WAL. It copies the database under the new
key into a temporary file beside it, syncs and checks the copy, and renames it
over the database: killed at any point, the workspace opens with the old key
or with the new one, never with neither. Backups made before keep the old
key.

Examples:

	litedir rekey -key-file old.key -new-key-file new.key ./data
	LITEDIR_KEY_FILE=old.key litedir rekey -new-key-file new.key ./data`

func runRekey(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("rekey", "[-key-file F] -new-key-file F [-wait D] [-name N] DIR", rekeyDoc, stderr)
	key := keyFlag(flags)
	newKey := keyFileFlag(flags, "new-key-file", "the new key", "")
	wait := waitFlag(flags, "a workspace")
	name := nameFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	switch {
	case err != nil:
	case key.source() == nil:
		err = usageError("no present key: give -key-file or set %s (litedir encrypt encrypts a plaintext workspace)", envKeyFile)
	case newKey.source() == nil:
		err = usageError("no new key: give -new-key-file (litedir decrypt decrypts)")
	}
	if err != nil {
		return usageExit(flags, err)
	}
	opts := workspace.Options{Name: *name, Key: key.source()}
	return report(stderr, "rekey", rekeyWorkspace(ctx, stdout, stderr, "rekey", pos[0], opts, newKey.source(), *wait))
}

// runKeyChange is litedir encrypt and decrypt (op), with the description
// doc: the key of -key-file is the key the workspace gets (encrypt) or has
// (decrypt).
func runKeyChange(ctx context.Context, op, doc string, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet(op, "[-key-file F] [-wait D] [-name N] DIR", doc, stderr)
	key := keyFlag(flags)
	wait := waitFlag(flags, "a workspace")
	name := nameFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	if err == nil && key.source() == nil {
		err = usageError("no key: give -key-file or set %s", envKeyFile)
	}
	if err != nil {
		return usageExit(flags, err)
	}
	opts, newKey := workspace.Options{Name: *name}, key.source()
	if op == "decrypt" {
		opts.Key, newKey = newKey, nil
	}
	return report(stderr, op, rekeyWorkspace(ctx, stdout, stderr, op, pos[0], opts, newKey, *wait))
}

// rekeyWorkspace re-encrypts the existing workspace in dir that opts names
// (its present key is opts.Key) with newKey (see workspace.Rekey), as the
// command op, and says what it did.
func rekeyWorkspace(ctx context.Context, stdout, stderr io.Writer, op, dir string, opts workspace.Options, newKey workspace.KeySource, wait time.Duration) error {
	if err := needDatabase(op+" workspace", dir, opts.Name); err != nil {
		return err
	}
	opts.Program, opts.LockWait, opts.Logger = "litedir "+op, wait, newLogger(stderr, slog.LevelWarn)
	if err := workspace.Rekey(ctx, dir, &opts, newKey); err != nil {
		return err
	}
	done := map[string]string{"rekey": "re-encrypted", "encrypt": "encrypted", "decrypt": "decrypted"}[op]
	_, err := fmt.Fprintf(stdout, "%s %s\n", done, workspace.DatabasePath(dir, opts.Name))
	return err
}
