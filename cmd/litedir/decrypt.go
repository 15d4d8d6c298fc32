package main

import (
	"context"
	"io"

	"github.com/litedir/litedir/workspace"
)

const decryptDoc = `
Decrypt decrypts an encrypted workspace in place, with its key from -key-file
(or LITEDIR_KEY_FILE): from then on it is a plaintext workspace, which opens
without a key. It works as litedir rekey does, under the workspace's lock, by a
copy and a rename: killed at any point, the workspace is the encrypted one or
the plaintext one, whole (a killed decrypt leaves its plaintext temporary
copy beside the database until the next rekey, backup or vacuum -into into the
directory removes it).

Example:

	litedir decrypt -key-file ~/.config/agent/ws.key ./data`

func runDecrypt(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("decrypt", "[-key-file F] [-wait D] [-name N] DIR", decryptDoc, stderr)
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
	opts := workspace.Options{Name: *name, Key: key.source()}
	return report(stderr, "decrypt", rekeyWorkspace(ctx, stdout, stderr, "decrypt", pos[0], opts, nil, *wait))
}
