//go:build !unix && !windows

package bench

// peakRSS reports that this platform gives no peak resident set size; the
// bench prints "n/a".
func peakRSS() (int64, bool) { return 0, false }
