// Package testdir gives tests temporary directories, like [testing.T.TempDir], that are
// removed one entry at a time with [os.Remove] instead of with [os.RemoveAll], and
// deadlines for their waits that scale with the platform ([Context], [Deadline]).
//
// Go 1.26's os.RemoveAll on Windows deletes through NtSetInformationFile with
// FileDispositionInformationEx (POSIX delete semantics), which Wine 8.0 does not implement:
// every removal fails with "Invalid function", and with it the cleanup of every t.TempDir, so
// no test of litedir could pass when its Windows build runs under Wine. os.Remove still calls
// DeleteFile and RemoveDirectory, which Wine has, and behaves the same everywhere else.
//
// The package is internal: it exists for litedir's own tests and is no API.
package testdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// New creates a new, empty temporary directory for tb and returns its path. The directory
// and everything in it are removed with [Remove] when tb and all its subtests have finished;
// a failure to remove it fails tb. Like TempDir, the directory is under $GOTMPDIR if that is
// set (else [os.TempDir]), its name starts with the test's name, and each call makes a new
// directory. A cleanup that closes files in the directory must be registered after New, so
// that it runs first: Windows refuses to delete a file that is still open.
func New(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp(os.Getenv("GOTMPDIR"), pattern(tb.Name()))
	if err != nil {
		tb.Fatalf("testdir: %v", err)
	}
	tb.Cleanup(func() {
		if err := Remove(dir); err != nil {
			tb.Errorf("testdir: cleanup: %v", err)
		}
	})
	return dir
}

// Symlink creates the symbolic link link to target, or skips tb where the system makes none:
// Windows refuses without the privilege, and Wine 8.0's CreateSymbolicLinkW reports success
// without creating anything, so the link is looked at before the test relies on it.
func Symlink(tb testing.TB, target, link string) {
	tb.Helper()
	if err := os.Symlink(target, link); err != nil {
		tb.Skipf("cannot create a symbolic link: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		tb.Skipf("os.Symlink(%q, %q) reported success but left no symbolic link there (Lstat: %v); Wine 8.0's CreateSymbolicLinkW is a stub", target, link, err)
	}
}

// NeedRemoveAll skips tb where [os.RemoveAll] cannot remove a directory tree, for tests of
// code that calls os.RemoveAll itself. It tries one in a directory of its own.
func NeedRemoveAll(tb testing.TB) {
	tb.Helper()
	tree := filepath.Join(New(tb), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "sub", "file"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.RemoveAll(tree); err != nil {
		tb.Skipf("os.RemoveAll does not work on this system: %v (as under Wine 8.0, which lacks the FileDispositionInformationEx that Go's os.RemoveAll uses on Windows)", err)
	}
}

// Remove removes path and, if it is a directory, everything in it, depth first, one
// [os.Remove] per entry. Symbolic links are removed, never followed. A path that does not
// exist is no error. It goes on past failures and returns all of them joined.
func Remove(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	if fi.IsDir() { // false for a symbolic link, even to a directory
		entries, err := os.ReadDir(path)
		errs = append(errs, err)
		for _, e := range entries {
			errs = append(errs, Remove(filepath.Join(path, e.Name())))
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// pattern turns a test name into an os.MkdirTemp pattern as TempDir does: at most 64 bytes,
// keeping ASCII letters, digits and a few harmless symbols, so that a subtest's "/" or a glob
// character cannot change where the directory is made.
func pattern(name string) string {
	name = name[:min(len(name), 64)]
	const allowed = "!#$%&()+,-.=@^_{}~ "
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune(allowed, r):
			return r
		}
		return -1
	}, name)
}

// MustBeEmpty fails t unless dir holds no files, naming each one left
// behind: for commands that promise to remove what they created.
func MustBeEmpty(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}
