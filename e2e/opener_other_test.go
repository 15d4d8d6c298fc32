//go:build !unix

package e2e_test

import (
	"os/exec"
	"runtime"
)

// canSetUser reports whether setUser works here: only on Unix.
func canSetUser() (bool, string) {
	return false, "no Unix credentials to start a process as another user on " + runtime.GOOS
}

// setUser is never called where canSetUser is false.
func setUser(cmd *exec.Cmd, uid int) { panic("setUser on " + runtime.GOOS) }
