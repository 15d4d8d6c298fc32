package main

import (
	"context"
	"io"
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
	return runKeyChange(ctx, "decrypt", decryptDoc, args, stdout, stderr)
}
