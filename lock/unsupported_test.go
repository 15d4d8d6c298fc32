package lock

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

// TestUnsupported checks what Acquire does where the lock file cannot be locked, on the
// platforms without advisory locks (plan9, js, wasip1: .ci/cross runs it on wasip1): it fails
// with ErrUnsupported unless the caller accepts an in-process lock, which then excludes the
// other holders of this process and says so. Where the platform has locks, AllowInProcess
// changes nothing on a filesystem that has them too; a filesystem that refuses them is
// TestFilesystemWithoutLocks.
func TestUnsupported(t *testing.T) {
	dir := testdir.New(t)
	if Supported {
		l := mustAcquire(t, dir, Options{AllowInProcess: true})
		if l.InProcess() || l.Owner().InProcess {
			t.Errorf("InProcess: got %v (record %v), want false where the platform and filesystem lock", l.InProcess(), l.Owner().InProcess)
		}
		return
	}
	checkUnsupported(t, dir)
}

// checkUnsupported checks Acquire in dir, whose lock file cannot be locked.
func checkUnsupported(t *testing.T, dir string) {
	t.Helper()
	for _, mode := range []Mode{Exclusive, Shared} {
		l, err := Acquire(t.Context(), dir, Options{Mode: mode})
		if err == nil {
			l.Release()
			t.Fatalf("Acquire(%v): got a lock, want an error matching ErrUnsupported", mode)
		}
		if !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Acquire(%v): got %v, want an error matching ErrUnsupported and errors.ErrUnsupported", mode, err)
		}
		if pe, ok := errors.AsType[*fs.PathError](err); !ok || pe.Path != Path(dir, "") {
			t.Errorf("Acquire(%v): got %#v, want an *fs.PathError naming %s", mode, err, Path(dir, ""))
		}
	}

	l := mustAcquire(t, dir, Options{Program: "alone", AllowInProcess: true})
	if !l.InProcess() {
		t.Errorf("InProcess: got false, want true")
	}
	rec := mustReadOwner(t, dir)
	if !rec.InProcess || rec.Program != "alone" {
		t.Errorf("ReadOwner: got %+v, want the holder's record with InProcess", rec)
	}
	if s := rec.String(); !strings.Contains(s, "own process only") {
		t.Errorf("Owner.String(): got %q, want it to say the lock is in-process only", s)
	}
	// The other holders of this process are excluded all the same.
	for _, opts := range []Options{{AllowInProcess: true}, {}, {Mode: Shared, AllowInProcess: true}} {
		_, err := Acquire(t.Context(), dir, opts)
		if le := wantLocked(t, err, dir, opts.Mode); le.Owner.Program != "alone" {
			t.Errorf("%+v: LockedError.Owner: got %+v, want the holder", opts, le.Owner)
		}
	}
	mustRelease(t, l)

	// Shared holders join one in-process entry only if they accept one.
	s := mustAcquire(t, dir, Options{Mode: Shared, AllowInProcess: true})
	if !s.InProcess() {
		t.Errorf("shared InProcess: got false, want true")
	}
	if _, err := Acquire(t.Context(), dir, Options{Mode: Shared}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("shared Acquire without AllowInProcess beside an in-process holder: got %v, want ErrUnsupported", err)
	}
	mustAcquire(t, dir, Options{Mode: Shared, AllowInProcess: true})
}
