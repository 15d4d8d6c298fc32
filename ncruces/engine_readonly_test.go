//go:build !litedir_wasm2go

package ncruces

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// The environment of a child of TestEngineCache whose cache must be
// read-only: by a mount (envReadOnlyMount names the directory) or by
// permission bits (envReadOnlyBits). The child checks that it is.
const (
	envReadOnlyMount = "LITEDIR_TEST_RO_MOUNT"
	envReadOnlyBits  = "LITEDIR_TEST_RO_BITS"
)

// chmodReadOnly takes the write permission bits off dir and everything in
// it, and restores them when the test ends so that it can be removed.
func chmodReadOnly(t *testing.T, dir string) {
	t.Helper()
	walk := func(dirMode, fileMode fs.FileMode) error {
		return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.Chmod(path, dirMode)
			}
			return os.Chmod(path, fileMode)
		})
	}
	t.Cleanup(func() {
		if err := walk(0o755, 0o644); err != nil {
			t.Error(err)
		}
	})
	if err := walk(0o555, 0o444); err != nil {
		t.Fatal(err)
	}
}
