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
