package fsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

func TestFile(t *testing.T) {
	dir := testdir.New(t)
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := File(path); err != nil {
		t.Errorf("File(%q): %v", path, err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Errorf("after File: got %q, %v, want the same contents", b, err)
	}
	missing := filepath.Join(dir, "missing")
	if err := File(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("File(%q): got %v, want fs.ErrNotExist", missing, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Error("File created the missing file")
	}
}

func TestDir(t *testing.T) {
	dir := testdir.New(t)
	if err := Dir(dir); err != nil {
		t.Errorf("Dir(%q): %v", dir, err)
	}
	missing := filepath.Join(dir, "missing")
	err := Dir(missing)
	if runtime.GOOS == "windows" {
		if err != nil {
			t.Errorf("Dir(%q) on Windows: got %v, want nil (no directory sync there)", missing, err)
		}
		return
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dir(%q): got %v, want the *fs.PathError of the open, matching fs.ErrNotExist", missing, err)
	}
}

func TestCannotSync(t *testing.T) {
	if cannotSync(nil) {
		t.Error("cannotSync(nil): got true")
	}
	if !cannotSync(fmt.Errorf("sync: %w", errors.ErrUnsupported)) {
		t.Error("cannotSync(ErrUnsupported): got false")
	}
	if cannotSync(fs.ErrPermission) {
		t.Error("cannotSync(ErrPermission): got true")
	}
}
