package main

import (
	"context"
	"io"
)

const encryptDoc = `
Encrypt encrypts a plaintext workspace in place with the key in the file of
-key-file (or LITEDIR_KEY_FILE): 32 bytes, or 64 hex digits and a newline
("openssl rand -hex 32 > ws.key" makes one). From then on every command and
program needs that key to open the workspace. It works as litedir rekey does,
under the workspace's lock, by a copy and a rename: killed at any point, the
workspace is the plaintext one or the encrypted one, whole.

Backups made before stay plaintext: remove them, or encrypt them too.
Litestream cannot replicate an encrypted workspace: stop it first (its
replica stays plaintext).

Example:

	openssl rand -hex 32 > ~/.config/agent/ws.key && chmod 600 ~/.config/agent/ws.key
	litedir encrypt -key-file ~/.config/agent/ws.key ./data`

func runEncrypt(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runKeyChange(ctx, "encrypt", encryptDoc, args, stdout, stderr)
}
