package testdir

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Snapshot reads files of dir, by name: the names given that exist, or
// with no names every regular file. Compare two with [SameFiles] to show
// that an operation changed no byte.
func Snapshot(tb testing.TB, dir string, names ...string) map[string][]byte {
	tb.Helper()
	if len(names) == 0 {
		entries, err := os.ReadDir(dir)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	files := make(map[string][]byte, len(names))
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		files[name] = b
	}
	return files
}

// SameFiles fails tb for every file that differs between two snapshots:
// changed, removed, or created unless its name is in allowNew.
func SameFiles(tb testing.TB, before, after map[string][]byte, allowNew ...string) {
	tb.Helper()
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			tb.Errorf("%s: removed", name)
		case !bytes.Equal(a, b):
			tb.Errorf("%s: changed: got %d bytes, want the %d bytes it held", name, len(a), len(b))
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && !slices.Contains(allowNew, name) {
			tb.Errorf("%s: created", name)
		}
	}
}

// ReadFile returns the contents of the file at path, failing tb if it cannot be read.
func ReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Names returns the names of the entries of dir, sorted, failing tb if dir cannot be read.
// It returns nil for an empty directory.
func Names(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
