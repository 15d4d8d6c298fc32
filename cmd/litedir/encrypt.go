package main

import (
	"context"
	"io"

	"github.com/litedir/litedir/workspace"
)

const encryptDoc = `
Encrypt encrypts a plaintext workspace in place with the key in the file of
-key-file (or LITEDIR_KEY_FILE): 32 bytes, or 64 hex digits and a newline
("openssl rand -hex 32 > ws.key" makes one). From then on every command and
program needs that key to open the workspace. It works as litedir rekey does,
under the workspace's lock, by a copy and a rename: killed at any point, the
workspace is the plaintext one or the encrypted one, whole.

Backups made before stay plaintext: remove them, or encrypt them too.

Example:

	openssl rand -hex 32 > ~/.config/agent/ws.key && chmod 600 ~/.config/agent/ws.key
	litedir encrypt -key-file ~/.config/agent/ws.key ./data`

func runEncrypt(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("encrypt", "[-key-file F] [-wait D] [-name N] DIR", encryptDoc, stderr)
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
	return report(stderr, "encrypt", rekeyWorkspace(ctx, stdout, stderr, "encrypt", pos[0], workspace.Options{Name: *name}, key.source(), *wait))
}
