//go:build linux

package ncruces

import (
	"path/filepath"
	"testing"

	"github.com/litedir/litedir/internal/testfuse"
)

// TestDetectFilesystemFUSE detects a real FUSE mount, and its subtype.
func TestDetectFilesystemFUSE(t *testing.T) {
	mnt, src := testfuse.Mount(t, testfuse.RefuseSharedMemoryLocks)
	want := Filesystem{Type: "fuse." + testfuse.Name, Kind: FUSEFilesystem}
	for _, path := range []string{mnt, filepath.Join(mnt, ".")} {
		if got, err := DetectFilesystem(path); err != nil || got != want {
			t.Errorf("DetectFilesystem(%s): got %+v, %v, want %+v", path, got, err, want)
		}
	}
	if got, err := DetectFilesystem(src); err != nil || !got.Local() {
		t.Errorf("DetectFilesystem of the mirrored directory: got %+v, %v, want a local one", got, err)
	}
}
