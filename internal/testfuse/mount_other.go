//go:build !(linux && (amd64 || arm64 || riscv64 || ppc64 || ppc64le || s390x || loong64 || mips64 || mips64le))

package testfuse

import (
	"runtime"
	"testing"
)

// Mount skips the test: the FUSE mounts are go-fuse's, which builds for 64-bit Linux only.
func Mount(tb testing.TB, p Policy) (mnt, src string) {
	tb.Helper()
	tb.Skipf("testfuse: no FUSE mounts on %s/%s", runtime.GOOS, runtime.GOARCH)
	return "", ""
}
