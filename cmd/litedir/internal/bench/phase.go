package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

const (
	// countRows reads both totals in one statement, so from one snapshot;
	// every workload's schema has these columns.
	countRows = `SELECT (SELECT count(*) FROM messages), (SELECT coalesce(sum(message_count), 0) FROM sessions)`

	// lastRowID is the largest rowid of messages: the messages a phase
	// adds are those above it.
	lastRowID = `SELECT coalesce(max(rowid), 0) FROM messages`
)

// Seeds of the workers' random streams. Worker i of either phase draws the
// same sessions and bodies, so both phases run the same workload.
const (
	writerSeed = 0x6c697465646972 // "litedir"
	readerSeed = writerSeed + 1
)

const (
	// walSampleInterval is how often a phase samples the WAL size. A sample
	// is one stat call; sampling more often than the progress line is
	// redrawn makes the maximum honest on short runs.
	walSampleInterval = 100 * time.Millisecond

	// progressEvery is how many WAL samples pass between two redraws of the
	// progress line (500 ms).
	progressEvery = 5
)

// testHookPhaseRunning, when set by a test, is called with the phase's name
// once its goroutines have started.
var testHookPhaseRunning func(phase string)

// target is what a phase measures: litedir's Workspace, or the baseline's
// pool of one connection. Its methods are safe for concurrent use.
type target interface {
	// addSessions inserts n sessions with the workload's statements and
	// returns their ids.
	addSessions(ctx context.Context, n int) ([]any, error)
	// write runs the workload's statements for m: in one transaction, or
	// (the front, and the baseline of an autocommit workload) each in its
	// own; nil means they committed.
	write(ctx context.Context, m *message) error
	// readDB is the pool the readers query.
	readDB() *sql.DB
	// countDB is the pool the verification counts rows on.
	countDB() *sql.DB
	// dbPath is the path of the database file.
	dbPath() string
	// writeStats returns the committed writes, transactions and WAL
	// restarts so far, or ok false when the target does not batch.
	writeStats() (writes, txs, walRestarts uint64, ok bool)
	// check runs PRAGMA integrity_check and foreign_key_check.
	check(ctx context.Context) (*workspace.CheckReport, error)
}

// worker is one writer or reader goroutine's record. Only the goroutine
// touches it until the phase has waited for it, except ops, which the
// progress line reads; so the hot path shares nothing.
type worker struct {
	ops atomic.Uint64   // operations completed
	lat []time.Duration // writers: the latency of every acknowledged Write
	err error           // the error that stopped the goroutine
}

// phase is one run of the workload on a target.
type phase struct {
	name    string
	cfg     *Config
	t       target
	wl      workload
	ids     []any       // the sessions
	stop    atomic.Bool // set at the deadline or on interruption
	start   time.Time
	wal     int64  // largest WAL size sampled, owned by the monitor
	writes0 uint64 // writeStats before the workload, for the progress line
	txs0    uint64
	maxID   atomic.Int64 // the largest message rowid when the phase began, for reads by id

	writers, readers []*worker
}

