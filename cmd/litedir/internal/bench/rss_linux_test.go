package bench

import "testing"

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name   string
		status string
		want   int64
		wantOK bool
	}{
		{"typical", "Name:\tlitedir\nVmPeak:\t 1292376 kB\nVmSize:\t 1292376 kB\nVmHWM:\t   51284 kB\nVmRSS:\t   51284 kB\n", 51284 << 10, true},
		{"first line", "VmHWM: 1 kB\n", 1024, true},
		{"no newline", "VmRSS: 5 kB\nVmHWM: 7 kB", 7 << 10, true},
		{"missing", "Name:\tlitedir\nVmRSS:\t 51284 kB\n", 0, false},
		{"empty", "", 0, false},
		{"not a number", "VmHWM: lots kB\n", 0, false},
		{"other unit", "VmHWM: 12 MB\n", 0, false},
		{"no unit", "VmHWM: 12\n", 0, false},
		{"zero", "VmHWM: 0 kB\n", 0, false},
		{"prefix of another key", "VmHWMx: 9 kB\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseVmHWM([]byte(tt.status))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseVmHWM(%q) = %d, %v; want %d, %v", tt.status, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
