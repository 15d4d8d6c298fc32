package testdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	var a, b string
	t.Run("sub/test*?", func(t *testing.T) {
		a, b = New(t), New(t)
		if a == b {
			t.Fatalf("New twice: got %q both times, want two directories", a)
		}
		for _, dir := range []string{a, b} {
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) != 0 {
				t.Fatalf("ReadDir(%q): got %d entries, %v; want an empty directory", dir, len(entries), err)
			}
		}
		if got, want := filepath.Base(a)[:len("TestNewsubtest")], "TestNewsubtest"; got != want {
			t.Errorf("name of %q: got prefix %q, want %q", a, got, want)
		}
		mustTree(t, a)
	})
	// The subtest has ended: its directories are gone, contents and all.
	for _, dir := range []string{a, b} {
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lstat(%q) after the subtest: got %v, want fs.ErrNotExist", dir, err)
		}
	}
}

func TestRemove(t *testing.T) {
	parent := New(t)
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(outside, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(parent, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	mustTree(t, tree)
	// A link to a directory outside the tree is removed, not followed.
	if err := os.Symlink(outside, filepath.Join(tree, "a", "link")); err != nil {
		t.Logf("no symbolic link in the tree: %v", err)
	}

	if err := Remove(tree); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Lstat(tree); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat after Remove: got %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("file behind the removed link: %v, want it kept", err)
	}
	if err := Remove(tree); err != nil {
		t.Errorf("Remove of a missing path: got %v, want nil", err)
	}
	file := filepath.Join(parent, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Remove(file); err != nil {
		t.Errorf("Remove of a file: got %v, want nil", err)
	}
	if _, err := os.Lstat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lstat after Remove of a file: got %v, want fs.ErrNotExist", err)
	}
}

func TestPattern(t *testing.T) {
	long := "TestX/" + strings.Repeat("é", 40)
	tests := []struct{ name, want string }{
		{"TestA", "TestA"},
		{"TestA/sub_test#01", "TestAsub_test#01"},
		{"TestA/a*b?c[d]/e\\f:g", "TestAabcdefg"},
		{long, "TestX"}, // letters beyond ASCII go, as does the rune cut at byte 64
	}
	for _, tt := range tests {
		if got := pattern(tt.name); got != tt.want {
			t.Errorf("pattern(%q): got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// mustTree fills dir with nested directories and files.
func mustTree(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{"a/b/c", "d"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"f", "a/f", "a/b/f", "a/b/c/f", "d/f"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSymlink(t *testing.T) {
	dir := New(t)
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	Symlink(t, target, link) // skips where no link can be made
	if got, err := os.Readlink(link); err != nil || got != target {
		t.Errorf("Readlink: got %q, %v, want %q", got, err, target)
	}
}

func TestNeedRemoveAll(t *testing.T) {
	NeedRemoveAll(t) // skips where os.RemoveAll fails
	dir := New(t)
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "a")); err != nil {
		t.Errorf("os.RemoveAll after NeedRemoveAll passed: %v", err)
	}
}

func TestDeadline(t *testing.T) {
	d := Deadline(t)
	want := time.Now().Add(Patience * time.Duration(Slowdown()))
	if end, ok := t.Deadline(); ok {
		if !d.Before(end) {
			t.Errorf("Deadline: got %v, want before the test binary's deadline %v", d, end)
		}
		if limit := end.Add(-min(time.Until(end)/10, 30*time.Second)); limit.Before(want) {
			want = limit
		}
	}
	// Within a second of what the rule gives: the two computations read the clock apart.
	if diff := d.Sub(want); diff < -time.Second || diff > time.Second {
		t.Errorf("Deadline: got %v, want %v", d, want)
	}
	if !d.After(time.Now()) {
		t.Errorf("Deadline: got %v, want a time to come", d)
	}

	t.Setenv("LITEDIR_TEST_SLOWDOWN", "3")
	base := 1
	if (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") || runtime.GOOS == "wasip1" {
		base = 10
	}
	if got := Slowdown(); got != 3*base {
		t.Errorf("Slowdown with LITEDIR_TEST_SLOWDOWN=3: got %d, want %d", got, 3*base)
	}

	var ctx context.Context
	t.Run("sub", func(t *testing.T) {
		ctx = Context(t)
		if got, ok := ctx.Deadline(); !ok || got.After(Deadline(t).Add(time.Second)) {
			t.Errorf("Context deadline: got %v, %v; want about %v", got, ok, Deadline(t))
		}
	})
	if ctx.Err() == nil {
		t.Error("Context after its test ended: got no error, want it done")
	}
}

// recordTB is a testing.TB that records failures instead of failing the real test; Fatal
// ends the goroutine as t.Fatal does (run it with run).
type recordTB struct {
	testing.TB
	failures []string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recordTB) Fatal(args ...any) {
	r.failures = append(r.failures, fmt.Sprint(args...))
	runtime.Goexit()
}

// run calls fn on a goroutine of its own, so that a Fatal ends only fn, and returns the
// failures recorded.
func (r *recordTB) run(fn func()) []string {
	r.failures = nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	return r.failures
}

func TestSnapshot(t *testing.T) {
	dir := New(t)
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a", "1")
	write("b", "2")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := Snapshot(t, dir)
	if len(before) != 2 || string(before["a"]) != "1" || string(before["b"]) != "2" {
		t.Errorf("Snapshot: got %q, want a and b, no directory", before)
	}
	if got := Snapshot(t, dir, "a", "missing"); len(got) != 1 || string(got["a"]) != "1" {
		t.Errorf("Snapshot of names: got %q, want a alone", got)
	}
	if got := string(ReadFile(t, filepath.Join(dir, "b"))); got != "2" {
		t.Errorf("ReadFile: got %q, want 2", got)
	}
	if got, want := Names(t, dir), []string{"a", "b", "sub"}; !slices.Equal(got, want) {
		t.Errorf("Names: got %q, want %q", got, want)
	}

	r := &recordTB{TB: t}
	if got := r.run(func() { SameFiles(r, before, Snapshot(t, dir)) }); len(got) != 0 {
		t.Errorf("SameFiles of an unchanged directory: got %q, want no failure", got)
	}
	write("a", "changed")
	write("c", "new")
	if err := os.Remove(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	after := Snapshot(t, dir)
	got := r.run(func() { SameFiles(r, before, after) })
	slices.Sort(got)
	want := []string{"a: changed: got 7 bytes, want the 1 bytes it held", "b: removed", "c: created"}
	if !slices.Equal(got, want) {
		t.Errorf("SameFiles: got %q, want %q", got, want)
	}
	if got := r.run(func() { SameFiles(r, before, after, "c") }); len(got) != 2 {
		t.Errorf("SameFiles allowing c: got %q, want the change and the removal", got)
	}

	if got := r.run(func() { MustBeEmpty(r, dir) }); len(got) != 3 {
		t.Errorf("MustBeEmpty of a, c, sub: got %q, want three failures", got)
	}
	if got := r.run(func() { MustBeEmpty(r, filepath.Join(dir, "sub")) }); len(got) != 0 {
		t.Errorf("MustBeEmpty of an empty directory: got %q, want none", got)
	}
	if got := r.run(func() { Names(r, filepath.Join(dir, "missing")) }); len(got) != 1 {
		t.Errorf("Names of a missing directory: got %q, want one failure", got)
	}
	if got := r.run(func() { ReadFile(r, filepath.Join(dir, "missing")) }); len(got) != 1 {
		t.Errorf("ReadFile of a missing file: got %q, want one failure", got)
	}
}
