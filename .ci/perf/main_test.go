package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The keys of litedir bench -json that perf reads, as bench writes them.
const (
	compareJSON = `{"config": {"workload": "client", "synchronous": "NORMAL", "sqlite_version": "3.51.3", "engine": "wazero", "driver_version": "v0.32.0"},
	"litedir": {"writes_per_sec": 18353.4, "write_p99_ns": 10600000, "mean_batch": 14.2, "rows_verified": true, "integrity_check": "ok"},
	"front": {"writes_per_sec": 15575, "write_p99_ns": 11200000, "mean_batch": 9.5, "rows_verified": true, "integrity_check": "ok"},
	"baseline": {"writes_per_sec": 5787, "write_p99_ns": 16800000, "mean_batch": 1, "rows_verified": true, "integrity_check": "ok"},
	"ratios": {"writes_per_sec": 3.1714}, "front_ratios": {"writes_per_sec": 2.6914},
	"hold_reader": null, "hold_reader_ratios": null, "open": null}`
	holdJSON = `{"config": {"sqlite_version": "3.53.4", "engine": "wasm2go", "driver_version": "v0.35.3"},
	"litedir": {"writes_per_sec": 20000, "rows_verified": true, "integrity_check": "ok"},
	"front": null, "baseline": null, "ratios": null, "front_ratios": null,
	"hold_reader": {"writes_per_sec": 22697, "write_p99_ns": 1600000, "write_max_ns": 106000000, "wal_max_bytes": 1288490188, "rows_verified": true, "integrity_check": "ok"},
	"hold_reader_ratios": {"writes_per_sec": 1.13}, "open": null}`
	openJSON = `{"config": {"sqlite_version": "3.53.4", "engine": "wasm2go", "driver_version": "v0.35.3"},
	"litedir": {"writes_per_sec": 1, "rows_verified": true, "integrity_check": "ok"},
	"open": {"runs": 3, "cold_ns": 25000000, "warm_median_ns": 15000000, "warm_min_ns": 11000000, "warm_max_ns": 16500000}}`
	lostJSON = `{"config": {}, "litedir": {"writes_per_sec": 100, "rows_verified": false, "integrity_check": "ok"},
	"front": {"writes_per_sec": 90, "rows_verified": true, "integrity_check": "ok"},
	"baseline": {"writes_per_sec": 50, "rows_verified": true, "integrity_check": "ok"},
	"ratios": {"writes_per_sec": 2}, "front_ratios": {"writes_per_sec": 1.8}}`
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	manifest := strings.Join([]string{
		"wazero\tlitedir bench -workload client\t" + file("1.json", compareJSON),
		"wasm2go\tlitedir bench -workload client\t" + filepath.Join(dir, "missing.json"),
		"wasm2go\tlitedir bench -hold-reader -compare=false -duration 10s\t" + file("2.json", holdJSON),
		"wasm2go\tlitedir bench -compare=false -duration 1s -open-runs 3\t" + file("3.json", openJSON),
		"wazero\tlitedir bench -sync full\t" + file("4.json", lostJSON),
		"",
	}, "\n")
	runs, err := readManifest(strings.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := write(&b, runs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`^- wasm2go: SQLite 3\.53\.4, ncruces/go-sqlite3 v0\.35\.3$`,
		`^- wazero: SQLite 3\.51\.3, ncruces/go-sqlite3 v0\.32\.0$`,
		"^\\| `litedir bench -workload client` \\| wazero \\| 18,353 \\| 15,575 \\| 5,787 \\| \\*\\*3\\.17×\\*\\* \\| \\*\\*2\\.69×\\*\\* \\| 10\\.6 / 11\\.2 / 16\\.8 ms \\| 14\\.2 / 9\\.5 \\|$",
		`^\|  \| wasm2go \| failed: open .*missing\.json: no such file or directory \|+$`,
		"^\\| `litedir bench -hold-reader -compare=false -duration 10s` \\| wasm2go \\| 20,000 \\| 22,697 \\| \\*\\*1\\.13×\\*\\* \\| 1\\.60 ms \\| \\*\\*106 ms\\*\\* \\| 1229 MiB \\|$",
		"^\\| `litedir bench -compare=false -duration 1s -open-runs 3` \\| wasm2go \\| 3 \\| 25\\.0 ms \\| 15\\.0 ms \\(11\\.0–16\\.5\\) \\|$",
		"^\\| `litedir bench -sync full` \\| wazero \\| 100 \\| 90 \\| 50 \\| .* NOT VERIFIED$",
	} {
		if !regexp.MustCompile("(?m)" + want).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
}

func TestReadManifestRejectsBadLines(t *testing.T) {
	if _, err := readManifest(strings.NewReader("wazero\tlitedir bench\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("got %v, want an error naming line 1", err)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
