package testdir

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Containing returns the names of the regular files of dir (not of its
// subdirectories) whose bytes contain marker, such as a plaintext a test
// wrote into an encrypted database, sorted. A file that vanishes while it is
// read (SQLite deletes its -journal, a copy its temporary file) is skipped.
func Containing(tb testing.TB, dir string, marker []byte) []string {
	tb.Helper()
	var found []string
	for _, name := range Names(tb, dir) {
		path := filepath.Join(dir, name)
		info, err := os.Lstat(path)
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if bytes.Contains(b, marker) {
			found = append(found, name)
		}
	}
	return found
}
