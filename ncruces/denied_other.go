//go:build !unix

package ncruces

// writable reports false: without access(2) nothing tells a sandbox's
// refusal from the file's permissions, so no error is called denied.
func writable(string) bool { return false }