// runPhase adds the sessions, runs the writers and readers on t for
// c.duration (or until ctx is done), then measures, checks and verifies.
// The error is for a phase that could not run or be measured; what the
// phase found wrong (failed writes, lost rows, integrity problems) is in the
// result, see [PhaseResult.failures].
func runPhase(ctx context.Context, c *Config, name string, t target, stderr io.Writer) (*PhaseResult, error) {
	// The workload's statements run to completion even when ctx is
	// cancelled: an interrupted statement or COMMIT would blur "returned
	// nil" and "committed", which the verification relies on. Goroutines
	// stop between operations instead, within milliseconds.
	opCtx := context.WithoutCancel(ctx)

	p := &phase{name: name, cfg: c, t: t, wl: c.wl}
	var err error
	if p.ids, err = t.addSessions(opCtx, c.sessions); err != nil {
		return nil, fmt.Errorf("%s phase: add sessions: %w", name, err)
	}
	before, err := counts(opCtx, t.countDB())
	if err != nil {
		return nil, fmt.Errorf("%s phase: %w", name, err)
	}
	var firstID int64 // the largest message rowid before the phase
	if err := t.countDB().QueryRowContext(opCtx, lastRowID).Scan(&firstID); err != nil {
		return nil, fmt.Errorf("%s phase: %w", name, err)
	}
	p.maxID.Store(max(firstID, 1))
	w0, txs0, restarts0, _ := t.writeStats()
	p.writes0, p.txs0 = w0, txs0

	if p.logsAcks() {
		if _, err := fmt.Fprintf(c.acks, "phase %s\n", name); err != nil {
			return nil, fmt.Errorf("%s phase: acknowledgement log: %w", name, err)
		}
	}
	progress := c.progress
	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	stopWatch := context.AfterFunc(runCtx, func() { p.stop.Store(true) })
	defer stopWatch()

	stopProfile, err := startProfile(c.cpuProfile, name)
	if err != nil {
		return nil, fmt.Errorf("%s phase: %w", name, err)
	}
	var wg, mon sync.WaitGroup
	done := make(chan struct{})
	p.start = time.Now()
	for i := range c.writers {
		w := &worker{lat: make([]time.Duration, 0, 1024)}
		p.writers = append(p.writers, w)
		wg.Go(func() { p.writeLoop(opCtx, w, i) })
	}
	for i := range c.readers {
		w := &worker{}
		p.readers = append(p.readers, w)
		wg.Go(func() { p.readLoop(opCtx, w, i) })
	}
	mon.Go(func() { p.monitor(done, progress) })
	if testHookPhaseRunning != nil {
		testHookPhaseRunning(name)
	}
	wg.Wait()
	elapsed := time.Since(p.start)
	profileErr := stopProfile()
	close(done)
	mon.Wait()

	r := &PhaseResult{
		Name:        name,
		ElapsedNs:   elapsed.Nanoseconds(),
		Interrupted: ctx.Err() != nil,
		writers:     c.writers,
		readers:     c.readers,
	}
	r.WALFinalBytes = walFileSize(workspace.WALPath(t.dbPath()))
	r.WALMaxBytes = max(p.wal, r.WALFinalBytes)
	if rss, ok := peakRSS(); ok {
		r.PeakRSSBytes = &rss
	}
	p.summarize(r, elapsed)
	if w1, txs1, restarts1, ok := t.writeStats(); ok {
		r.Batches = txs1 - txs0
		r.WALRestarts = restarts1 - restarts0
		if r.Batches > 0 {
			r.MeanBatch = float64(w1-w0) / float64(r.Batches)
		}
	} else {
		// One transaction per write.
		r.Batches = r.Writes
		if r.Writes > 0 {
			r.MeanBatch = 1
		}
	}

	// Verify that every acknowledged write is there, and nothing else.
	after, err := counts(opCtx, t.countDB())
	if err != nil {
		return r, fmt.Errorf("%s phase: %w", name, err)
	}
	r.RowsExpected = int64(r.Writes)
	r.RowsFound = after.messages - before.messages
	r.MessageCountSum = after.messageCount - before.messageCount
	if err := p.verifyKeys(opCtx, r, firstID); err != nil {
		return r, fmt.Errorf("%s phase: %w", name, err)
	}
	r.RowsVerified = r.RowsFound == r.RowsExpected && r.MessageCountSum == r.RowsExpected &&
		r.KeysMissing == 0 && r.KeysDuplicated == 0 && r.KeysChecked == r.RowsExpected

	rep, err := t.check(opCtx)
	if err != nil {
		return r, fmt.Errorf("%s phase: %w", name, err)
	}
	r.IntegrityCheck = "ok"
	if !rep.OK() {
		r.IntegrityCheck = firstProblem(rep)
		r.checkErr = rep.Err()
	}
	if profileErr != nil {
		return r, fmt.Errorf("%s phase: %w", name, profileErr)
	}
	return r, nil
}

// verifyKeys checks, on a connection of its own (not the writer's, which
// would also see a transaction still open), that the key of every
// acknowledged write is in the messages the phase added exactly once. Each
// writer's acknowledged writes are its first ops ones: a writer stops at its
// first error.
func (p *phase) verifyKeys(ctx context.Context, r *PhaseResult, firstID int64) error {
	db, err := ncruces.Open(ctx, ncruces.Config{Path: p.t.dbPath(), ReadOnly: true, NoCreate: true, Key: p.cfg.key})
	if errors.Is(err, ncruces.ErrBusy) {
		// Where the owner holds the file exclusively (locking_mode=
		// EXCLUSIVE), no other connection can read it: check on the
		// target's own.
		db, err = p.t.countDB(), nil
	} else if err == nil {
		defer db.Close()
	}
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	rows, err := db.QueryContext(ctx, p.wl.keys(), firstID)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer rows.Close()
	seen := make(map[string]int, r.Writes)
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		seen[k]++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for i, w := range p.writers {
		for n := range int(w.ops.Load()) {
			r.KeysChecked++
			switch seen[writeKey(i, n)] {
			case 1:
			case 0:
				r.KeysMissing++
			default:
				r.KeysDuplicated++
			}
		}
	}
	return nil
}

