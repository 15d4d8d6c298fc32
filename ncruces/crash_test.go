package ncruces_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/litedir/litedir/internal/observe"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// Crash simulation, the way SQLite tests itself (its crash tests and
// test_journal.c): record every change that reaches a workspace's files
// while writers run, cut the recording at random points, rebuild what a
// power loss at that point can leave on the disk, and open each result.
//
// The recording comes from the litedir VFS, which sees SQLite's writes,
// truncations, size hints, syncs (with SQLite's sync flags), deletions and
// its own directory syncs, and from observe.Sync, which the group
// committer's syncer calls around its own fsync of the WAL.
//
// What a power loss leaves, at a cut:
//
//   - The names in the directory: the creations and deletions up to the last
//     directory sync, then any prefix of the later ones (a journaling file
//     system keeps metadata changes in order).
//   - The content of each file: every change covered by a sync that ended
//     before the cut (one reported before that sync started), then a random
//     subset of the later changes, in order, each one whole, dropped, or
//     torn (a random subset of its 512-byte sectors).
//
// Which syncs count is the model:
//
//   - linux: every sync is a barrier for its file (fdatasync writes the
//     file's data and size back and flushes the drive cache).
//   - darwin: a plain fsync only hands the file's data to the drive, whose
//     cache can lose it or write it out of order; a full sync (F_FULLFSYNC:
//     SQLite's SQLITE_SYNC_FULL, litedir's own syncs, directory syncs) makes
//     its file durable and flushes the drive cache, so everything plain
//     syncs of any file handed over before it started is durable too.
//
// Each rebuilt directory is opened with SQLite: integrity_check must say ok,
// each Write's two statements must be there both or neither, and at
// synchronous FULL every Write acknowledged before the cut must be present.
//
// The run on the darwin model uses the pragmas a darwin profile adds
// (checkpoint_fullfsync, fullfsync): on Linux the VFS sees them as
// SQLITE_SYNC_FULL flags. A control run on the darwin model without them
// shows what plain fsync loses; it fails only if it finds nothing, which
// would mean the simulation cannot see the difference.

// recOp is one recorded change, or an acknowledged Write.
type recOp struct {
	kind  opKind
	name  string // base name of the file in the workspace directory
	off   int64  // opWrite: offset; opTruncate, opAllocate: size
	data  []byte // opWrite
	full  bool   // opSyncStart: a full sync
	start int    // opSyncEnd: index of its opSyncStart
	row   int64  // opAck: the row the Write inserted
}

type opKind uint8

const (
	opCreate opKind = iota
	opDelete
	opDirSync
	opWrite
	opTruncate
	opAllocate
	opSyncStart
	opSyncEnd
	opAck
)

// recorder is the observe.Observer of the test: it records the changes
// to the files of one directory, in the order they were made.
type recorder struct {
	dir string

	mu  sync.Mutex
	ops []recOp
}

var _ observe.Observer = (*recorder)(nil)

func (r *recorder) add(path string, o recOp) int {
	if filepath.Dir(path) != r.dir {
		return -1
	}
	o.name = filepath.Base(path)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, o)
	return len(r.ops) - 1
}

func (r *recorder) Opened(path string, _ vfs.OpenFlag, created bool) {
	if created {
		r.add(path, recOp{kind: opCreate})
	}
}

func (r *recorder) Wrote(path string, p []byte, off int64) {
	r.add(path, recOp{kind: opWrite, off: off, data: slices.Clone(p)})
}

func (r *recorder) Truncated(path string, size int64) {
	r.add(path, recOp{kind: opTruncate, off: size})
}

func (r *recorder) Allocated(path string, size int64) {
	r.add(path, recOp{kind: opAllocate, off: size})
}

func (r *recorder) Syncing(path string, flags vfs.SyncFlag) func(error) {
	i := r.add(path, recOp{kind: opSyncStart, full: flags&vfs.SYNC_FULL == vfs.SYNC_FULL})
	return func(err error) {
		if i >= 0 && err == nil {
			r.add(path, recOp{kind: opSyncEnd, start: i})
		}
	}
}

func (r *recorder) Deleted(path string) { r.add(path, recOp{kind: opDelete}) }

func (r *recorder) DirSynced(dir string) {
	if dir == r.dir {
		r.add(filepath.Join(dir, "(directory)"), recOp{kind: opDirSync})
	}
}

