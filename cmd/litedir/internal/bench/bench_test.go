package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value p50", ms(7), 50, 7 * time.Millisecond},
		{"one value p99", ms(7), 99, 7 * time.Millisecond},
		{"two values p50", ms(1, 2), 50, 1 * time.Millisecond},
		{"two values p51", ms(1, 2), 51, 2 * time.Millisecond},
		{"four values p50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"four values p75", ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{"four values p76", ms(1, 2, 3, 4), 76, 4 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"hundred p1", hundred, 1, 1 * time.Millisecond},
		{"tiny p gives the min", hundred, 0.001, 1 * time.Millisecond},
		{"ten p99 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"ten p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []int64
		want int64
	}{
		{nil, 0},
		{[]int64{5}, 5},
		{[]int64{9, 1}, 5},
		{[]int64{3, 1, 2}, 2},
		{[]int64{4, 1, 3, 2}, 2}, // (2+3)/2, truncated
		{[]int64{10, 40, 20, 30}, 25},
	}
	for _, tt := range tests {
		in := append([]int64(nil), tt.in...)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Errorf("median modified its input: got %v, want %v", tt.in, in)
				break
			}
		}
	}
}

func TestHumanCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{7, "7"},
		{999, "999"},
		{1000, "1,000"},
		{23456, "23,456"},
		{123456, "123,456"},
		{1234567, "1,234,567"},
		{-1234, "-1,234"},
		{-999, "-999"},
	}
	for _, tt := range tests {
		if got := humanCount(tt.n); got != tt.want {
			t.Errorf("humanCount(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestHumanRate(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{0.4, "0"},
		{23456.5, "23,457"},
		{1e6, "1,000,000"},
	}
	for _, tt := range tests {
		if got := humanRate(tt.v); got != tt.want {
			t.Errorf("humanRate(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ns"},
		{850, "850 ns"},
		{999, "999 ns"},
		{1000, "1.00 µs"},
		{12345, "12.3 µs"},
		{652 * time.Microsecond, "652 µs"},
		{999499 * time.Nanosecond, "999 µs"},
		{999600 * time.Nanosecond, "1.00 ms"}, // rounding moves to the next unit
		{1200 * time.Microsecond, "1.20 ms"},
		{10900 * time.Microsecond, "10.9 ms"},
		{9996 * time.Microsecond, "10.0 ms"},
		{2050 * time.Millisecond, "2.05 s"},
		{1234 * time.Second, "1234 s"},
		{-1500 * time.Microsecond, "-1.50 ms"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := humanDuration(tt.d); got != tt.want {
				t.Errorf("humanDuration(%d) = %q, want %q", int64(tt.d), got, tt.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{-1, "n/a"},
		{0, "0 B"},
		{812, "812 B"},
		{1023, "1023 B"},
		{1024, "1.00 KiB"},
		{1536, "1.50 KiB"},
		{4330000, "4.13 MiB"},
		{1023 << 10, "1023 KiB"},
		{1024<<20 - 100, "1.00 GiB"}, // 1023.9999 MiB rounds up into GiB
		{5 << 40, "5.00 TiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := humanBytes(tt.n); got != tt.want {
				t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestHumanRatio(t *testing.T) {
	r := 4.3219
	if got, want := humanRatio(&r), "4.32x"; got != want {
		t.Errorf("humanRatio(%v) = %q, want %q", r, got, want)
	}
	if got, want := humanRatio(nil), "-"; got != want {
		t.Errorf("humanRatio(nil) = %q, want %q", got, want)
	}
}

func TestRatiosDirection(t *testing.T) {
	l := &PhaseResult{WritesPerSec: 300, ReadsPerSec: 50, WriteP50Ns: 1e6, WriteP99Ns: 4e6, WriteMaxNs: 0}
	b := &PhaseResult{WritesPerSec: 100, ReadsPerSec: 0, WriteP50Ns: 3e6, WriteP99Ns: 2e6, WriteMaxNs: 5}
	r := newRatios(l, b)
	check := func(name string, got *float64, want float64, ok bool) {
		t.Helper()
		switch {
		case !ok && got != nil:
			t.Errorf("%s: got %v, want none", name, *got)
		case ok && got == nil:
			t.Errorf("%s: got none, want %v", name, want)
		case ok && *got != want:
			t.Errorf("%s: got %v, want %v", name, *got, want)
		}
	}
	check("writes/s", r.WritesPerSec, 3, true) // litedir/baseline
	check("reads/s", r.ReadsPerSec, 0, false)  // no baseline reads
	check("p50", r.WriteP50, 3, true)          // baseline/litedir
	check("p99", r.WriteP99, 0.5, true)        // litedir worse
	check("max", r.WriteMax, 0, false)         // no litedir latency
}

func TestFillBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 9, 10, 11, 200, 4096} {
		b := make([]byte, n)
		fillBody(rng, b)
		if !utf8.Valid(b) {
			t.Errorf("fillBody(%d): not UTF-8: %q", n, b)
		}
		for _, c := range b {
			if !strings.ContainsRune(bodyAlphabet, rune(c)) {
				t.Fatalf("fillBody(%d): byte %q not in the alphabet", n, c)
			}
		}
	}
	// Deterministic per seed: both phases write the same bodies.
	a, b := make([]byte, 200), make([]byte, 200)
	fillBody(rand.New(rand.NewPCG(writerSeed, 3)), a)
	fillBody(rand.New(rand.NewPCG(writerSeed, 3)), b)
	if !bytes.Equal(a, b) {
		t.Errorf("same seed, different bodies: %q and %q", a, b)
	}
}

func TestBenchFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Config // compared when wantErr is ""
		wantErr string // a substring of the usage error
	}{
		{name: "defaults", args: nil, want: Config{
			name: "litedir", writers: 16, duration: 5 * time.Second, sync: "NORMAL",
			rowSize: 200, sessions: 64, openRuns: 5, workload: "plain", compare: true,
		}},
		{name: "the short run", args: []string{"-compare=false"}, want: Config{
			name: "litedir", writers: 16, duration: 5 * time.Second, sync: "NORMAL",
			rowSize: 200, sessions: 64, openRuns: 5, workload: "plain",
		}},
		{name: "everything", args: []string{
			"-writers", "4", "--readers", "3", "-read-conns", "1", "-duration", "250ms", "-sync", "FULL", "-row-size", "1",
			"-sessions", "2", "-compare", "-open-runs", "0", "-keep",
		}, want: Config{
			name: "litedir", writers: 4, readers: 3, conns: 1, duration: 250 * time.Millisecond,
			sync: "FULL", rowSize: 1, sessions: 2, compare: true, openRuns: 0, keep: true, workload: "plain",
		}},
		{name: "sync off", args: []string{"-sync", "off"}, want: Config{
			name: "litedir", writers: 16, duration: 5 * time.Second, sync: "OFF",
			rowSize: 200, sessions: 64, openRuns: 5, workload: "plain", compare: true,
		}},
		{name: "sync extra", args: []string{"-sync=Extra"}, want: Config{
			name: "litedir", writers: 16, duration: 5 * time.Second, sync: "EXTRA",
			rowSize: 200, sessions: 64, openRuns: 5, workload: "plain", compare: true,
		}},
		{name: "no writers", args: []string{"-writers", "0"}, wantErr: "-writers 0"},
		{name: "negative readers", args: []string{"-readers", "-1"}, wantErr: "-readers -1"},
		{name: "negative read connections", args: []string{"-read-conns", "-1"}, wantErr: "-read-conns -1"},
		{name: "zero duration", args: []string{"-duration", "0s"}, wantErr: "-duration 0s"},
		{name: "negative duration", args: []string{"-duration", "-1s"}, wantErr: "-duration -1s"},
		{name: "unknown sync", args: []string{"-sync", "sometimes"}, wantErr: `-sync "sometimes"`},
		{name: "zero row size", args: []string{"-row-size", "0"}, wantErr: "-row-size 0"},
		{name: "huge row size", args: []string{"-row-size", "1000000000"}, wantErr: "-row-size 1000000000"},
		{name: "no sessions", args: []string{"-sessions", "0"}, wantErr: "-sessions 0"},
		{name: "negative open runs", args: []string{"-open-runs", "-2"}, wantErr: "-open-runs -2"},
		{name: "hold reader", args: []string{"-hold-reader"}, want: Config{
			name: "litedir", writers: 16, duration: 5 * time.Second, sync: "NORMAL",
			rowSize: 200, sessions: 64, openRuns: 5, workload: "plain", holdReader: true, compare: true,
		}},
		{name: "unknown workload", args: []string{"-workload", "orm"}, wantErr: `-workload "orm": want plain, sqlc, client`},
		{name: "workload in capitals", args: []string{"-workload", "SQLC"}, wantErr: `-workload "SQLC"`},
		{name: "sqlc workload", args: []string{"-workload", "sqlc"}, want: Config{
			name: "litedir", writers: 16, duration: 5 * time.Second, sync: "NORMAL",
			rowSize: 200, sessions: 64, openRuns: 5, workload: "sqlc", compare: true,
		}},
		{name: "client workload", args: []string{"-workload", "client", "-compare=false"}, want: Config{
			name: "litedir", writers: 16, duration: 5 * time.Second, sync: "NORMAL",
			rowSize: 200, sessions: 64, openRuns: 5, workload: "client",
		}},
		{name: "unknown flag", args: []string{"-fast"}, wantErr: "-fast"},
		{name: "bad number", args: []string{"-writers", "many"}, wantErr: "many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := flag.NewFlagSet("bench", flag.ContinueOnError)
			flags.SetOutput(io.Discard)
			f := DefineFlags(flags)
			var got *Config
			err := flags.Parse(tt.args)
			if err == nil {
				got, err = f.Config("", "litedir", nil, nil)
			} else {
				err = fmt.Errorf("%w: %w", ErrUsage, err)
			}
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("benchFlags(%q): got error %v, want a usage error containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("benchFlags(%q): %v", tt.args, err)
			}
			got.logger = nil
			if got.wl == nil || got.wl.name() != tt.want.workload {
				t.Errorf("benchFlags(%q): got workload %v, want %s", tt.args, got.wl, tt.want.workload)
			}
			got.wl = nil
			if *got != tt.want {
				t.Errorf("benchFlags(%q):\ngot  %+v\nwant %+v", tt.args, *got, tt.want)
			}
		})
	}
}

// mustBenchJSON runs the bench with the flags args (then [-name N] [DIR])
// and returns Run's error and its result as JSON, raw and decoded.
func mustBenchJSON(t *testing.T, ctx context.Context, args ...string) (error, map[string]any, *Result) {
	t.Helper()
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := DefineFlags(flags)
	name := flags.String("name", "litedir", "")
	if err := flags.Parse(args); err != nil {
		t.Fatal(err)
	}
	dir := ""
	if rest := flags.Args(); len(rest) > 0 {
		if err := flags.Parse(rest[1:]); err != nil {
			t.Fatal(err)
		}
		dir = rest[0]
	}
	c, err := f.Config(dir, *name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	res, runErr := Run(ctx, c, &stderr)
	t.Logf("bench %q: %v, stderr:\n%s", args, runErr, stderr.String())
	var stdout bytes.Buffer
	if err := json.NewEncoder(&stdout).Encode(res); err != nil {
		t.Fatal(err)
	}
	code := runErr
	var raw map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	var decoded Result
	if err := json.Unmarshal(stdout.Bytes(), &decoded); err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return code, raw, &decoded
}

// checkPhase fails t unless p is the record of a sound phase.
func checkPhase(t *testing.T, p *PhaseResult, readers bool) {
	t.Helper()
	if p == nil {
		t.Fatal("phase missing")
	}
	if p.Writes == 0 {
		t.Errorf("%s: got 0 writes, want some", p.Name)
	}
	if readers && p.Reads == 0 {
		t.Errorf("%s: got 0 reads, want some", p.Name)
	}
	if p.WriteErrors != 0 || p.ReadErrors != 0 {
		t.Errorf("%s: got %d write and %d read errors, want none", p.Name, p.WriteErrors, p.ReadErrors)
	}
	if !p.RowsVerified || p.RowsFound != int64(p.Writes) || p.MessageCountSum != int64(p.Writes) {
		t.Errorf("%s: got rows_verified %v, %d found, sum %d, want %d of each",
			p.Name, p.RowsVerified, p.RowsFound, p.MessageCountSum, p.Writes)
	}
	if p.IntegrityCheck != "ok" {
		t.Errorf("%s: got integrity_check %q, want ok", p.Name, p.IntegrityCheck)
	}
	if !(p.WriteP50Ns > 0 && p.WriteP50Ns <= p.WriteP99Ns && p.WriteP99Ns <= p.WriteMaxNs) {
		t.Errorf("%s: got p50 %d, p99 %d, max %d ns, want 0 < p50 <= p99 <= max",
			p.Name, p.WriteP50Ns, p.WriteP99Ns, p.WriteMaxNs)
	}
	// A batch commits one request or more (MeanBatch >= 1), but a write is
	// not always one request: the client workload's write on the front is
	// two statements, each its own request, so a phase may commit more
	// batches than it made writes.
	if p.Batches == 0 || p.MeanBatch < 1 {
		t.Errorf("%s: got %d batches, mean %v, for %d writes", p.Name, p.Batches, p.MeanBatch, p.Writes)
	}
}

func TestBenchCompareJSON(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, raw, res := mustBenchJSON(t, context.Background(),
		"-duration", "300ms", "-writers", "4", "-readers", "2", "-sessions", "3", "-compare", "-hold-reader", "-open-runs", "0")
	if code != nil {
		t.Fatalf("Run: %v", code)
	}
	// Every ratio says how much better its first phase did than its second,
	// as README documents: rates first ÷ second, latencies second ÷ first.
	checkRatios(t, "ratios", res.Ratios, res.Litedir, res.Baseline)
	checkRatios(t, "front_ratios", res.FrontRatios, res.Front, res.Baseline)
	checkRatios(t, "hold_reader_ratios", res.HoldReaderRatios, res.HoldReader, res.Litedir)
	// Every key is there, null when not measured: scripts can rely on them.
	for _, key := range []string{"config", "litedir", "front", "baseline", "ratios", "front_ratios", "hold_reader", "hold_reader_ratios", "open", "interrupted"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("JSON has no key %q", key)
		}
	}
	if raw["open"] != nil {
		t.Errorf(`got "open": %v, want null with -open-runs 0`, raw["open"])
	}
	checkPhase(t, res.Litedir, true)
	checkPhase(t, res.Front, true)
	if res.FrontRatios == nil || res.FrontRatios.WritesPerSec == nil {
		t.Errorf("front_ratios = %+v, want the front compared with the baseline", res.FrontRatios)
	}
	checkPhase(t, res.Baseline, true)
	if res.Baseline.MeanBatch != 1 || res.Baseline.Batches != res.Baseline.Writes {
		t.Errorf("baseline: got %d batches, mean %v, for %d writes; want one per write",
			res.Baseline.Batches, res.Baseline.MeanBatch, res.Baseline.Writes)
	}
	if res.Ratios == nil || res.Ratios.WritesPerSec == nil || res.Ratios.ReadsPerSec == nil {
		t.Errorf("got ratios %+v, want writes and reads", res.Ratios)
	}
	c := res.Config
	if c.Writers != 4 || c.Readers != 2 || c.DurationNs != 300e6 || c.Synchronous != "NORMAL" || !c.Temporary {
		t.Errorf("got config %+v", c)
	}
	if filepath.Base(c.Workspace) != "litedir.db" {
		t.Errorf("got workspace %q, want a litedir.db", c.Workspace)
	}
	if res.Interrupted {
		t.Error("got interrupted true, want false")
	}
	testdir.MustBeEmpty(t, tmp)
}

// TestBenchClientJSON runs the client workload's three phases: each
// verified, the workload and its message sizes in the config.
func TestBenchClientJSON(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	profiles := t.TempDir()
	code, raw, res := mustBenchJSON(t, context.Background(),
		"-duration", "300ms", "-writers", "4", "-readers", "2", "-sessions", "3", "-workload", "client", "-open-runs", "0",
		"-cpuprofile", filepath.Join(profiles, "cpu.pprof"))
	if code != nil {
		t.Fatalf("Run: %v", code)
	}
	for _, p := range []*PhaseResult{res.Litedir, res.Front, res.Baseline} {
		checkPhase(t, p, true)
	}
	// One profile per phase, gzipped protobuf as runtime/pprof writes it.
	for _, phase := range []string{"litedir", "front", "baseline"} {
		b, err := os.ReadFile(filepath.Join(profiles, "cpu."+phase+".pprof"))
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: profile of %d bytes, %v; want a gzipped profile", phase, len(b), err)
		}
	}
	if res.Ratios == nil || res.FrontRatios == nil {
		t.Errorf("got ratios %v and front ratios %v, want both by default", res.Ratios, res.FrontRatios)
	}
	c := res.Config
	if c.Workload != "client" || c.BodyBytes != [2]int{clientPartsMin, clientPartsMax} {
		t.Errorf("got workload %q, body_bytes %v; want client, [%d %d]", c.Workload, c.BodyBytes, clientPartsMin, clientPartsMax)
	}
	config := raw["config"].(map[string]any)
	for _, key := range []string{"engine", "driver_version", "body_bytes"} {
		if _, ok := config[key]; !ok {
			t.Errorf("config has no key %q", key)
		}
	}
	if e := ncruces.EngineInfo(); c.Engine != e.Name || c.DriverVersion != e.DriverVersion || c.Engine == "" {
		t.Errorf("got engine %q %q, want %q %q", c.Engine, c.DriverVersion, e.Name, e.DriverVersion)
	}
	testdir.MustBeEmpty(t, tmp)
}

func TestPhaseProfilePath(t *testing.T) {
	for _, tt := range []struct{ path, phase, want string }{
		{"cpu.pprof", "front", "cpu.front.pprof"},
		{"/tmp/x/cpu", "litedir", "/tmp/x/cpu.litedir"},
		{"a.b/cpu.out", "baseline", "a.b/cpu.baseline.out"},
	} {
		if got := phaseProfilePath(tt.path, tt.phase); got != tt.want {
			t.Errorf("phaseProfilePath(%q, %q) = %q, want %q", tt.path, tt.phase, got, tt.want)
		}
	}
}

// TestProfileUnwritable: a profile that cannot be created fails the run
// before the phase writes anything.
func TestProfileUnwritable(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := DefineFlags(flags)
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.pprof")
	if err := flags.Parse([]string{"-duration", "1h", "-compare=false", "-open-runs", "0", "-cpuprofile", missing}); err != nil {
		t.Fatal(err)
	}
	c, err := f.Config("", "litedir", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), c, io.Discard)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "cpu.litedir.pprof") {
		t.Errorf("Run: got %v, want the profile's path and fs.ErrNotExist", err)
	}
	if res != nil {
		t.Errorf("got a result %+v, want none: nothing was measured", res)
	}
}

