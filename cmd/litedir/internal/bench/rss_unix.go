//go:build unix && !linux

package bench

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// peakRSS returns the peak resident set size of the process so far, in
// bytes, from getrusage(2). ru_maxrss is in bytes on Darwin and in KiB on
// the BSDs and AIX; Solaris and illumos leave it 0, which means unknown.
func peakRSS() (int64, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil || ru.Maxrss <= 0 {
		return 0, false
	}
	maxrss := int64(ru.Maxrss)
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return maxrss, true
	}
	return maxrss << 10, true
}