// ack records that the Write of row returned nil.
func (r *recorder) ack(row int64) {
	r.add(filepath.Join(r.dir, "ack"), recOp{kind: opAck, row: row})
}

// model says which syncs make a file's earlier changes durable.
type model struct {
	name    string
	barrier func(sync recOp) bool
	// flushAll: a barrier sync also makes durable what earlier non-barrier
	// syncs of any file handed to the drive (F_FULLFSYNC flushes the
	// drive's cache).
	flushAll bool
}

var (
	linuxModel  = model{"linux", func(recOp) bool { return true }, false}
	darwinModel = model{"darwin", func(s recOp) bool { return s.full }, true}
)

// inode is one file's life, from its creation.
type inode struct {
	durable []byte       // the content every later crash keeps
	pending []int        // later changes (op indices) a crash may keep or lose
	cached  []cachedSync // flushAll: plain syncs that handed changes to the drive
}

// cachedSync is a plain sync that ended at op end and handed the changes
// before op bound to the drive.
type cachedSync struct{ end, bound int }

// dirOp is a change to the directory: name now means inode, or (inode -1)
// nothing.
type dirOp struct {
	name  string
	inode int
}

// replay applies a recording op by op and rebuilds crash states.
type replay struct {
	ops   []recOp
	model model

	inodes     []*inode
	live       map[string]int // the names as the process saw them
	dirOps     []dirOp
	dirDurable int         // dirOps[:dirDurable] survive any crash
	syncInode  map[int]int // opSyncStart index -> inode
	acked      []int64
}

func newReplay(ops []recOp, m model) *replay {
	return &replay{ops: ops, model: m, live: map[string]int{}, syncInode: map[int]int{}}
}

// step applies ops[i].
func (r *replay) step(i int) error {
	o := r.ops[i]
	switch o.kind {
	case opCreate:
		if _, ok := r.live[o.name]; ok {
			return nil // two connections opened it with O_CREAT at once
		}
		r.inodes = append(r.inodes, &inode{})
		r.live[o.name] = len(r.inodes) - 1
		r.dirOps = append(r.dirOps, dirOp{o.name, len(r.inodes) - 1})
	case opDelete:
		delete(r.live, o.name)
		r.dirOps = append(r.dirOps, dirOp{o.name, -1})
	case opDirSync:
		r.dirDurable = len(r.dirOps)
		if r.model.flushAll {
			r.flush(i)
		}
	case opWrite, opTruncate, opAllocate:
		id, ok := r.live[o.name]
		if !ok {
			return fmt.Errorf("op %d: change to %s, which the VFS did not report created", i, o.name)
		}
		r.inodes[id].pending = append(r.inodes[id].pending, i)
	case opSyncStart:
		if id, ok := r.live[o.name]; ok {
			r.syncInode[i] = id
		}
	case opSyncEnd:
		id, ok := r.syncInode[o.start]
		switch {
		case !ok:
		case r.model.barrier(r.ops[o.start]):
			r.settle(id, o.start)
			if r.model.flushAll {
				r.flush(o.start)
			}
		case r.model.flushAll:
			r.inodes[id].cached = append(r.inodes[id].cached, cachedSync{end: i, bound: o.start})
		}
	case opAck:
		r.acked = append(r.acked, o.row)
	}
	return nil
}

// settle makes the pending changes of inode id before op bound durable.
func (r *replay) settle(id, bound int) {
	n := r.inodes[id]
	keep := n.pending[:0]
	for _, j := range n.pending {
		if j < bound {
			n.durable = applyOp(n.durable, r.ops[j], nil)
		} else {
			keep = append(keep, j)
		}
	}
	n.pending = keep
}

// flush makes durable what the plain syncs that ended before op start
// handed to the drive.
func (r *replay) flush(start int) {
	for id, n := range r.inodes {
		bound := -1
		keep := n.cached[:0]
		for _, c := range n.cached {
			if c.end < start {
				bound = max(bound, c.bound)
			} else {
				keep = append(keep, c)
			}
		}
		n.cached = keep
		if bound >= 0 {
			r.settle(id, bound)
		}
	}
}

// crash returns the files a power loss after the ops applied so far can
// leave, by name.
func (r *replay) crash(rng *rand.Rand) map[string][]byte {
	names := map[string]int{}
	k := r.dirDurable + rng.IntN(len(r.dirOps)-r.dirDurable+1)
	for _, d := range r.dirOps[:k] {
		if d.inode < 0 {
			delete(names, d.name)
		} else {
			names[d.name] = d.inode
		}
	}
	files := map[string][]byte{}
	for name, id := range names {
		n := r.inodes[id]
		b := slices.Clone(n.durable)
		for _, j := range n.pending {
			b = applyOp(b, r.ops[j], rng)
		}
		files[name] = b
	}
	return files
}

