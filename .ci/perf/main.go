// Command perf formats the results of .ci/perf/run as README's markdown
// tables: one row per command and engine for the phases (litedir, the front,
// the baseline and their ratios), one per run beside a long-lived reader,
// and one per engine for the open time.
//
// Usage: perf MANIFEST
//
// MANIFEST has one line per run of litedir bench -json, three fields
// separated by tabs: the engine's label, the command line as README shows
// it, and the file holding the run's JSON. It reads the keys of bench's
// -json output documented in README and nothing else; a run that failed
// (no file, or a file that is not bench's JSON) is a row saying so, not an
// error, so that one failed run does not hide the others.
//
// It is a tool of .ci/perf/run, not part of litedir.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: perf MANIFEST")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
	defer f.Close()
	runs, err := readManifest(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
	if err := write(os.Stdout, runs); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

// result is what perf reads of bench's -json output.
type result struct {
	Config struct {
		Workload      string `json:"workload"`
		Synchronous   string `json:"synchronous"`
		SQLiteVersion string `json:"sqlite_version"`
		Engine        string `json:"engine"`
		DriverVersion string `json:"driver_version"`
	} `json:"config"`
	Litedir          *phase  `json:"litedir"`
	Front            *phase  `json:"front"`
	Baseline         *phase  `json:"baseline"`
	Ratios           *ratios `json:"ratios"`
	FrontRatios      *ratios `json:"front_ratios"`
	HoldReader       *phase  `json:"hold_reader"`
	HoldReaderRatios *ratios `json:"hold_reader_ratios"`
	Open             *struct {
		Runs         int    `json:"runs"`
		ColdNs       int64  `json:"cold_ns"`
		WarmMedianNs *int64 `json:"warm_median_ns"`
		WarmMinNs    *int64 `json:"warm_min_ns"`
		WarmMaxNs    *int64 `json:"warm_max_ns"`
	} `json:"open"`
}

type phase struct {
	WritesPerSec float64 `json:"writes_per_sec"`
	WriteP99Ns   int64   `json:"write_p99_ns"`
	WriteMaxNs   int64   `json:"write_max_ns"`
	MeanBatch    float64 `json:"mean_batch"`
	WALMaxBytes  int64   `json:"wal_max_bytes"`
	RowsVerified bool    `json:"rows_verified"`
	Integrity    string  `json:"integrity_check"`
}

type ratios struct {
	WritesPerSec *float64 `json:"writes_per_sec"`
}

// run is one line of the manifest and what its file holds.
type run struct {
	engine, command, file string
	res                   *result // nil when the file cannot be read
	err                   error
}

// readManifest reads the manifest and each run's file.
func readManifest(r io.Reader) ([]run, error) {
	var runs []run
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("manifest line %d: got %d tab-separated fields, want engine, command, file", n, len(f))
		}
		ru := run{engine: f[0], command: f[1], file: f[2]}
		ru.res, ru.err = readResult(ru.file)
		runs = append(runs, ru)
	}
	return runs, sc.Err()
}

func readResult(path string) (*result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if res.Litedir == nil {
		return nil, fmt.Errorf("%s: no litedir phase", path)
	}
	return &res, nil
}

// write prints the three tables: the runs with a baseline, the runs beside
// a held reader, and the open times.
func write(w io.Writer, runs []run) error {
	var b strings.Builder
	engines := map[string]string{}
	for _, r := range runs {
		if _, ok := engines[r.engine]; !ok && r.res != nil && r.res.Config.SQLiteVersion != "" {
			c := r.res.Config
			engines[r.engine] = fmt.Sprintf("%s: SQLite %s, ncruces/go-sqlite3 %s", r.engine, c.SQLiteVersion, c.DriverVersion)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(engines)) {
		fmt.Fprintf(&b, "- %s\n", engines[k])
	}

	b.WriteString("\n| command | engine | litedir writes/s | front writes/s | baseline writes/s | litedir ÷ baseline | front ÷ baseline | write p99 litedir / front / baseline | mean batch litedir / front |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	last := ""
	for _, r := range runs {
		if r.res != nil && (r.res.HoldReader != nil || r.res.Baseline == nil) {
			continue // the other tables
		}
		cmd := "`" + r.command + "`"
		if r.command == last {
			cmd = "" // the second engine of the same command
		}
		last = r.command
		if r.res == nil {
			fmt.Fprintf(&b, "| %s | %s | failed: %v |||||||\n", cmd, r.engine, r.err)
			continue
		}
		res := r.res
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | **%s** | **%s** | %s / %s / %s ms | %.1f / %.1f |%s\n",
			cmd, r.engine, rate(res.Litedir), rate(res.Front), rate(res.Baseline),
			ratio(res.Ratios), ratio(res.FrontRatios),
			ms(res.Litedir.WriteP99Ns), msOf(res.Front), msOf(res.Baseline),
			res.Litedir.MeanBatch, batchOf(res.Front), unverified(res.Litedir, res.Front, res.Baseline))
	}

	b.WriteString("\n| beside a reader renewing its transaction every second | engine | alone writes/s | beside the reader | ratio | p99 | worst write | WAL max |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.res == nil || r.res.HoldReader == nil {
			continue
		}
		res := r.res
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | **%s** | %s ms | **%s ms** | %s |%s\n",
			r.command, r.engine, rate(res.Litedir), rate(res.HoldReader), ratio(res.HoldReaderRatios),
			ms(res.HoldReader.WriteP99Ns), ms(res.HoldReader.WriteMaxNs), mib(res.HoldReader.WALMaxBytes),
			unverified(res.Litedir, res.HoldReader))
	}

	b.WriteString("\n| open + first query | engine | runs | cold | warm median (min–max) |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.res == nil || r.res.Open == nil {
			continue
		}
		o := r.res.Open
		warm := "-"
		if o.WarmMedianNs != nil {
			warm = fmt.Sprintf("%s ms (%s–%s)", ms(*o.WarmMedianNs), ms(*o.WarmMinNs), ms(*o.WarmMaxNs))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %d | %s ms | %s |\n", r.command, r.engine, o.Runs, ms(o.ColdNs), warm)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rate formats a phase's writes per second: "18,353", or "-".
func rate(p *phase) string {
	if p == nil {
		return "-"
	}
	return count(int64(math.Round(p.WritesPerSec)))
}

// count formats n with comma thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ratio(r *ratios) string {
	if r == nil || r.WritesPerSec == nil {
		return "-"
	}
	return strconv.FormatFloat(*r.WritesPerSec, 'f', 2, 64) + "×"
}

// ms formats nanoseconds as milliseconds with three significant digits at
// most: "10.6", "106", "0.85".
func ms(ns int64) string {
	v := float64(ns) / 1e6
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func msOf(p *phase) string {
	if p == nil {
		return "-"
	}
	return ms(p.WriteP99Ns)
}

func batchOf(p *phase) float64 {
	if p == nil {
		return 0
	}
	return p.MeanBatch
}

func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 0, 64) + " MiB"
}

// unverified returns a note for a row whose phases did not all verify
// every write and pass integrity_check: such a row's numbers mean nothing.
func unverified(phases ...*phase) string {
	for _, p := range phases {
		if p != nil && (!p.RowsVerified || p.Integrity != "ok") {
			return " NOT VERIFIED"
		}
	}
	return ""
}
