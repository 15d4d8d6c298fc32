package lock

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

// TestLockedErrorAwaitsRecord checks that a contender which finds the lock
// held but the owner record not written yet (the holder took the lock a
// moment ago) names the holder once the record is there, instead of
// reporting an unknown process; and that without a record it reports the
// unknown process after a bounded wait, still as ErrLocked.
func TestLockedErrorAwaitsRecord(t *testing.T) {
	dir := testdir.New(t)
	l := mustAcquire(t, dir, Options{Program: "holder/1.0"})
	record, err := encodeOwner(l.Owner())
	if err != nil {
		t.Fatal(err)
	}
	path := Path(dir, DefaultName)

	t.Run("record arrives", func(t *testing.T) {
		// The holder between taking the lock and writing its record: the
		// file is empty. The record is written while the contender waits
		// for it, on its first re-read.
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		testHookRecord = func() {
			once.Do(func() { mustWriteFile(t, path, record) })
		}
		t.Cleanup(func() { testHookRecord = nil })
		_, err := acquire(t.Context(), dir, Options{})
		var le *LockedError
		if !errors.As(err, &le) {
			t.Fatalf("got %v, want a *LockedError", err)
		}
		if le.Owner.PID != os.Getpid() || le.Owner.Program != "holder/1.0" {
			t.Errorf("LockedError.Owner: got %v, want pid %d (holder/1.0)", le.Owner, os.Getpid())
		}
	})

	t.Run("no record", func(t *testing.T) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		_, err := acquire(t.Context(), dir, Options{})
		var le *LockedError
		if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
			t.Fatalf("got %v, want a *LockedError", err)
		}
		if !le.Owner.IsZero() || le.HeldShared {
			t.Errorf("LockedError: got Owner %v, HeldShared %v; want the zero Owner, false", le.Owner, le.HeldShared)
		}
	})
}