// writeLoop is writer i: it writes messages until the phase stops, or
// until a write fails.
func (p *phase) writeLoop(ctx context.Context, w *worker, i int) {
	rng := rand.New(rand.NewPCG(writerSeed, uint64(i)))
	acks := p.logsAcks()
	for n := 0; !p.stop.Load(); n++ {
		// The write's key leads its text, so that the verification can find
		// each acknowledged write by identity.
		key := writeKey(i, n)
		m := p.wl.message(rng, key, n, p.ids)
		start := time.Now()
		m.at = start.UnixMilli()
		err := p.t.write(ctx, m)
		d := time.Since(start)
		if err != nil {
			w.err = err
			return
		}
		w.lat = append(w.lat, d)
		w.ops.Add(1)
		if acks {
			if _, err := io.WriteString(p.cfg.acks, "ack "+key+"\n"); err != nil {
				w.err = fmt.Errorf("acknowledgement log: %w", err)
				return
			}
		}
	}
}

// logsAcks reports whether the phase writes the markers of Config.LogAcks:
// the baseline writes through no workspace.
func (p *phase) logsAcks() bool { return p.cfg.acks != nil && p.name != "baseline" }

// writeKey is the key of writer i's write n: the prefix of its body up to
// and including the first ':', a character bodies have nowhere else.
func writeKey(i, n int) string { return fmt.Sprintf("w%d.%d:", i, n) }

// readLoop is reader i: it runs the workload's reads until the phase
// stops, or until a read fails.
func (p *phase) readLoop(ctx context.Context, w *worker, i int) {
	rng := rand.New(rand.NewPCG(readerSeed, uint64(i)))
	db := p.t.readDB()
	for n := 0; !p.stop.Load(); n++ {
		if err := p.wl.read(ctx, db, rng, n, p.ids, p.maxID.Load()); err != nil {
			w.err = err
			return
		}
		w.ops.Add(1)
	}
}

// monitor samples the WAL size every walSampleInterval and, when progress
// is not nil, redraws a one-line progress report on it every
// progressEvery samples, until done is closed; it then clears the line.
func (p *phase) monitor(done <-chan struct{}, progress io.Writer) {
	tick := time.NewTicker(walSampleInterval)
	defer tick.Stop()
	width := 0
	for n := 1; ; n++ {
		select {
		case <-done:
			if width > 0 {
				fmt.Fprintf(progress, "\r%s\r", strings.Repeat(" ", width))
			}
			return
		case <-tick.C:
		}
		p.wal = max(p.wal, walFileSize(workspace.WALPath(p.t.dbPath())))
		if progress != nil && n%progressEvery == 0 {
			line := p.progressLine()
			// Pad to the longest line so far: "\r" does not erase.
			fmt.Fprintf(progress, "\r%-*s", width, line)
			width = max(width, len(line))
		}
	}
}

// progressLine is the live report: elapsed time, rates since the start,
// mean batch and WAL size.
func (p *phase) progressLine() string {
	elapsed := time.Since(p.start)
	var writes, reads uint64
	for _, w := range p.writers {
		writes += w.ops.Load()
	}
	for _, w := range p.readers {
		reads += w.ops.Load()
	}
	batch := "1"
	if w1, txs1, _, ok := p.t.writeStats(); ok {
		batch = "-"
		if txs1 > p.txs0 {
			batch = fmt.Sprintf("%.1f", float64(w1-p.writes0)/float64(txs1-p.txs0))
		}
	}
	sec := elapsed.Seconds()
	return fmt.Sprintf("%s %5.1fs  %s writes/s  %s reads/s  batch %s  WAL %s",
		p.name, sec, humanRate(float64(writes)/sec), humanRate(float64(reads)/sec),
		batch, humanBytes(p.wal))
}