func TestHeadline(t *testing.T) {
	r := func(v float64) *float64 { return &v }
	wrote := &PhaseResult{Writes: 10}
	tests := []struct {
		name string
		res  *Result
		want string // a prefix; "" for no line
	}{
		{"litedir and the front", &Result{Litedir: wrote, Baseline: wrote, Ratios: &Ratios{WritesPerSec: r(3.174)}, FrontRatios: &Ratios{WritesPerSec: r(2.5)}},
			"litedir wrote 3.17x as fast as the baseline, the front (the same code on Workspace.SQL) 2.50x: "},
		{"no front", &Result{Litedir: wrote, Baseline: wrote, Ratios: &Ratios{WritesPerSec: r(0.5)}},
			"litedir wrote 0.50x as fast as the baseline: "},
		{"the short run", &Result{Litedir: wrote}, "litedir alone (-compare=false): run without it"},
		{"baseline wrote nothing", &Result{Litedir: wrote, Baseline: &PhaseResult{}, Ratios: &Ratios{}}, ""},
		{"nothing written", &Result{Litedir: &PhaseResult{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := headline(tt.res)
			if !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
				t.Errorf("got %q, want it to start with %q", got, tt.want)
			}
		})
	}
}

// checkRatios checks that r compares phase p with base so that above 1
// always means p did better.
func checkRatios(t *testing.T, name string, r *Ratios, p, base *PhaseResult) {
	t.Helper()
	if r == nil || p == nil || base == nil {
		t.Errorf("%s: got %v for phases %v and %v, want a comparison", name, r, p, base)
		return
	}
	check := func(key string, got *float64, num, den float64) {
		t.Helper()
		switch {
		case den == 0 && got != nil:
			t.Errorf("%s.%s: got %v, want null (nothing to divide by)", name, key, *got)
		case den != 0 && got == nil:
			t.Errorf("%s.%s: got null, want %v", name, key, num/den)
		case den != 0 && math.Abs(*got-num/den) > 1e-9*math.Abs(num/den):
			t.Errorf("%s.%s: got %v, want %v / %v", name, key, *got, num, den)
		}
	}
	check("writes_per_sec", r.WritesPerSec, p.WritesPerSec, base.WritesPerSec)
	check("reads_per_sec", r.ReadsPerSec, p.ReadsPerSec, base.ReadsPerSec)
	check("write_p50", r.WriteP50, float64(base.WriteP50Ns), float64(p.WriteP50Ns))
	check("write_p99", r.WriteP99, float64(base.WriteP99Ns), float64(p.WriteP99Ns))
	check("write_max", r.WriteMax, float64(base.WriteMaxNs), float64(p.WriteMaxNs))
}

func TestBenchKeepsDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "ws")
	ctx := context.Background()
	var first *PhaseResult
	for range 2 {
		code, _, res := mustBenchJSON(t, ctx, "-duration", "100ms", "-writers", "2", "-open-runs", "0", "-compare=false", "-name", "agent", dir)
		if code != nil {
			t.Fatalf("Run: %v", code)
		}
		checkPhase(t, res.Litedir, false)
		if res.Config.Temporary || res.Config.Workspace != filepath.Join(dir, "agent.db") {
			// The workspace path is resolved; dir has no symbolic links.
			t.Errorf("got workspace %q (temporary %v), want %s", res.Config.Workspace, res.Config.Temporary, filepath.Join(dir, "agent.db"))
		}
		if first == nil {
			first = res.Litedir
		}
	}
	// The second run added to the first one's rows, and verified its own.
	ws, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Name: "agent", Migrations: migrations.Builtin})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var n int64
	if err := ws.DB().QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n <= first.RowsFound {
		t.Errorf("got %d messages after two runs, want more than the first run's %d", n, first.RowsFound)
	}
}

func TestBenchInterrupted(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var phases []string
	testHookPhaseRunning = func(phase string) {
		phases = append(phases, phase)
		cancel() // what Ctrl-C does, through signal.NotifyContext
	}
	t.Cleanup(func() { testHookPhaseRunning = nil })

	code, _, res := mustBenchJSON(t, ctx, "-duration", "1h", "-writers", "3", "-readers", "1", "-compare")
	if !errors.Is(code, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", code)
	}
	if len(phases) != 1 || phases[0] != "litedir" {
		t.Errorf("got phases %q, want only litedir: an interruption skips the rest", phases)
	}
	if !res.Interrupted || !res.Litedir.Interrupted {
		t.Errorf("got interrupted %v, litedir phase %v, want true", res.Interrupted, res.Litedir.Interrupted)
	}
	if res.Baseline != nil || res.Open != nil {
		t.Errorf("got baseline %v, open %v, want neither", res.Baseline, res.Open)
	}
	// Whatever ran is verified all the same.
	if !res.Litedir.RowsVerified || res.Litedir.IntegrityCheck != "ok" {
		t.Errorf("got rows_verified %v, integrity_check %q", res.Litedir.RowsVerified, res.Litedir.IntegrityCheck)
	}
	if time.Duration(res.Litedir.ElapsedNs) > time.Minute {
		t.Errorf("got elapsed %v, want the phase cut short", time.Duration(res.Litedir.ElapsedNs))
	}
	testdir.MustBeEmpty(t, tmp)
}

