package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is everything a bench run measured. Its JSON form is the
// output of -json: raw units (nanoseconds, bytes, counts, per-second
// rates), lower_snake keys that are always present, null for what was not
// measured.
type Result struct {
	Config      ConfigJSON   `json:"config"`
	Litedir     *PhaseResult `json:"litedir"`
	Front       *PhaseResult `json:"front"`        // null with -compare=false
	Baseline    *PhaseResult `json:"baseline"`     // null with -compare=false
	Ratios      *Ratios      `json:"ratios"`       // litedir against baseline; null with -compare=false
	FrontRatios *Ratios      `json:"front_ratios"` // front against baseline; null with -compare=false

	// HoldReader is the litedir phase run again beside a reader that
	// renews a read transaction every second; HoldReaderRatios compares it
	// with the phase alone (hold_reader/litedir for rates, litedir/hold_reader
	// for latencies). Both null without -hold-reader.
	HoldReader       *PhaseResult `json:"hold_reader"`
	HoldReaderRatios *Ratios      `json:"hold_reader_ratios"`
	Open             *OpenResult  `json:"open"` // null with -open-runs 0
	Interrupted      bool         `json:"interrupted"`
}

// ConfigJSON is the run's configuration and platform.
type ConfigJSON struct {
	Writers     int    `json:"writers"`
	Readers     int    `json:"readers"`
	ReadConns   int    `json:"read_conns"`  // the workspace's read pool (0: the writer's connection)
	DurationNs  int64  `json:"duration_ns"` // per phase
	Synchronous string `json:"synchronous"`
	RowSize     int    `json:"row_size"` // -row-size: message body bytes of plain and sqlc
	Sessions    int    `json:"sessions"`
	Workload    string `json:"workload"`   // plain, sqlc or client
	BodyBytes   [2]int `json:"body_bytes"` // the smallest and largest message text: row_size twice, or client's JSON parts

	ExternalCheckpoints bool   `json:"external_checkpoints"` // -external-checkpoints
	Encrypted           bool   `json:"encrypted"`            // -key-file: the workspace and the baseline
	GOMAXPROCS          int    `json:"gomaxprocs"`
	GOOS                string `json:"goos"`
	GOARCH              string `json:"goarch"`
	SQLiteVersion       string `json:"sqlite_version"`
	Engine              string `json:"engine"`         // wazero, or wasm2go (-tags litedir_wasm2go)
	DriverVersion       string `json:"driver_version"` // github.com/ncruces/go-sqlite3's; "" when unknown
	Workspace           string `json:"workspace"`      // the database file
	Temporary           bool   `json:"temporary"`      // a new directory, not DIR
	Kept                bool   `json:"kept"`           // left in place at the end: DIR, or -keep
}

// PhaseResult is what one phase measured.
type PhaseResult struct {
	Name        string `json:"-"`
	ElapsedNs   int64  `json:"elapsed_ns"`  // from the start of the workload until every goroutine returned
	Interrupted bool   `json:"interrupted"` // stopped before the deadline

	Writes          uint64  `json:"writes"` // Write calls that returned nil
	WriteErrors     uint64  `json:"write_errors"`
	FirstWriteError string  `json:"first_write_error"`
	Reads           uint64  `json:"reads"` // queries whose rows were all scanned
	ReadErrors      uint64  `json:"read_errors"`
	FirstReadError  string  `json:"first_read_error"`
	WritesPerSec    float64 `json:"writes_per_sec"` // one message row per write
	ReadsPerSec     float64 `json:"reads_per_sec"`

	// Latency of a write, from the call to its return, over every
	// acknowledged write; nearest-rank percentiles.
	WriteP50Ns int64 `json:"write_p50_ns"`
	WriteP99Ns int64 `json:"write_p99_ns"`
	WriteMaxNs int64 `json:"write_max_ns"`

	Batches     uint64  `json:"batches"`    // transactions committed
	MeanBatch   float64 `json:"mean_batch"` // committed requests (Write calls, front statements) per transaction
	WALRestarts uint64  `json:"wal_restarts"`

	WALMaxBytes   int64  `json:"wal_max_bytes"`   // largest sampled -wal size
	WALFinalBytes int64  `json:"wal_final_bytes"` // after the workload, before the workspace closes
	PeakRSSBytes  *int64 `json:"peak_rss_bytes"`  // the process's peak so far; null when unknown

	IntegrityCheck  string `json:"integrity_check"` // "ok" or the first problem
	RowsExpected    int64  `json:"rows_expected"`   // = writes
	RowsFound       int64  `json:"rows_found"`      // rows messages gained
	MessageCountSum int64  `json:"message_count_sum"`
	KeysChecked     int64  `json:"keys_checked"`    // acknowledged writes looked up by key, on a fresh connection
	KeysMissing     int64  `json:"keys_missing"`    // of those, not found
	KeysDuplicated  int64  `json:"keys_duplicated"` // of those, found more than once
	RowsVerified    bool   `json:"rows_verified"`   // rows_found and message_count_sum equal rows_expected, every key found once

	checkErr         error // matches workspace.ErrCheckFailed
	writers, readers int
}