// crashSector is the unit of a torn write.
const crashSector = 512

// applyOp applies o to b. With rng, it applies o whole, not at all, or
// (writes) torn, at random.
func applyOp(b []byte, o recOp, rng *rand.Rand) []byte {
	whole := true
	if rng != nil {
		switch n := rng.IntN(8); {
		case n < 3:
			return b
		case n == 7 && o.kind == opWrite:
			whole = false
		}
	}
	switch o.kind {
	case opTruncate:
		if o.off <= int64(len(b)) {
			return b[:o.off]
		}
		return append(b, make([]byte, o.off-int64(len(b)))...)
	case opAllocate:
		if o.off > int64(len(b)) {
			return append(b, make([]byte, o.off-int64(len(b)))...)
		}
		return b
	}
	for lo := o.off; lo < o.off+int64(len(o.data)); {
		hi := min((lo/crashSector+1)*crashSector, o.off+int64(len(o.data)))
		if whole || rng.IntN(2) == 0 {
			if hi > int64(len(b)) {
				b = append(b, make([]byte, hi-int64(len(b)))...)
			}
			copy(b[lo:hi], o.data[lo-o.off:hi-o.off])
		}
		lo = hi
	}
	return b
}

// crashSchema is the workload's schema: each Write inserts a row into t and
// counts it in counters, in one transaction.
var crashSchema = fstest.MapFS{
	"00001_crash.sql": {Data: []byte(`-- +goose Up
CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER NOT NULL, pad BLOB NOT NULL);
CREATE TABLE counters (g INTEGER PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO counters (g, n) VALUES (0, 0), (1, 0), (2, 0), (3, 0);
-- +goose Down
DROP TABLE t;
DROP TABLE counters;
`)},
}

const (
	crashWriters = 4  // goroutines calling Write, one per counters row
	crashWrites  = 40 // Writes per goroutine and phase
	crashPhases  = 2  // each phase opens and closes the workspace
)

