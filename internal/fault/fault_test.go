package fault

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	if err := Check(Write, "/x/db-wal", 0); err != nil {
		t.Fatalf("Check without a Func: got %v, want nil", err)
	}
	failed := errors.New("injected")
	type call struct {
		op   Op
		path string
		off  int64
	}
	var seen []call
	restore := Set(func(op Op, path string, off int64) error {
		seen = append(seen, call{op, path, off})
		if op == Sync {
			return failed
		}
		return nil
	})
	if err := Check(Write, "/x/db-wal", 4096); err != nil {
		t.Errorf("Check(Write): got %v, want nil", err)
	}
	if err := Check(Sync, "/x/db-wal", 0); err != failed {
		t.Errorf("Check(Sync): got %v, want the Func's error", err)
	}
	restore()
	if err := Check(Sync, "/x/db-wal", 0); err != nil {
		t.Errorf("Check after restore: got %v, want nil", err)
	}
	want := []call{{Write, "/x/db-wal", 4096}, {Sync, "/x/db-wal", 0}}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("the Func saw %v, want %v", seen, want)
	}
}
