package workspace_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// recoverTables are the builtin schema's tables whose rows the corpus
// checks.
var recoverTables = []string{"sessions", "messages", "files", "token_usage"}

// mustKnownWorkspace makes a workspace with the builtin schema and rows in
// every table: a messages b-tree several levels deep, bodies long enough
// for overflow chains, deleted rows that leave free pages with old copies.
// With wal, the workspace keeps its WAL (ExternalCheckpoints) and the
// last transaction, whose rows are returned, is in it.
func mustKnownWorkspace(t *testing.T, messages int, wal bool) (dir string, last []int64) {
	t.Helper()
	if wal && ncruces.Platform().JournalMode != "wal" {
		t.Skipf("no WAL on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	ctx := testdir.Context(t)
	dir = testdir.New(t)
	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin, ExternalCheckpoints: wal})
	if err != nil {
		t.Fatal(err)
	}
	tx := func(fn func(exec func(q string, args ...any) sql.Result)) {
		t.Helper()
		tx, err := ws.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		fn(func(q string, args ...any) sql.Result {
			t.Helper()
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return res
		})
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	tx(func(exec func(string, ...any) sql.Result) {
		for s := 1; s <= 40; s++ {
			exec(`INSERT INTO sessions(id, title, agent, status, message_count) VALUES (?, ?, 'coder', ?, ?)`,
				s, fmt.Sprintf("session %d: refactor the parser", s), []string{"active", "paused", "completed"}[s%3], s)
			exec(`INSERT INTO files(session_id, path, sha256, size) VALUES (?, ?, ?, ?)`,
				s, fmt.Sprintf("internal/pkg%d/file.go", s), strings.Repeat(fmt.Sprintf("%x", s%16), 64), s*1000)
			exec(`INSERT INTO token_usage(session_id, model, input_tokens, output_tokens) VALUES (?, 'model-large', ?, ?)`, s, s*1234, s*321)
		}
		for m := 1; m <= messages; m++ {
			body := fmt.Sprintf("message %d: ", m) + strings.Repeat("the quick brown fox jumps over the lazy dog ", 1+m%9)
			if m%97 == 0 {
				body += strings.Repeat(fmt.Sprintf("a long tool output line %d\n", m), 300) // overflow pages
			}
			exec(`INSERT INTO messages(session_id, role, body) VALUES (?, ?, ?)`, 1+m%40, []string{"user", "assistant", "tool"}[m%3], body)
		}
		// Old copies: deleted rows, and whole pages freed.
		exec(`DELETE FROM messages WHERE id % 11 = 5 OR id BETWEEN 400 AND 470`)
		exec(`UPDATE sessions SET title = title || ' (renamed)' WHERE id % 5 = 0`)
	})
	if wal {
		tx(func(exec func(string, ...any) sql.Result) {
			for m := range 5 {
				res := exec(`INSERT INTO messages(session_id, role, body) VALUES (1, 'user', ?)`, fmt.Sprintf("last transaction %d", m))
				id, _ := res.LastInsertId()
				last = append(last, id)
			}
		})
		// The files as they are now, with that transaction the WAL's last:
		// Close would add its own (PRAGMA optimize).
		snap := testdir.New(t)
		for _, suffix := range []string{"", "-wal"} {
			b := testdir.ReadFile(t, workspace.DatabasePath(dir, "")+suffix)
			if err := os.WriteFile(workspace.DatabasePath(snap, "")+suffix, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		dir = snap
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, last
}

// readRows returns the rows of the corpus tables in the workspace in dir,
// by table and rowid, each formatted as one line of its values.
func readRows(t *testing.T, dir string) map[string]map[int64]string {
	t.Helper()
	ctx := testdir.Context(t)
	ws, err := workspace.OpenReadOnly(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	out := map[string]map[int64]string{}
	for _, table := range recoverTables {
		out[table] = map[int64]string{}
		rows, err := ws.ReadDB().QueryContext(ctx, fmt.Sprintf(`SELECT * FROM %q`, table))
		if err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue
			}
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var line strings.Builder
			for _, v := range vals {
				fmt.Fprintf(&line, "%T:%v|", v, v)
			}
			out[table][vals[0].(int64)] = line.String()
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// damage is one way a corpus file is damaged. It changes data (the
// database file) in place, or returns a shorter one; wal likewise.
type damage struct {
	name  string
	apply func(c *corpus, db []byte, rng *rand.Rand) []byte
	// exact: the rows recovered are exactly those whose pages survived.
	// Random damage can also hit bytes that do not matter, which leaves
	// more rows than the page-level count expects.
	exact bool
}

// corpus is the known workspace and what the test knows of its layout.
type corpus struct {
	db       []byte
	pageSize int
	places   map[string]map[int64]workspace.RowPlace
	roots    map[string]uint32
	original map[string]map[int64]string
}

// page returns the byte range of page pgno.
func (c *corpus) page(pgno uint32) (int, int) {
	return int(pgno-1) * c.pageSize, int(pgno) * c.pageSize
}

func (c *corpus) zero(db []byte, pgno uint32) {
	from, to := c.page(pgno)
	clear(db[from:to])
}

// pagesOfType returns the pages whose b-tree type byte is typ.
func (c *corpus) pagesOfType(typ byte) []uint32 {
	var out []uint32
	for p := uint32(2); int(p)*c.pageSize <= len(c.db); p++ {
		from, _ := c.page(p)
		if c.db[from] == typ {
			out = append(out, p)
		}
	}
	return out
}

// leafOf returns a leaf page holding rows of table, not its first.
func (c *corpus) leafOf(table string) uint32 {
	var leaves []uint32
	for _, p := range c.places[table] {
		if !slices.Contains(leaves, p.Leaf) {
			leaves = append(leaves, p.Leaf)
		}
	}
	slices.Sort(leaves)
	return leaves[len(leaves)/2]
}

// overflowRow returns the overflow pages of a message with the longest chain.
func (c *corpus) overflowRow() []uint32 {
	var best []uint32
	for _, p := range c.places["messages"] {
		if len(p.Overflow) > len(best) {
			best = p.Overflow
		}
	}
	return best
}

var damages = []damage{
	{name: "truncate/three-quarters", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { return db[:len(db)*3/4/c.pageSize*c.pageSize] }},
	{name: "truncate/half-mid-page", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { return db[:len(db)/2+c.pageSize/3] }},
	{name: "truncate/last-page", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { return db[:len(db)-c.pageSize] }},
	{name: "zero/header", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { clear(db[:100]); return db }},
	{name: "zero/schema-page", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { c.zero(db, 1); return db }},
	{name: "zero/leaf", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { c.zero(db, c.leafOf("messages")); return db }},
	{name: "zero/leaves", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte {
		for _, table := range recoverTables {
			c.zero(db, c.leafOf(table))
		}
		return db
	}},
	{name: "zero/interior", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { c.zero(db, c.roots["messages"]); return db }},
	{name: "zero/interiors", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte {
		for _, p := range c.pagesOfType(5) {
			c.zero(db, p)
		}
		return db
	}},
	{name: "zero/overflow-last", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte {
		chain := c.overflowRow()
		c.zero(db, chain[len(chain)-1])
		return db
	}},
	{name: "zero/overflow-first", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte { c.zero(db, c.overflowRow()[0]); return db }},
	{name: "zero/index", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte {
		for _, p := range c.pagesOfType(10)[:3] {
			c.zero(db, p)
		}
		return db
	}},
	{name: "freelist/bad-pointer", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte {
		binary.BigEndian.PutUint32(db[32:], c.leafOf("messages"))
		return db
	}},
	{name: "pagesize/wrong", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte {
		binary.BigEndian.PutUint16(db[16:], uint16(c.pageSize/4))
		return db
	}},
	{name: "pagesize/invalid", exact: true, apply: func(c *corpus, db []byte, _ *rand.Rand) []byte {
		binary.BigEndian.PutUint16(db[16:], 3000)
		return db
	}},
	{name: "flip/bits-1", apply: flips(16)},
	{name: "flip/bits-2", apply: flips(64)},
	{name: "flip/bits-3", apply: flips(256)},
	{name: "garbage/runs-1", apply: garbage(4, 64)},
	{name: "garbage/runs-2", apply: garbage(8, 512)},
	{name: "garbage/runs-3", apply: garbage(3, 3000)},
}

// flips flips n random bits.
func flips(n int) func(*corpus, []byte, *rand.Rand) []byte {
	return func(_ *corpus, db []byte, rng *rand.Rand) []byte {
		for range n {
			i := rng.IntN(len(db))
			db[i] ^= 1 << rng.IntN(8)
		}
		return db
	}
}

// garbage writes n runs of random bytes, each up to size bytes long.
func garbage(n, size int) func(*corpus, []byte, *rand.Rand) []byte {
	return func(_ *corpus, db []byte, rng *rand.Rand) []byte {
		for range n {
			at := rng.IntN(len(db))
			for i := at; i < min(len(db), at+1+rng.IntN(size)); i++ {
				db[i] = byte(rng.Uint32())
			}
		}
		return db
	}
}

// survived returns the rows of the corpus whose leaf and overflow pages
// are byte for byte those of the original in damaged, and the rows whose
// own bytes were changed: their cell, or their overflow pages.
func (c *corpus) survived(damaged []byte) (survived, hit map[string]map[int64]bool) {
	same := func(pgno uint32, from, to int) bool {
		start, _ := c.page(pgno)
		from, to = start+from, start+to
		return to <= len(damaged) && bytes.Equal(c.db[from:to], damaged[from:to])
	}
	survived, hit = map[string]map[int64]bool{}, map[string]map[int64]bool{}
	for _, table := range recoverTables {
		survived[table], hit[table] = map[int64]bool{}, map[int64]bool{}
		for rowid, p := range c.places[table] {
			page, cell := same(p.Leaf, 0, c.pageSize), same(p.Leaf, p.CellStart, p.CellEnd)
			for _, o := range p.Overflow {
				ok := same(o, 0, c.pageSize)
				page, cell = page && ok, cell && ok
			}
			survived[table][rowid] = page
			hit[table][rowid] = !cell
		}
	}
	return survived, hit
}

// tally is what a recovery got of the rows that survived.
type tally struct {
	survived  int // rows whose pages survived
	recovered int // of which recovered as they were
	correct   int // rows recovered as they were, of all
	sqlite    int // rows sqlite3's .recover got back as they were
}

// TestRecoverCorpus damages copies of a known workspace in every way of
// damages and checks what Recover gets back: each row whose pages survived
// comes back exactly, and no table holds a row that differs from the
// original. Where a sqlite3 3.46 or later is found (see sqlite3Recover),
// litedir must get back at least as many rows as its .recover.
func TestRecoverCorpus(t *testing.T) {
	ctx := testdir.Context(t)
	src, _ := mustKnownWorkspace(t, 3000, false)
	c := &corpus{db: testdir.ReadFile(t, workspace.DatabasePath(src, ""))}
	c.pageSize = int(binary.BigEndian.Uint16(c.db[16:]))
	var err error
	if c.places, c.roots, err = workspace.RowPlaces(ctx, src); err != nil {
		t.Fatal(err)
	}
	c.original = readRows(t, src)
	for _, table := range recoverTables {
		if len(c.places[table]) != len(c.original[table]) {
			t.Fatalf("%s: the layout has %d rows, SQLite %d", table, len(c.places[table]), len(c.original[table]))
		}
	}
	if typ := c.db[(c.roots["messages"]-1)*uint32(c.pageSize)]; typ != 5 {
		t.Fatalf("messages' root is of type %d, want an interior page (5): the corpus needs more messages", typ)
	}
	sqlite3, why := sqlite3Recover(t)
	if sqlite3 == "" {
		t.Logf("no comparison with sqlite3's .recover: %s", why)
	}

	// Under wasip1, SQLite runs in wazero's interpreter (the test binary is
	// itself Wasm) and one damage takes some 20 s: -short checks one damage
	// of each kind there, and the whole corpus runs on the native targets.
	interpreted := testing.Short() && runtime.GOARCH == "wasm"
	kinds := map[string]bool{}
	var total tally
	for i, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			kind, _, _ := strings.Cut(d.name, "/")
			if interpreted && kinds[kind] {
				t.Skipf("-short on %s: one damage of the kind %q is checked here, every one on the native targets", runtime.GOOS, kind)
			}
			kinds[kind] = true
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			damaged := d.apply(c, slices.Clone(c.db), rng)
			dir := testdir.New(t)
			if err := os.WriteFile(workspace.DatabasePath(dir, ""), damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(testdir.New(t), "recovered")
			report, err := workspace.Recover(ctx, dir, dst, &workspace.RecoverOptions{Migrations: migrations.Builtin})
			if err != nil {
				t.Fatal(err)
			}
			got := readRows(t, dst)
			want, hit := c.survived(damaged)
			var tl tally
			undetectable := 0
			for _, table := range recoverTables {
				for rowid, line := range got[table] {
					orig, ok := c.original[table][rowid]
					switch {
					case ok && orig == line:
						tl.correct++
					case ok && hit[table][rowid]:
						// A changed byte inside a value that leaves it a
						// valid value: SQLite's format has no checksum to
						// tell (see the README).
						undetectable++
					default:
						t.Errorf("%s row %d differs from the original:\ngot  %.200s\nwant %.200s", table, rowid, line, orig)
					}
				}
				for rowid, ok := range want[table] {
					if !ok {
						continue
					}
					tl.survived++
					if got[table][rowid] == c.original[table][rowid] {
						tl.recovered++
					} else {
						t.Errorf("%s row %d survived the damage but was not recovered", table, rowid)
					}
				}
				if d.exact {
					for rowid := range got[table] {
						if !want[table][rowid] {
							t.Errorf("%s row %d recovered, but its pages did not survive", table, rowid)
						}
					}
				}
			}
			// Messages whose session was lost are kept, and reported.
			orphans := 0
			for _, line := range got["messages"] {
				session := strings.TrimPrefix(strings.Split(line, "|")[1], "int64:")
				id, _ := strconv.ParseInt(session, 10, 64)
				if _, ok := got["sessions"][id]; !ok {
					orphans++
				}
			}
			reported := 0
			for _, v := range report.ForeignKeys {
				if v.Table == "messages" {
					reported++
				}
			}
			if reported != orphans {
				t.Errorf("%d messages kept without their session, %d reported", orphans, reported)
			}
			if undetectable > 0 {
				t.Logf("%d rows recovered with a changed byte inside a value", undetectable)
			}
			lost := tl.survived < len(c.places["messages"])+len(c.places["sessions"])+len(c.places["files"])+len(c.places["token_usage"])
			if lost && report.Lossless() {
				t.Errorf("rows were lost but the report says nothing was: %+v", report)
			}
			if sqlite3 != "" {
				tl.sqlite = sqlite3Count(t, sqlite3, dir, c)
				if tl.correct < tl.sqlite {
					t.Errorf("litedir recovered %d rows as they were, sqlite3's .recover %d", tl.correct, tl.sqlite)
				}
			}
			t.Logf("%s: %d of %d surviving rows recovered, %d in all (sqlite3 .recover: %d); lost_and_found %d, pages damaged %d, orphaned %d; %s",
				d.name, tl.recovered, tl.survived, tl.correct, tl.sqlite, report.LostAndFound, report.PagesDamaged, report.PagesOrphaned, strings.Join(report.Notes, "; "))
			total.survived += tl.survived
			total.recovered += tl.recovered
			total.sqlite += tl.sqlite
			total.correct += tl.correct
		})
	}
	rate := float64(total.recovered) / float64(total.survived)
	t.Logf("corpus: %d of %d surviving rows recovered (%.2f%%), %d in all; sqlite3 .recover: %d", total.recovered, total.survived, 100*rate, total.correct, total.sqlite)
	if rate < 0.98 {
		t.Errorf("recovered %.2f%% of the rows whose pages survived, want at least 98%%", 100*rate)
	}
}

// TestRecoverTornWAL tears the last frame of a WAL: the transaction it
// ends is dropped, as SQLite drops it, and every row committed before is
// recovered from the WAL.
func TestRecoverTornWAL(t *testing.T) {
	ctx := testdir.Context(t)
	src, last := mustKnownWorkspace(t, 400, true)
	walPath := workspace.WALPath(workspace.DatabasePath(src, ""))
	wal := testdir.ReadFile(t, walPath)
	if len(wal) < 32 {
		t.Fatalf("the WAL holds %d bytes", len(wal))
	}
	pageSize := int(binary.BigEndian.Uint32(wal[8:]))
	want := readRows(t, src)
	for _, id := range last {
		if _, ok := want["messages"][id]; !ok {
			t.Fatalf("message %d of the last transaction is not in the workspace", id)
		}
		delete(want["messages"], id)
	}
	// Tear the last frame: part of it never reached the disk (it holds
	// what was there before, here its bytes inverted).
	frame := 24 + pageSize
	end := 32 + (len(wal)-32)/frame*frame
	for i := end - pageSize/2; i < end-pageSize/2+64; i++ {
		wal[i] ^= 0xff
	}
	dir := testdir.New(t)
	if err := os.WriteFile(workspace.DatabasePath(dir, ""), testdir.ReadFile(t, workspace.DatabasePath(src, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(workspace.WALPath(workspace.DatabasePath(dir, "")), wal, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(testdir.New(t), "recovered")
	report, err := workspace.Recover(ctx, dir, dst, &workspace.RecoverOptions{Migrations: migrations.Builtin})
	if err != nil {
		t.Fatal(err)
	}
	if report.WALFrames == 0 || report.WALIgnored == 0 {
		t.Errorf("WAL frames applied %d, ignored %d: want some of each", report.WALFrames, report.WALIgnored)
	}
	got := readRows(t, dst)
	for _, table := range recoverTables {
		if len(got[table]) != len(want[table]) {
			t.Errorf("%s: got %d rows, want %d", table, len(got[table]), len(want[table]))
		}
		for rowid, line := range want[table] {
			if got[table][rowid] != line {
				t.Errorf("%s row %d: got %.100s, want %.100s", table, rowid, got[table][rowid], line)
				break
			}
		}
	}
	if err := report.Err(); err != nil {
		t.Errorf("report: %v; a torn, uncommitted transaction is no loss", err)
	}
}

// TestRecoverLeavesSourceUntouched: Recover opens the damaged workspace
// read-only and creates nothing beside it; the copy is a healthy workspace
// with the same rows.
func TestRecoverLeavesSourceUntouched(t *testing.T) {
	ctx := testdir.Context(t)
	// With its WAL where the platform has one.
	src, _ := mustKnownWorkspace(t, 300, ncruces.Platform().JournalMode == "wal")
	before := testdir.Snapshot(t, src)
	dst := filepath.Join(testdir.New(t), "copy")
	report, err := workspace.Recover(ctx, src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	testdir.SameFiles(t, before, testdir.Snapshot(t, src))
	if err := report.Err(); err != nil || report.SchemaSource != "file" {
		t.Errorf("report: schema from %q, %v; want from the file, nothing lost", report.SchemaSource, err)
	}
	want, got := readRows(t, src), readRows(t, dst)
	for _, table := range recoverTables {
		if len(got[table]) != len(want[table]) {
			t.Errorf("%s: got %d rows, want %d", table, len(got[table]), len(want[table]))
		}
	}
	ws := mustOpen(t, dst, &workspace.Options{Migrations: migrations.Builtin})
	r, err := ws.Check(ctx, true)
	if err != nil || !r.OK() {
		t.Errorf("check of the recovered workspace: %v %v", r, err)
	}
}

// TestRecoverRefuses: a live owner, an existing destination, a missing
// database, a file that holds no page.
func TestRecoverRefuses(t *testing.T) {
	ctx := testdir.Context(t)
	src := testdir.New(t)
	ws := mustOpen(t, src, &workspace.Options{Migrations: migrations.Builtin})
	mustExec(t, ws, `INSERT INTO sessions(title) VALUES ('x')`)

	_, err := workspace.Recover(ctx, src, filepath.Join(testdir.New(t), "a"), nil)
	if !errors.Is(err, lock.ErrLocked) {
		t.Errorf("live owner: got %v, want lock.ErrLocked", err)
	}
	t.Run("live owner with Force", func(t *testing.T) {
		testdir.NeedRemoveAll(t) // Recover removes its snapshot with it
		report, err := workspace.Recover(ctx, src, filepath.Join(testdir.New(t), "b"), &workspace.RecoverOptions{Force: true})
		if err != nil || !report.Snapshot {
			t.Errorf("live owner with Force: %v, snapshot %v", err, report != nil && report.Snapshot)
		}
	})

	full := testdir.New(t)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	if _, err := workspace.Recover(ctx, src, full, &workspace.RecoverOptions{Force: true}); !errors.Is(err, workspace.ErrExists) {
		t.Errorf("existing destination: got %v, want ErrExists", err)
	}
	if _, err := workspace.Recover(ctx, testdir.New(t), filepath.Join(testdir.New(t), "c"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing database: got %v, want fs.ErrNotExist", err)
	}
	garbage := testdir.New(t)
	os.WriteFile(workspace.DatabasePath(garbage, ""), bytes.Repeat([]byte("not a database "), 1000), 0o600)
	out := filepath.Join(testdir.New(t), "d")
	if _, err := workspace.Recover(ctx, garbage, out, nil); !errors.Is(err, workspace.ErrNotRecoverable) {
		t.Errorf("garbage: got %v, want ErrNotRecoverable", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed recovery left %s: %v", out, err)
	}
}

// sqlite3Recover returns the sqlite3 shell to compare with: $LITEDIR_SQLITE3,
// or sqlite3 on the PATH, if it is 3.46 or later; or "" and why not. A
// $LITEDIR_SQLITE3 (set by .ci/run) that is not such a shell fails t,
// except where no process can be started (wasip1, js).
func sqlite3Recover(t *testing.T) (string, string) {
	if runtime.GOOS == "wasip1" || runtime.GOOS == "js" {
		return "", "no processes on " + runtime.GOOS + ": the comparison with sqlite3 runs on the host"
	}
	path := os.Getenv("LITEDIR_SQLITE3")
	if path != "" {
		if _, why := sqlite3Version(path); why != "" {
			t.Fatalf("LITEDIR_SQLITE3: %s", why)
		}
		return path, ""
	}
	if path == "" {
		var err error
		if path, err = exec.LookPath("sqlite3"); err != nil {
			return "", "no sqlite3 on the PATH and LITEDIR_SQLITE3 is not set (.ci/sqlite3 builds one)"
		}
	}
	return sqlite3Version(path)
}

// sqlite3Version returns path if it is a sqlite3 shell 3.46 or later, and
// else "" and why not.
func sqlite3Version(path string) (string, string) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", fmt.Sprintf("%s --version: %v", path, err)
	}
	m := regexp.MustCompile(`^3\.(\d+)\.`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Sprintf("%s: unknown version %q", path, out)
	}
	if minor, _ := strconv.Atoi(string(m[1])); minor < 46 {
		return "", fmt.Sprintf("%s is %s: .recover needs 3.46 or later", path, strings.Fields(string(out))[0])
	}
	return path, ""
}

// sqlite3Count runs sqlite3's .recover on the damaged workspace in dir and
// counts the rows it put in their tables that are the original's.
func sqlite3Count(t *testing.T, sqlite3, dir string, c *corpus) int {
	t.Helper()
	work := testdir.New(t)
	for _, suffix := range []string{"", "-wal"} {
		if b, err := os.ReadFile(workspace.DatabasePath(dir, "") + suffix); err == nil {
			os.WriteFile(filepath.Join(work, "damaged.db"+suffix), b, 0o600)
		}
	}
	script, err := exec.Command(sqlite3, filepath.Join(work, "damaged.db"), ".recover").Output()
	if err != nil && len(script) == 0 {
		t.Logf("sqlite3 .recover: %v", err)
		return 0
	}
	out := testdir.New(t)
	cmd := exec.Command(sqlite3, workspace.DatabasePath(out, ""))
	cmd.Stdin = bytes.NewReader(script)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Logf("sqlite3 running the .recover script: %v: %.300s", err, b)
	}
	got := readRows(t, out)
	n := 0
	for _, table := range recoverTables {
		for rowid, line := range got[table] {
			if c.original[table][rowid] == line {
				n++
			}
		}
	}
	return n
}

var _ = context.Background