// Ratios compares a phase with another so that above 1 always means the
// first is better: first/second for rates, second/first for latencies
// (litedir/baseline and baseline/litedir in the ratios key). A ratio is null
// when its denominator is 0.
type Ratios struct {
	WritesPerSec *float64 `json:"writes_per_sec"`
	ReadsPerSec  *float64 `json:"reads_per_sec"`
	WriteP50     *float64 `json:"write_p50"`
	WriteP99     *float64 `json:"write_p99"`
	WriteMax     *float64 `json:"write_max"`
}

func newRatios(l, b *PhaseResult) *Ratios {
	return &Ratios{
		WritesPerSec: ratio(l.WritesPerSec, b.WritesPerSec),
		ReadsPerSec:  ratio(l.ReadsPerSec, b.ReadsPerSec),
		WriteP50:     ratio(float64(b.WriteP50Ns), float64(l.WriteP50Ns)),
		WriteP99:     ratio(float64(b.WriteP99Ns), float64(l.WriteP99Ns)),
		WriteMax:     ratio(float64(b.WriteMaxNs), float64(l.WriteMaxNs)),
	}
}

func ratio(num, den float64) *float64 {
	if den == 0 {
		return nil
	}
	return new(num / den)
}

// OpenResult is the open-time measurement: Open of the existing workspace
// plus a first query, timed inside child processes, and each child's whole
// wall time as the parent saw it.
type OpenResult struct {
	Runs                int     `json:"runs"`
	ColdNs              int64   `json:"cold_ns"` // first run, empty engine cache
	ColdProcessNs       int64   `json:"cold_process_ns"`
	WarmNs              []int64 `json:"warm_ns"` // the other runs, warm cache
	WarmProcessNs       []int64 `json:"warm_process_ns"`
	WarmMedianNs        *int64  `json:"warm_median_ns"` // null with one run
	WarmMinNs           *int64  `json:"warm_min_ns"`
	WarmMaxNs           *int64  `json:"warm_max_ns"`
	WarmProcessMedianNs *int64  `json:"warm_process_median_ns"`
}