// record runs the workload on a new workspace with pragmas, encrypted with
// key unless it is nil, and returns the recording.
func record(t *testing.T, pragmas []ncruces.Pragma, key []byte) []recOp {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{dir: dir}
	restore := observe.Set(rec)
	defer restore()

	ctx := context.Background()
	for phase := range crashPhases {
		opts := &workspace.Options{Migrations: crashSchema, Pragmas: pragmas}
		if key != nil {
			opts.Key = workspace.KeyBytes(key)
		}
		ws, err := workspace.Open(ctx, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range crashWriters {
			wg.Go(func() {
				for i := range crashWrites {
					row := int64(phase*100_000 + g*1000 + i)
					err := ws.Write(ctx, func(q workspace.Querier) error {
						// Rows of 0.2 to 6 KiB: some spill to overflow pages.
						_, err := q.ExecContext(ctx, `INSERT INTO t (id, g, pad) VALUES (?, ?, randomblob(?))`,
							row, g, 200+(i%13)*450)
						if err != nil {
							return err
						}
						_, err = q.ExecContext(ctx, `UPDATE counters SET n = n + 1 WHERE g = ?`, g)
						return err
					})
					if err != nil {
						t.Errorf("Write %d: %v", row, err)
						return
					}
					rec.ack(row)
				}
			})
		}
		wg.Wait()
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.ops
}

// crashResult counts what the crash points found.
type crashResult struct {
	points, lost, corrupt int // points with lost Writes, or corrupt
	lostWrites            int
	examples              []string
}

// crashEarly is how many of the first operations are each cut at too: the
// creation of the database (a rollback-journal transaction, then the WAL)
// is a few dozen operations out of thousands, which random cuts would
// rarely hit.
const crashEarly = 48

// simulate cuts ops at points random places, and after each of the first
// crashEarly operations, and checks each crash state.
func simulate(t *testing.T, ops []recOp, m model, points int, full bool, key []byte, rng *rand.Rand) crashResult {
	t.Helper()
	cuts := make([]int, points)
	for i := range cuts {
		cuts[i] = rng.IntN(len(ops) + 1)
	}
	for i := range min(crashEarly, len(ops)) {
		cuts = append(cuts, i+1)
	}
	slices.Sort(cuts)

	base := t.TempDir()
	r := newReplay(ops, m)
	var res crashResult
	next := 0
	for k, cut := range cuts {
		for ; next < cut; next++ {
			if err := r.step(next); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(base, strconv.Itoa(k))
		lost, err := checkCrash(t, dir, r.crash(rng), r.acked, key)
		res.points++
		if err != nil {
			res.corrupt++
			res.examples = append(res.examples, fmt.Sprintf("cut %d of %d: %v", cut, len(ops), err))
		}
		if lost > 0 && full {
			res.lost++
			res.lostWrites += lost
			res.examples = append(res.examples, fmt.Sprintf("cut %d of %d: %d of %d acknowledged Writes lost", cut, len(ops), lost, len(r.acked)))
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// checkCrash writes files into dir, opens the database with SQLite (with
// key, unless nil) and returns how many of acked rows it lacks, and an
// error if it is corrupt.
func checkCrash(t *testing.T, dir string, files map[string][]byte, acked []int64, key []byte) (lost int, err error) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := files["litedir.db"]; !ok {
		return len(acked), nil
	}
	ctx := context.Background()
	var k *ncruces.Key
	if key != nil {
		if k, err = ncruces.NewKey(key); err != nil {
			t.Fatal(err)
		}
		defer k.Close()
	}
	db, err := ncruces.Open(ctx, ncruces.Config{Path: filepath.Join(dir, "litedir.db"), Key: k})
	if err != nil {
		return len(acked), fmt.Errorf("open: %w", err)
	}
	defer db.Close()

	var ok string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil {
		return len(acked), fmt.Errorf("integrity_check: %w", err)
	}
	if ok != "ok" {
		return len(acked), fmt.Errorf("integrity_check: %s", ok)
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name IN ('t', 'counters')`).Scan(&tables); err != nil {
		return len(acked), err
	}
	if tables < 2 {
		return len(acked), nil // the migration did not survive; nothing was acknowledged then
	}
	present := map[int64]bool{}
	perGroup := map[int64]int64{}
	rows, err := db.QueryContext(ctx, `SELECT id, g FROM t`)
	if err != nil {
		return len(acked), err
	}
	for rows.Next() {
		var id, g int64
		if err := rows.Scan(&id, &g); err != nil {
			return len(acked), err
		}
		present[id] = true
		perGroup[g]++
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return len(acked), err
	}
	rows, err = db.QueryContext(ctx, `SELECT g, n FROM counters`)
	if err != nil {
		return len(acked), err
	}
	for rows.Next() {
		var g, n int64
		if err := rows.Scan(&g, &n); err != nil {
			return len(acked), err
		}
		if perGroup[g] != n {
			err = errors.Join(err, fmt.Errorf("group %d: %d rows but counted %d: a Write is half there", g, perGroup[g], n))
		}
	}
	err = errors.Join(err, rows.Err(), rows.Close())
	for _, row := range acked {
		if !present[row] {
			lost++
		}
	}
	return lost, err
}

// TestCrashSimulation runs the workload at FULL and NORMAL, plaintext and
// encrypted, records it, and checks its crash points: 0 lost acknowledged
// Writes and 0 corrupt databases at FULL, 0 corrupt at NORMAL. It logs the
// counts; -v shows them.
//
// A plain go test checks a quick 150 points per model at FULL and 50 at
// NORMAL; LITEDIR_CRASH_POINTS=N checks N at FULL and 3N/10 at NORMAL.
// .ci/crash, CI's own step, runs it with 1,000.
func TestCrashSimulation(t *testing.T) {
	if p := ncruces.Platform(); !ncruces.DirSyncs || p.LockingExclusive || p.NoLock {
		t.Skipf("the simulation models a WAL workspace with shared memory and directory syncs (Linux, macOS, the BSDs); %s/%s has %q", p.GOOS, p.GOARCH, p.Notes)
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("wazero interprets SQLite on %s: the simulation's thousands of opens would take too long", runtime.GOARCH)
	}
	fullPoints, normalPoints := 150, 50
	if v := os.Getenv("LITEDIR_CRASH_POINTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			t.Fatalf("LITEDIR_CRASH_POINTS=%q: want a number of crash points, at least 10", v)
		}
		fullPoints, normalPoints = n, n*3/10
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LITEDIR_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LITEDIR_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (LITEDIR_CRASH_SEED replays the cuts, not the workload's timing)", seed)

	base := []ncruces.Pragma{
		{Name: "wal_autocheckpoint", Value: "16"},     // checkpoint often,
		{Name: "journal_size_limit", Value: "131072"}, // and truncate the WAL after
	}
	with := func(sync string, darwin bool) []ncruces.Pragma {
		ps := append(slices.Clone(base), ncruces.Pragma{Name: "synchronous", Value: sync})
		if darwin {
			ps = append(ps, ncruces.FullFsyncPragmas(ps)...)
		}
		return ps
	}
	// The encrypted runs use a fixed key: what matters is that every
	// byte the recording holds is encrypted, and that a power loss at any
	// point leaves a database that opens with it.
	key := bytes.Repeat([]byte{0x5a}, ncruces.KeySize)
	for _, tc := range []struct {
		name    string
		sync    string
		model   model
		darwin  bool // the darwin profile's pragmas
		points  int
		control bool   // log only
		key     []byte // an encrypted workspace
	}{
		{"linux/FULL", "FULL", linuxModel, false, fullPoints, false, nil},
		{"darwin/FULL", "FULL", darwinModel, true, fullPoints, false, nil},
		{"linux/NORMAL", "NORMAL", linuxModel, false, normalPoints, false, nil},
		{"darwin/NORMAL", "NORMAL", darwinModel, true, normalPoints, false, nil},
		{"darwin/FULL/plain-fsync", "FULL", darwinModel, false, fullPoints / 2, true, nil},
		{"linux/FULL/encrypted", "FULL", linuxModel, false, fullPoints, false, key},
		{"darwin/FULL/encrypted", "FULL", darwinModel, true, fullPoints, false, key},
		{"linux/NORMAL/encrypted", "NORMAL", linuxModel, false, normalPoints, false, key},
		{"darwin/NORMAL/encrypted", "NORMAL", darwinModel, true, normalPoints, false, key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.control && testing.Short() {
				t.Skip("the control run is skipped in -short mode")
			}
			ops := record(t, with(tc.sync, tc.darwin), tc.key)
			// The recording is what reached the files: encrypted, it must
			// hold no plaintext, such as the schema's text in page 1 and
			// the WAL; plaintext, it does (or the check has no teeth).
			plain := 0
			for _, o := range ops {
				if o.kind == opWrite && bytes.Contains(o.data, []byte("CREATE TABLE counters")) {
					plain++
				}
			}
			if encrypted := tc.key != nil; encrypted != (plain == 0) {
				t.Errorf("%d writes hold the schema's text in plaintext; want them only unencrypted", plain)
			}
			var acks, syncs, fullSyncs, dbWrites, truncates int
			for _, o := range ops {
				switch {
				case o.kind == opAck:
					acks++
				case o.kind == opSyncEnd:
					syncs++
					if ops[o.start].full {
						fullSyncs++
					}
				case o.kind == opWrite && o.name == "litedir.db":
					dbWrites++
				case o.kind == opTruncate:
					truncates++
				}
			}
			if dbWrites == 0 || truncates == 0 {
				t.Errorf("the workload wrote the database file %d times and truncated a file %d times: it should checkpoint and truncate", dbWrites, truncates)
			}
			rng := rand.New(rand.NewPCG(seed, uint64(len(tc.name))))
			full := tc.sync == "FULL"
			res := simulate(t, ops, tc.model, tc.points, full, tc.key, rng)
			msg := fmt.Sprintf("crash simulation %s: %d points over %d recorded operations (%d syncs, %d of them full; %d checkpoint writes; %d truncations; %d acknowledged Writes): %d points lost acknowledged Writes (%d in all), %d corrupt",
				tc.name, res.points, len(ops), syncs, fullSyncs, dbWrites, truncates, acks, res.lost, res.lostWrites, res.corrupt)
			t.Log(msg)
			for i, e := range res.examples {
				if i == 5 {
					t.Logf("... and %d more", len(res.examples)-i)
					break
				}
				t.Log(e)
			}
			if tc.control {
				// Plain fsync loses Writes at about one point in five with
				// this workload; none found means the model or the
				// recording has lost its teeth.
				if res.points >= 500 && res.lost+res.corrupt == 0 {
					t.Errorf("control: plain fsync on the darwin model lost nothing at %d points: the simulation no longer tells plain fsync from F_FULLFSYNC", res.points)
				}
				return
			}
			if res.corrupt > 0 || (full && res.lost > 0) {
				t.Error(msg)
			}
		})
	}
}
