//go:build linux && !litedir_wasm2go

package ncruces

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// readOnlyChild returns the attributes and environment of a child that sees
// dir read-only. Permission bits do not stop root, so as root the child gets
// a mount namespace of its own and bind-mounts dir read-only over itself
// there (mountReadOnly); nothing changes outside the child.
func readOnlyChild(t *testing.T, dir string) (*syscall.SysProcAttr, []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		chmodReadOnly(t, dir)
		return nil, []string{envReadOnlyBits + "=1"}
	}
	attr := &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	probe := exec.Command(os.Args[0], "-test.run=^$")
	probe.SysProcAttr = attr
	if err := probe.Run(); errors.Is(err, syscall.EPERM) {
		t.Skipf("root without CAP_SYS_ADMIN: no mount namespace to make %s read-only for root in (%v)", dir, err)
	} else if err != nil {
		t.Fatalf("probe a child in a mount namespace: %v", err)
	}
	return attr, []string{envReadOnlyMount + "=" + dir}
}

// mountReadOnly bind-mounts dir read-only over itself, in the mount
// namespace of this process (a private one: see readOnlyChild).
func mountReadOnly(dir string) error {
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return err
	}
	return syscall.Mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, "")
}
