//go:build unix

package lock

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litedir/litedir/internal/testdir"
)

func TestKilledHolder(t *testing.T) {
	if runHolder(t) {
		return
	}
	for _, mode := range []Mode{Exclusive, Shared} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := testdir.New(t)
			h := startHolder(t, holderConfig{Dir: dir, Program: "victim/1.0"})
			if got := mustReadOwner(t, dir); got.PID != h.pid() {
				t.Fatalf("ReadOwner: got pid %d, want %d", got.PID, h.pid())
			}
			// SIGKILL: the child cannot release or clear its record, but the kernel drops its
			// lock when the process dies.
			h.kill()
			if got := mustReadOwner(t, dir); got.PID != h.pid() {
				t.Errorf("ReadOwner after kill: got pid %d, want the stale %d", got.PID, h.pid())
			}

			l := mustAcquire(t, dir, Options{Mode: mode, Program: "survivor/1.0"})
			got := mustReadOwner(t, dir)
			if mode == Exclusive && !sameOwner(got, l.Owner()) {
				t.Errorf("ReadOwner after Acquire: got %+v, want %+v", got, l.Owner())
			}
			if mode == Shared && !got.IsZero() {
				t.Errorf("ReadOwner after shared Acquire: got %+v, want zero", got)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	dir := testdir.New(t)
	mustAcquire(t, dir, Options{})
	fi, err := os.Lstat(Path(dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != 0o600 {
		t.Errorf("lock file mode: got %v, want %v", got, os.FileMode(0o600))
	}
}

func TestFIFO(t *testing.T) {
	// Opening a FIFO would block until a writer comes; it must be refused before that.
	dir := testdir.New(t)
	if err := unix.Mkfifo(Path(dir, ""), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := Acquire(t.Context(), dir, Options{}); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Acquire: got %v, want ErrNotRegular", err)
	}
	if _, err := ReadOwner(dir); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadOwner: got %v, want ErrNotRegular", err)
	}
}