// WriteText writes res for a person: a header line, a table with a
// column per phase, and the open time.
func WriteText(w io.Writer, res *Result) error {
	c := res.Config
	where := "kept"
	if c.Temporary {
		where = "temporary"
	}
	if c.Temporary && c.Kept {
		where = "temporary, kept by -keep"
	}
	wl, _ := newWorkload(c.Workload, c.RowSize)
	var about workloadText
	if wl != nil {
		about = wl.describe()
	} else { // a Result from elsewhere, with a workload this build does not know
		about = workloadText{body: c.Workload + " workload"}
	}
	if c.Encrypted {
		where += ", encrypted"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "litedir bench: %d writers, %d readers, %d read connections, %v per phase, synchronous=%s, %s, %d sessions, GOMAXPROCS=%d, %s/%s, SQLite %s (%s), workspace %s (%s)\n",
		c.Writers, c.Readers, c.ReadConns, time.Duration(c.DurationNs), c.Synchronous, about.body, c.Sessions,
		c.GOMAXPROCS, c.GOOS, c.GOARCH, orUnknown(c.SQLiteVersion), engineText(c), c.Workspace, where)
	if about.write != "" {
		fmt.Fprintf(&b, "each write: %s\n", about.write)
	}
	b.WriteString("litedir: Workspace.Write with the write's statements, many goroutines' calls per transaction (group commit), reads on the read pool\n")
	if res.Front != nil {
		b.WriteString("front: Workspace.SQL with the code unchanged, each statement joining a batch, reads on the read pool\n")
	}
	if res.Baseline != nil {
		fmt.Fprintf(&b, "baseline: %s\n", about.baseline)
	}
	b.WriteString("\n")

	phases := []*PhaseResult{res.Litedir}
	head := []string{"", "litedir"}
	if res.Front != nil {
		phases = append(phases, res.Front)
		head = append(head, "front")
	}
	if res.Baseline != nil {
		phases = append(phases, res.Baseline)
		head = append(head, "baseline", "ratio")
		if res.FrontRatios != nil {
			head = append(head, "front ratio")
		}
	}
	rows := [][]string{head}
	var rt, ft Ratios
	if res.Ratios != nil {
		rt = *res.Ratios
	}
	if res.FrontRatios != nil {
		ft = *res.FrontRatios
	}
	row := func(label string, cell func(p *PhaseResult) string, r, fr *float64) {
		cells := []string{label}
		for _, p := range phases {
			cells = append(cells, cell(p))
		}
		if res.Baseline != nil {
			cells = append(cells, humanRatio(r))
			if res.FrontRatios != nil {
				cells = append(cells, humanRatio(fr))
			}
		}
		rows = append(rows, cells)
	}
	row("elapsed", func(p *PhaseResult) string { return humanDuration(time.Duration(p.ElapsedNs)) }, nil, nil)
	row("writes/s", func(p *PhaseResult) string { return humanRate(p.WritesPerSec) }, rt.WritesPerSec, ft.WritesPerSec)
	row("reads/s", func(p *PhaseResult) string { return humanRate(p.ReadsPerSec) }, rt.ReadsPerSec, ft.ReadsPerSec)
	row("write p50", func(p *PhaseResult) string { return humanDuration(time.Duration(p.WriteP50Ns)) }, rt.WriteP50, ft.WriteP50)
	row("write p99", func(p *PhaseResult) string { return humanDuration(time.Duration(p.WriteP99Ns)) }, rt.WriteP99, ft.WriteP99)
	row("write max", func(p *PhaseResult) string { return humanDuration(time.Duration(p.WriteMaxNs)) }, rt.WriteMax, ft.WriteMax)
	row("mean batch", func(p *PhaseResult) string { return strconv.FormatFloat(p.MeanBatch, 'f', 1, 64) }, nil, nil)
	row("write errors", func(p *PhaseResult) string { return humanCount(int64(p.WriteErrors)) }, nil, nil)
	if slices.ContainsFunc(phases, func(p *PhaseResult) bool { return p.ReadErrors > 0 }) {
		row("read errors", func(p *PhaseResult) string { return humanCount(int64(p.ReadErrors)) }, nil, nil)
	}
	row("WAL max", func(p *PhaseResult) string { return humanBytes(p.WALMaxBytes) }, nil, nil)
	row("WAL final", func(p *PhaseResult) string { return humanBytes(p.WALFinalBytes) }, nil, nil)
	row("peak RSS*", func(p *PhaseResult) string {
		if p.PeakRSSBytes == nil {
			return "n/a"
		}
		return humanBytes(*p.PeakRSSBytes)
	}, nil, nil)
	// The details of a problem or a mismatch are in the error on stderr.
	row("integrity_check", func(p *PhaseResult) string { return truncate(p.IntegrityCheck, 32) }, nil, nil)
	row("rows verified", func(p *PhaseResult) string {
		if p.RowsVerified {
			return humanCount(p.RowsExpected) + " ok"
		}
		return "MISMATCH"
	}, nil, nil)
	writeTable(&b, rows)

	b.WriteString("\n")
	if line := headline(res); line != "" {
		b.WriteString(line + "\n")
	}
	if res.Baseline != nil {
		b.WriteString("ratio: litedir/baseline for rates, baseline/litedir for latencies: above 1 means litedir is better")
		if res.FrontRatios != nil {
			b.WriteString("; front ratio: the same for the front")
		}
		b.WriteString("\n")
	}
	b.WriteString("* peak RSS is the whole process's high-water mark when the phase ended")
	if res.Baseline != nil {
		b.WriteString(", so the baseline's includes the litedir phase")
	}
	b.WriteString("\n")
	if h, r := res.HoldReader, res.HoldReaderRatios; h != nil && r != nil {
		fmt.Fprintf(&b, "beside a reader renewing its read transaction every second: writes/s %s (%s of alone), write p99 %s, write max %s, WAL max %s (alone: %s)\n",
			humanRate(h.WritesPerSec), humanRatio(r.WritesPerSec), humanDuration(time.Duration(h.WriteP99Ns)),
			humanDuration(time.Duration(h.WriteMaxNs)), humanBytes(h.WALMaxBytes), humanBytes(res.Litedir.WALMaxBytes))
	}
	if o := res.Open; o != nil {
		fmt.Fprintf(&b, "open + first query (child processes, %d runs): cold %s (process %s)",
			o.Runs, humanDuration(time.Duration(o.ColdNs)), humanDuration(time.Duration(o.ColdProcessNs)))
		if o.WarmMedianNs != nil {
			fmt.Fprintf(&b, "; warm median %s, min %s, max %s (process median %s)",
				humanDuration(time.Duration(*o.WarmMedianNs)), humanDuration(time.Duration(*o.WarmMinNs)),
				humanDuration(time.Duration(*o.WarmMaxNs)), humanDuration(time.Duration(*o.WarmProcessMedianNs)))
		}
		b.WriteString("\n")
	}
	if res.Interrupted {
		b.WriteString("interrupted: the numbers cover what ran until then\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// headline is the run's result in one sentence: how many times the
// baseline's writes per second litedir, and the front, reached; or, without
// a baseline, how to get one. "" when there is nothing to compare (a phase
// wrote nothing).
func headline(res *Result) string {
	if res.Baseline == nil {
		if res.Litedir == nil || res.Litedir.Writes == 0 {
			return ""
		}
		return "litedir alone (-compare=false): run without it to see the front and the baseline beside it, and the ratios"
	}
	if res.Ratios == nil || res.Ratios.WritesPerSec == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "litedir wrote %s as fast as the baseline", humanRatio(res.Ratios.WritesPerSec))
	if res.FrontRatios != nil && res.FrontRatios.WritesPerSec != nil {
		fmt.Fprintf(&b, ", the front (the same code on Workspace.SQL) %s", humanRatio(res.FrontRatios.WritesPerSec))
	}
	b.WriteString(": the baseline is the one-connection setup programs ship today, so above 1x is what switching gains")
	return b.String()
}

// engineText is the engine line of the header: "wazero, ncruces v0.32.0".
func engineText(c ConfigJSON) string {
	s := orUnknown(c.Engine)
	if c.DriverVersion != "" {
		s += ", ncruces " + c.DriverVersion
	}
	return s
}

// writeTable writes rows as columns separated by three spaces, the first
// left-aligned and the others right-aligned, like numbers in a table.
func writeTable(b *strings.Builder, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, cell := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, cell := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(cell)))
			if i == 0 {
				line.WriteString(cell + pad)
			} else {
				line.WriteString("   " + pad + cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// truncate shortens s to at most n characters, marking the cut with "...".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// humanCount formats n with comma thousands separators: "23,456".
func humanCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// humanRate formats a per-second rate as a rounded count.
func humanRate(perSec float64) string {
	if math.IsNaN(perSec) || math.IsInf(perSec, 0) {
		return "n/a"
	}
	return humanCount(int64(math.Round(perSec)))
}

// humanDuration formats d with three significant digits in the largest unit
// that keeps the number at least 1: "850 ns", "12.3 µs", "1.20 ms", "2.05 s".
func humanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	units := []struct {
		name, next string
		size       time.Duration
	}{{"s", "", time.Second}, {"ms", "s", time.Millisecond}, {"µs", "ms", time.Microsecond}}
	for _, u := range units {
		if d >= u.size {
			return sig3(float64(d)/float64(u.size), 1000, u.name, u.next)
		}
	}
	return strconv.FormatInt(int64(d), 10) + " ns"
}

// humanBytes formats n in IEC units with three significant digits: "812 B",
// "4.13 MiB". A negative n is a size that could not be read.
func humanBytes(n int64) string {
	if n < 0 {
		return "n/a"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return sig3(v, 1024, units[i], units[min(i+1, len(units)-1)])
}

// sig3 formats v (1 ≤ v < limit) with three significant digits and unit. If
// rounding reaches the limit (999.7 ms) and next is not "", it moves to the
// next larger unit instead ("1.00 s"); seconds have no larger unit and keep
// growing ("1234 s").
func sig3(v, limit float64, unit, next string) string {
	var s string
	switch {
	case v < 9.995:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	case v < 99.95:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	}
	if f, _ := strconv.ParseFloat(s, 64); f >= limit && next != "" {
		return sig3(f/limit, limit, next, "")
	}
	return s + " " + unit
}

// humanRatio formats a ratio as "4.32x", or "-" when there is none.
func humanRatio(r *float64) string {
	if r == nil {
		return "-"
	}
	return strconv.FormatFloat(*r, 'f', 2, 64) + "x"
}

// orUnknown returns s, or "unknown" for "".
func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
