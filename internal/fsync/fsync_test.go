package fsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
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

func TestData(t *testing.T) {
	dir := testdir.New(t)
	path := filepath.Join(dir, "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("data"); err != nil {
		t.Fatal(err)
	}
	if err := Data(f); err != nil {
		t.Errorf("Data(%s): %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Errorf("after Data: got %q, %v, want the same contents", b, err)
	}
	// A closed file: the error names it.
	var pe *fs.PathError
	if err := Data(f); !errors.As(err, &pe) || pe.Path != path {
		t.Errorf("Data of a closed file: got %v, want an *fs.PathError naming %s", err, path)
	}
}

func TestLinkRename(t *testing.T) {
	dir := testdir.New(t)
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	if err := os.WriteFile(a, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c, []byte("c"), 0o600); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "wasip1" && runtime.GOOS != "js" && runtime.GOOS != "plan9" {
		if err := Link(a, b); err != nil {
			t.Fatalf("Link: %v", err)
		}
		if err := Link(a, c); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Link onto an existing file: got %v, want fs.ErrExist", err)
		}
		if err := os.Remove(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := Rename(a, c); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	if got, err := os.ReadFile(c); err != nil || string(got) != "a" {
		t.Errorf("after Rename: got %q, %v, want %q", got, err, "a")
	}
}

// TestHook checks that every call reports itself to the hook, in order,
// before it acts, and that an error from the hook fails the call without
// the call doing anything.
func TestHook(t *testing.T) {
	dir := testdir.New(t)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var calls []Call
	restore := SetHook(func(c Call) error {
		if strings.HasPrefix(c.Path, dir) {
			calls = append(calls, c)
		}
		return nil
	})
	File(a)
	Data(f)
	Dir(dir)
	Rename(a, b)
	Rename(b, a)
	restore()
	want := []Call{
		{Op: OpFile, Path: a},
		{Op: OpData, Path: a},
		{Op: OpDir, Path: dir},
		{Op: OpRename, Path: a, To: b},
		{Op: OpRename, Path: b, To: a},
	}
	if !slices.Equal(calls, want) {
		t.Errorf("calls: got %v, want %v", calls, want)
	}
	File(a) // restored: no hook
	if len(calls) != len(want) {
		t.Errorf("a call after restore reached the hook: %v", calls[len(want):])
	}

	failed := errors.New("injected")
	defer SetHook(func(c Call) error { return failed })()
	for name, call := range map[string]func() error{
		"File":   func() error { return File(a) },
		"Data":   func() error { return Data(f) },
		"Dir":    func() error { return Dir(dir) },
		"Link":   func() error { return Link(a, b) },
		"Rename": func() error { return Rename(a, b) },
	} {
		if err := call(); err != failed {
			t.Errorf("%s with a failing hook: got %v, want the hook's error", name, err)
		}
	}
	if _, err := os.Lstat(b); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Link or Rename acted although the hook failed them: %s: %v", b, err)
	}
	if _, err := os.Lstat(a); err != nil {
		t.Errorf("Rename acted although the hook failed it: %v", err)
	}
}

func TestCallString(t *testing.T) {
	for _, tt := range []struct {
		c    Call
		want string
	}{
		{Call{Op: OpDir, Path: "/d"}, "dir /d"},
		{Call{Op: OpLink, Path: "/d/.x.tmp", To: "/d/x"}, "link /d/.x.tmp -> /d/x"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}
