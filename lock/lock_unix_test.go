//go:build unix

package lock

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litedir/litedir/internal/testdir"
)

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
	if _, err := acquire(t.Context(), dir, Options{}); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Acquire: got %v, want ErrNotRegular", err)
	}
	if _, err := ReadOwner(dir, ""); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadOwner: got %v, want ErrNotRegular", err)
	}
}