// summarize fills r's counts, rates and latency percentiles from the
// workers, which have all returned.
func (p *phase) summarize(r *PhaseResult, elapsed time.Duration) {
	var lat []time.Duration
	for _, w := range p.writers {
		lat = append(lat, w.lat...)
		if w.err != nil {
			r.WriteErrors++
			if r.FirstWriteError == "" {
				r.FirstWriteError = w.err.Error()
			}
		}
	}
	for _, w := range p.readers {
		r.Reads += w.ops.Load()
		if w.err != nil {
			r.ReadErrors++
			if r.FirstReadError == "" {
				r.FirstReadError = w.err.Error()
			}
		}
	}
	slices.Sort(lat)
	r.Writes = uint64(len(lat))
	r.WriteP50Ns = percentile(lat, 50).Nanoseconds()
	r.WriteP99Ns = percentile(lat, 99).Nanoseconds()
	r.WriteMaxNs = percentile(lat, 100).Nanoseconds()
	if sec := elapsed.Seconds(); sec > 0 {
		r.WritesPerSec = float64(r.Writes) / sec
		r.ReadsPerSec = float64(r.Reads) / sec
	}
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value that at least p% of the values
// are less than or equal to. It is always one of the measured values, and
// 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p*n/100 rather than p/100*n: 99*100/100 is exactly 99.
	rank := int(math.Ceil(p * float64(n) / 100))
	return sorted[min(max(rank, 1), n)-1]
}

// rowCounts are the totals the verification compares.
type rowCounts struct {
	messages     int64 // count(messages)
	messageCount int64 // sum(sessions.message_count)
}

func counts(ctx context.Context, db *sql.DB) (rowCounts, error) {
	var c rowCounts
	if err := db.QueryRowContext(ctx, countRows).Scan(&c.messages, &c.messageCount); err != nil {
		return c, fmt.Errorf("count rows: %w", err)
	}
	return c, nil
}

// firstProblem is the first line of what a check found.
func firstProblem(r *workspace.CheckReport) string {
	if len(r.Problems) > 0 {
		return r.Problems[0]
	}
	if len(r.ForeignKeys) > 0 {
		return r.ForeignKeys[0].String()
	}
	return "ok"
}

// walFileSize returns the size of the file at path, 0 when it does not exist
// (no WAL yet, or truncated away), and -1 when it cannot be read.
func walFileSize(path string) int64 {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0
	case err != nil:
		return -1
	}
	return info.Size()
}

// ErrVerify matches the error of a phase whose database does not hold
// exactly the acknowledged writes.
var ErrVerify = errors.New("bench: acknowledged writes do not match the database")

// verifyError reports a phase whose acknowledged writes do not match what
// the database holds. It matches ErrVerify.
type verifyError struct {
	Phase        string
	Acknowledged int64 // Write calls that returned nil
	Messages     int64 // rows the messages table gained
	MessageCount int64 // what sum(sessions.message_count) gained
	Missing      int64 // acknowledged writes whose key is not in messages
	Duplicated   int64 // acknowledged writes whose key is there more than once
}

func (e *verifyError) Error() string {
	return fmt.Sprintf("VERIFICATION FAILED in the %s phase: %d writes acknowledged, but messages gained %d rows and sum(message_count) gained %d; %d acknowledged keys missing, %d duplicated",
		e.Phase, e.Acknowledged, e.Messages, e.MessageCount, e.Missing, e.Duplicated)
}

func (e *verifyError) Is(target error) bool { return target == ErrVerify }

// failures returns what the phase found wrong, as errors: a lost or extra
// row (exit status 1), failed operations (1), integrity problems (4).
func (r *PhaseResult) failures() []error {
	var errs []error
	if !r.RowsVerified {
		errs = append(errs, &verifyError{
			Phase:        r.Name,
			Acknowledged: r.RowsExpected,
			Messages:     r.RowsFound,
			MessageCount: r.MessageCountSum,
			Missing:      r.KeysMissing,
			Duplicated:   r.KeysDuplicated,
		})
	}
	if r.WriteErrors > 0 {
		errs = append(errs, fmt.Errorf("%s phase: %d of %d writers stopped by an error, the first: %s",
			r.Name, r.WriteErrors, r.writers, r.FirstWriteError))
	}
	if r.ReadErrors > 0 {
		errs = append(errs, fmt.Errorf("%s phase: %d of %d readers stopped by an error, the first: %s",
			r.Name, r.ReadErrors, r.readers, r.FirstReadError))
	}
	if r.checkErr != nil {
		errs = append(errs, fmt.Errorf("%s phase: %w", r.Name, r.checkErr))
	}
	return errs
}
