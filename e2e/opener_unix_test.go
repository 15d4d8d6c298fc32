//go:build unix

package e2e_test

import (
	"os/exec"
	"syscall"
)

// canSetUser reports whether setUser works here: on Unix, when running as
// root.
func canSetUser() (bool, string) {
	if syscall.Geteuid() != 0 {
		return false, "not root: cannot start a process as another user"
	}
	return true, ""
}

// setUser makes cmd run with uid as its user and group id.
func setUser(cmd *exec.Cmd, uid int) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
}
