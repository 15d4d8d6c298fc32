//go:build !linux && !litedir_wasm2go

package ncruces

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"
)

// readOnlyChild returns the attributes and environment of a child that sees
// dir read-only: permission bits, which stop anyone but root (and do not
// stop creating files in a directory on Windows).
func readOnlyChild(t *testing.T, dir string) (*syscall.SysProcAttr, []string) {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || os.Geteuid() == 0 {
		t.Skipf("no way to make %s read-only for this user on %s here; the Linux test covers it", dir, runtime.GOOS)
	}
	chmodReadOnly(t, dir)
	return nil, []string{envReadOnlyBits + "=1"}
}

// mountReadOnly is only needed, and only possible, on Linux.
func mountReadOnly(dir string) error { return errors.ErrUnsupported }
