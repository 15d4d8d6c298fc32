package bench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// peakRSS returns the peak resident set size of the process so far, in
// bytes: VmHWM ("high water mark") in /proc/self/status, which the kernel
// reports in KiB.
func peakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	return parseVmHWM(b)
}

// parseVmHWM finds the line "VmHWM:   123456 kB" in the contents of a
// /proc/<pid>/status file and returns its value in bytes.
func parseVmHWM(status []byte) (int64, bool) {
	s := bufio.NewScanner(bytes.NewReader(status))
	for s.Scan() {
		rest, ok := bytes.CutPrefix(s.Bytes(), []byte("VmHWM:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, false
		}
		kib, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil || kib <= 0 {
			return 0, false
		}
		return kib << 10, true
	}
	return 0, false
}
