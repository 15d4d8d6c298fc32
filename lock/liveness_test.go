package lock_test

import (
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/litedir/litedir/lock"
)

func TestOwnerState(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	if got := (lock.Owner{}).State(); got != lock.StateNone {
		t.Errorf("zero owner: State() = %q, want %q", got, lock.StateNone)
	}
	if got := (lock.Owner{PID: os.Getpid(), Host: host + ".elsewhere"}).State(); got != lock.StateUnknown {
		t.Errorf("another host: State() = %q, want %q", got, lock.StateUnknown)
	}
	self := lock.Owner{PID: os.Getpid(), Host: host}
	if runtime.GOOS != "windows" && !isUnix() {
		if got := self.State(); got != lock.StateUnknown {
			t.Errorf("this process on %s: State() = %q, want %q (no process lookup)", runtime.GOOS, got, lock.StateUnknown)
		}
		return
	}
	if got := self.State(); got != lock.StateHeld {
		t.Errorf("this process: State() = %q, want %q", got, lock.StateHeld)
	}
	// A process that has exited and been reaped is gone.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run a child process: %v", err)
	}
	if got := (lock.Owner{PID: cmd.ProcessState.Pid(), Host: host}).State(); got != lock.StateStale {
		t.Errorf("an exited process: State() = %q, want %q", got, lock.StateStale)
	}
}

func isUnix() bool {
	switch runtime.GOOS {
	case "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "linux", "netbsd", "openbsd", "solaris":
		return true
	}
	return false
}
