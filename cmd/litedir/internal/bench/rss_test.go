package bench

import (
	"runtime"
	"testing"
)

func TestPeakRSS(t *testing.T) {
	// Hold some memory so the peak is surely above it.
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	rss, ok := peakRSS()
	runtime.KeepAlive(buf)
	switch runtime.GOOS {
	case "linux", "android", "darwin", "ios", "freebsd", "openbsd", "netbsd", "dragonfly", "windows":
		if !ok {
			t.Fatalf("peakRSS() = %d, %v; want a value on %s", rss, ok, runtime.GOOS)
		}
	default:
		if !ok {
			t.Skipf("no peak RSS on %s", runtime.GOOS)
		}
	}
	if rss < int64(len(buf)) {
		t.Errorf("peakRSS() = %d bytes, want at least the %d this test touched", rss, len(buf))
	}
	again, _ := peakRSS()
	if again < rss {
		t.Errorf("peakRSS() went down from %d to %d; a peak never does", rss, again)
	}
}