// lossyTarget acknowledges every write but stores only the users' messages:
// what the verification exists to catch.
type lossyTarget struct {
	*litedirTarget
}

func (t *lossyTarget) write(ctx context.Context, m *message) error {
	if m.role == "assistant" {
		return nil // acknowledged, never written
	}
	return t.litedirTarget.write(ctx, m)
}

// mustRunPhase runs a short phase of the named workload on the target wrap
// makes of a litedir target on a new workspace.
func mustRunPhase(t *testing.T, workload string, wrap func(*litedirTarget) target) *PhaseResult {
	t.Helper()
	ctx := context.Background()
	wl, ok := newWorkload(workload, 10)
	if !ok {
		t.Fatalf("no workload %q", workload)
	}
	ws, err := workspace.Open(ctx, t.TempDir(), &workspace.Options{Migrations: wl.schema()})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &Config{writers: 2, duration: 100 * time.Millisecond, sync: "NORMAL", rowSize: 10, sessions: 2, workload: workload, wl: wl}
	r, err := runPhase(ctx, c, t.Name(), wrap(&litedirTarget{ws: ws, wl: wl}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPhaseCatchesLostWrites(t *testing.T) {
	for _, workload := range workloadNames {
		t.Run(workload, func(t *testing.T) {
			r := mustRunPhase(t, workload, func(l *litedirTarget) target { return &lossyTarget{litedirTarget: l} })
			if r.RowsVerified {
				t.Fatalf("got rows_verified true for a target that drops writes: %d acked, %d found", r.RowsExpected, r.RowsFound)
			}
			if r.RowsFound >= r.RowsExpected {
				t.Errorf("got %d rows found, want fewer than the %d acknowledged", r.RowsFound, r.RowsExpected)
			}
			if r.KeysMissing == 0 || r.KeysDuplicated != 0 {
				t.Errorf("got %d keys missing, %d duplicated; want some missing, none duplicated", r.KeysMissing, r.KeysDuplicated)
			}
			fails := r.failures()
			if len(fails) != 1 || !errors.Is(fails[0], ErrVerify) {
				t.Fatalf("got failures %v, want one matching ErrVerify", fails)
			}
			if errors.Is(errors.Join(fails...), workspace.ErrCheckFailed) {
				t.Errorf("a verification failure matches ErrCheckFailed (exit status 4), want a plain failure")
			}
			if !strings.Contains(fails[0].Error(), "VERIFICATION FAILED") {
				t.Errorf("got %q, want a loud VERIFICATION FAILED", fails[0])
			}
		})
	}
}

// TestPhaseVerifies is the control of the tests above: the same short
// phase on the target itself verifies every write, on every workload.
func TestPhaseVerifies(t *testing.T) {
	for _, workload := range workloadNames {
		t.Run(workload, func(t *testing.T) {
			r := mustRunPhase(t, workload, func(l *litedirTarget) target { return l })
			if !r.RowsVerified || r.KeysChecked != r.RowsExpected || r.KeysChecked == 0 || r.IntegrityCheck != "ok" {
				t.Errorf("got rows_verified %v, %d keys checked of %d writes, integrity_check %q; want every write verified",
					r.RowsVerified, r.KeysChecked, r.RowsExpected, r.IntegrityCheck)
			}
			if fails := r.failures(); len(fails) > 0 {
				t.Errorf("got failures %v, want none", fails)
			}
		})
	}
}

func TestBenchText(t *testing.T) {
	r := func(v float64) *float64 { return &v }
	rss := int64(50 << 20)
	p := func(name string, verified bool) *PhaseResult {
		return &PhaseResult{
			Name: name, ElapsedNs: 2e9, Writes: 1234, WritesPerSec: 617, ReadsPerSec: 0,
			WriteP50Ns: 1.2e6, WriteP99Ns: 9e6, WriteMaxNs: 2e7, MeanBatch: 12.34,
			WALMaxBytes: 4 << 20, WALFinalBytes: 0, PeakRSSBytes: &rss, IntegrityCheck: "ok",
			RowsExpected: 1234, RowsFound: 1234, MessageCountSum: 1234, RowsVerified: verified,
		}
	}
	res := &Result{
		Config: ConfigJSON{Writers: 16, DurationNs: 5e9, Synchronous: "FULL", RowSize: 200, Sessions: 64, Workload: "plain", GOMAXPROCS: 2, GOOS: "linux", GOARCH: "amd64",
			SQLiteVersion: "3.51.3", Engine: "wazero", DriverVersion: "v0.32.0", Workspace: "/tmp/x/litedir.db", Temporary: true},
		Litedir:  p("litedir", true),
		Baseline: p("baseline", false),
		Ratios:   &Ratios{WritesPerSec: r(4.5), WriteP50: r(2)},
		Open:     &OpenResult{Runs: 2, ColdNs: 2e9, ColdProcessNs: 2.1e9, WarmMedianNs: new(int64(48e6)), WarmMinNs: new(int64(48e6)), WarmMaxNs: new(int64(48e6)), WarmProcessMedianNs: new(int64(60e6))},
	}
	res.Baseline.PeakRSSBytes = nil
	var b bytes.Buffer
	if err := WriteText(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// Columns are padded with spaces; the patterns care about order only.
	for _, want := range []string{
		`^litedir bench: 16 writers, 0 readers, \d+ read connections, 5s per phase, synchronous=FULL, 200-byte bodies, .*, SQLite 3\.51\.3 \(wazero, ncruces v0\.32\.0\), .*\(temporary\)$`,
		`^each write: INSERT a message \+ UPDATE its session \(two ExecContext\)$`,
		`^baseline: one pooled connection, BEGIN IMMEDIATE`,
		`^litedir wrote 4\.50x as fast as the baseline: the baseline is the one-connection setup programs ship today`,
		`^ +litedir +baseline +ratio$`,
		`^writes/s +617 +617 +4\.50x$`,
		`^write p50 +1\.20 ms +1\.20 ms +2\.00x$`,
		`^write p99 +9\.00 ms +9\.00 ms +-$`,
		`^mean batch +12\.3 +12\.3 +-$`,
		`^WAL final +0 B +0 B +-$`,
		`^peak RSS\* +50\.0 MiB +n/a +-$`,
		`^integrity_check +ok +ok +-$`,
		`^rows verified +1,234 ok +MISMATCH +-$`,
		`above 1 means litedir is better`,
		`^open \+ first query .*: cold 2\.00 s \(process 2\.10 s\); warm median 48\.0 ms`,
	} {
		if !regexp.MustCompile("(?m)" + want).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
}

// swapTarget loses every assistant message and stores every user message
// twice (under a second id where the program makes ids): the counts add
// up, only the keys tell.
type swapTarget struct {
	*litedirTarget
}

func (t *swapTarget) write(ctx context.Context, m *message) error {
	if m.role == "assistant" {
		return nil // acknowledged, never written
	}
	if err := t.litedirTarget.write(ctx, m); err != nil {
		return err
	}
	again := *m
	if again.id != "" {
		again.id = newUUID()
	}
	return t.litedirTarget.write(ctx, &again)
}

func TestPhaseCatchesSwappedWrites(t *testing.T) {
	for _, workload := range workloadNames {
		t.Run(workload, func(t *testing.T) {
			r := mustRunPhase(t, workload, func(l *litedirTarget) target { return &swapTarget{litedirTarget: l} })
			if r.RowsVerified || r.KeysMissing == 0 || r.KeysDuplicated == 0 {
				t.Fatalf("got rows_verified %v, %d keys missing, %d duplicated, for a target that loses and doubles writes",
					r.RowsVerified, r.KeysMissing, r.KeysDuplicated)
			}
			if r.KeysChecked != r.RowsExpected {
				t.Errorf("checked %d keys, want the %d acknowledged", r.KeysChecked, r.RowsExpected)
			}
		})
	}
}

// TestLogAcks checks the markers CI's strace checker reads: "phase NAME" as
// each workspace phase starts (none for the baseline), then one "ack KEY"
// line per acknowledged write of the phase, each key once.
func TestLogAcks(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := DefineFlags(flags)
	if err := flags.Parse([]string{"-duration", "200ms", "-writers", "3", "-compare", "-open-runs", "0"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.Config("", "litedir", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log testproc.Buffer
	c.LogAcks(&log)
	res, err := Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	acks := map[string]map[string]int{} // phase, key: count
	phase := ""
	for _, line := range strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n") {
		switch kind, arg, _ := strings.Cut(line, " "); kind {
		case "phase":
			phase = arg
			acks[phase] = map[string]int{}
		case "ack":
			if phase == "" || !regexp.MustCompile(`^w[0-9]+\.[0-9]+:$`).MatchString(arg) {
				t.Fatalf("line %q: want an ack of a key after a phase line", line)
			}
			acks[phase][arg]++
		default:
			t.Fatalf("line %q: want phase or ack", line)
		}
	}
	for _, p := range []*PhaseResult{res.Litedir, res.Front} {
		if got := len(acks[p.Name]); got != int(p.Writes) || got == 0 {
			t.Errorf("phase %s: %d keys acknowledged, want its %d writes", p.Name, got, p.Writes)
		}
		for key, n := range acks[p.Name] {
			if n != 1 {
				t.Errorf("phase %s: key %s acknowledged %d times", p.Name, key, n)
			}
		}
	}
	if _, ok := acks["baseline"]; ok {
		t.Error("the baseline phase wrote markers: it writes through no workspace")
	}
}
