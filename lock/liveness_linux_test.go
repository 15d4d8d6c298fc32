package lock_test

import (
	"io"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litedir/litedir/lock"
)

// TestOwnerStateZombie checks that an owner killed but not yet reaped by
// its parent (a zombie, which the null signal still finds) is stale, not
// held: its lock died with it.
func TestOwnerStateZombie(t *testing.T) {
	if os.Getenv("LITEDIR_TEST_ZOMBIE_CHILD") == "1" {
		io.Copy(io.Discard, os.Stdin) // until killed
		return
	}
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOwnerStateZombie$")
	cmd.Env = append(os.Environ(), "LITEDIR_TEST_ZOMBIE_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	owner := lock.Owner{PID: cmd.Process.Pid, Host: host}
	if got := owner.State(); got != lock.StateHeld {
		t.Errorf("a running owner: State() = %q, want %q", got, lock.StateHeld)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Wait for it to die, but leave it unreaped: a zombie.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatalf("waitid: %v", err)
	}
	if got := owner.State(); got != lock.StateStale {
		t.Errorf("a killed owner not yet reaped: State() = %q, want %q", got, lock.StateStale)
	}
	cmd.Wait()
	if got := owner.State(); got != lock.StateStale {
		t.Errorf("a killed owner, reaped: State() = %q, want %q", got, lock.StateStale)
	}
}
