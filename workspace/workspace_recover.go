package workspace

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/salvage"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
)

// RecoverOptions configures [Recover]. The zero value (or a nil
// *RecoverOptions) recovers the workspace "litedir" with the damaged file's
// own schema.
type RecoverOptions struct {
	// Name is the workspace's name, in the damaged directory and in the new
	// one (see Options.Name). Zero means "litedir".
	Name string

	// Migrations are the workspace's migrations. With them the recovery is
	// schema-aware: the new workspace gets the migrations' schema, and rows
	// on pages that the damaged file's schema no longer leads to are
	// attributed to their tables by the shape of their records. Tables the
	// damaged file has beyond the migrations' are created from its schema.
	// Zero means the damaged file's own schema, as far as it can be read.
	Migrations fs.FS

	// Force reads the damaged workspace even while its owner runs, from a
	// snapshot: its database and WAL are copied first (into the new
	// workspace's temporary directory), and the copy is read. The owner
	// may be writing meanwhile, so the snapshot may be torn. Zero means
	// Recover refuses a workspace whose owner record names a running
	// process, with a *lock.LockedError.
	Force bool

	// Program names the program in the owner record of the new workspace
	// while it is built. Zero means the base name of os.Args[0].
	Program string

	// Key is the key of an encrypted workspace (see Options.Key): the
	// damaged files are read through it, block by block (a damaged block
	// stays one block of damage), and the new workspace is encrypted with
	// it. Zero means a plaintext workspace.
	Key KeySource

	// Logger receives what the recovery notices and what it could not
	// recover. Zero means it is discarded.
	Logger *slog.Logger
}

// RecoverReport says what [Recover] found and did.
type RecoverReport struct {
	Source      string // the damaged database file
	Destination string // the new database file

	// SchemaSource is where the new workspace's schema came from:
	// "migrations", "file" (the damaged file's sqlite_schema),
	// "migrations+file" (tables beyond the migrations' from the file), or
	// "none" (neither: every row is in lost_and_found).
	SchemaSource string
	// SchemaComplete reports that the damaged file's schema was read whole.
	SchemaComplete bool
	// Snapshot reports that a copy of the files was read (Force).
	Snapshot bool

	// Tables lists every table of the new workspace that rows were
	// recovered into, or that the damaged file had.
	Tables []TableRecovery

	// LostAndFound counts the rows that could not be verified whole and
	// were kept in the table LostAndFoundTable (see Recover); 0 and "" when
	// there were none.
	LostAndFound      int
	LostAndFoundTable string

	// Skipped counts rows deliberately not copied: the damaged file's
	// goose version rows when Migrations are given (the migrations record
	// the version), and SQLite's statistics tables.
	Skipped int

	PageSize      int    // the page size read (from the header, or guessed)
	Pages         uint32 // pages in the damaged database image
	PagesRead     int    // pages read whole
	PagesDamaged  int    // pages a b-tree pointed to that were missing, of the wrong kind or malformed
	PagesOrphaned int    // table pages no b-tree reached
	PagesFree     int    // pages on the freelist (deleted rows)
	CellsDamaged  int    // cells of table pages that could not be read at all
	RowsStale     int    // older copies of rows, on orphaned or free-looking pages, not copied
	WALFrames     int    // WAL frames applied, up to the last valid commit
	WALIgnored    int    // WAL frames after it (an uncommitted or torn transaction)

	// ForeignKeys lists the recovered rows whose parent row was not
	// recovered. They are kept.
	ForeignKeys []ForeignKeyViolation

	// Notes says what the recovery noticed about the file as a whole: a
	// damaged header, a guessed page size, a freelist it could not follow,
	// tables it could not create.
	Notes []string

	Duration time.Duration // how long the recovery took
}

// TableRecovery is one table's part of a [RecoverReport].
type TableRecovery struct {
	Name        string
	Rows        int  // rows recovered into the table
	FromOrphans int  // of which from pages its b-tree no longer reached
	Lost        int  // rows found for it that went to lost_and_found
	Intact      bool // its b-tree was read whole from the root the schema names
}

// Lossless reports whether nothing was lost: no damaged page in a table's
// b-tree, no unreadable cell, nothing in lost_and_found, and the whole
// schema read. Rows of an uncommitted WAL transaction do not count: SQLite
// would drop them too.
func (r *RecoverReport) Lossless() bool {
	return r.LostAndFound == 0 && r.CellsDamaged == 0 && r.SchemaComplete && r.tablesIntact()
}

func (r *RecoverReport) tablesIntact() bool {
	for _, t := range r.Tables {
		if !t.Intact {
			return false
		}
	}
	return true
}

// Err returns nil when the recovery lost nothing, or an error matching
// ErrDataLost that summarizes what is missing.
func (r *RecoverReport) Err() error {
	if r.Lossless() {
		return nil
	}
	var parts []string
	if r.LostAndFound > 0 {
		parts = append(parts, fmt.Sprintf("%d row(s) in %s", r.LostAndFound, r.LostAndFoundTable))
	}
	if r.PagesDamaged > 0 {
		parts = append(parts, fmt.Sprintf("%d damaged page(s)", r.PagesDamaged))
	}
	if r.CellsDamaged > 0 {
		parts = append(parts, fmt.Sprintf("%d unreadable cell(s)", r.CellsDamaged))
	}
	if !r.SchemaComplete {
		parts = append(parts, "the schema was damaged")
	}
	if len(parts) == 0 {
		parts = append(parts, "a table's b-tree was damaged")
	}
	return fmt.Errorf("%w: %s", ErrDataLost, strings.Join(parts, ", "))
}

// Recover salvages the damaged workspace in src into a new workspace in dst,
// and reports what it recovered.
//
// It never writes to src: every file there is opened read-only, and no lock
// is taken on it. A src whose owner record names a running process, or
// that a Workspace of this process has open, is refused with a
// *lock.LockedError, unless opts.Force, which reads a snapshot.
//
// dst must not exist (or be an empty directory): Recover never replaces a
// workspace, and fails with an error matching ErrExists otherwise. The new
// workspace is built in a temporary directory beside dst,
// ".<base>.recover-<16 hex digits>", through Open like any workspace, and
// renamed to dst once it is complete and synced; on failure the temporary
// directory is removed.
//
// The damaged database is read page by page, in Go (see the README's "When
// a database is damaged"): the WAL's frames up to its last valid commit are
// applied; every table's b-tree is followed from the root its schema names;
// table pages no b-tree reaches are attributed to the one table whose
// records they fit. A row that cannot be verified whole — its overflow
// chain is broken, its record is malformed, it breaks its table's
// constraints, or its page fits no table or several — is kept in the table
// lost_and_found (lost_and_found_1, ... if that name is taken) with where
// it was found, why, and the values that could be read. Foreign keys are
// checked after: rows whose parent was lost are kept, and listed in the
// report.
//
// The error is about Recover itself; whether rows were lost is in the
// report (see RecoverReport.Err).
func Recover(ctx context.Context, src, dst string, opts *RecoverOptions) (*RecoverReport, error) {
	if opts == nil {
		opts = &RecoverOptions{}
	}
	fail := func(err error) (*RecoverReport, error) {
		return nil, fmt.Errorf("workspace: recover %s into %s: %w", src, dst, err)
	}
	if err := CheckName(opts.Name); err != nil {
		return fail(err)
	}
	if src == "" || dst == "" {
		return fail(fmt.Errorf("%w: empty directory", ErrInvalidOptions))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	srcDir, err := statDir(src)
	if err != nil {
		return fail(err)
	}
	dbPath := DatabasePath(srcDir.dir, opts.Name)
	if info, err := os.Lstat(dbPath); err != nil {
		return fail(err)
	} else if !info.Mode().IsRegular() {
		return fail(&fs.PathError{Op: "recover", Path: dbPath, Err: ErrNotRegular})
	}
	if dst, err = filepath.Abs(dst); err != nil {
		return fail(err)
	}
	if err := emptyOrNone(dst); err != nil {
		return fail(err)
	}
	if !opts.Force {
		owner, err := lock.ReadOwner(srcDir.dir, opts.Name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
		// A handle of this process counts as a running owner whatever the
		// record says: where processes cannot be looked up (wasip1) the
		// record's cannot tell.
		if owner.State() == lock.StateHeld || registry.holds(dirID{dir: srcDir.dir, info: srcDir.info, name: cmp.Or(opts.Name, DefaultName)}) {
			locked := &lock.LockedError{Dir: srcDir.dir, Path: lock.Path(srcDir.dir, opts.Name), Owner: owner}
			return fail(fmt.Errorf("%w (RecoverOptions.Force reads a snapshot)", locked))
		}
	}

	tmp, err := recoverTemp(dst)
	if err != nil {
		return fail(err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	key, err := openKey(ctx, opts.Key)
	if err != nil {
		return fail(err)
	}
	defer key.Close()
	in, closeIn, snapshot, err := openDamaged(dbPath, tmp, opts.Force, key)
	if err != nil {
		return fail(err)
	}
	report, err := recoverInto(ctx, in, tmp, recoverConfig{
		name:       opts.Name,
		migrations: opts.Migrations,
		program:    opts.Program,
		logger:     opts.Logger,
		key:        opts.Key,
	})
	err = errors.Join(err, closeIn())
	if snapshot {
		err = errors.Join(err, os.RemoveAll(filepath.Join(tmp, snapshotDir)))
	}
	if err != nil {
		return fail(err)
	}
	report.Source = dbPath
	report.Snapshot = snapshot
	if err := emptyOrNone(dst); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fail(err)
	}
	done = true
	if err := fsync.Dir(filepath.Dir(dst)); err != nil {
		return fail(err)
	}
	report.Destination = DatabasePath(dst, opts.Name)
	return report, nil
}

// snapshotDir holds the copies of a snapshot (RecoverOptions.Force) inside
// the temporary directory of the new workspace.
const snapshotDir = ".snapshot"

// emptyOrNone returns nil when nothing is at path or an empty directory is,
// and else a *fs.PathError matching ErrExists.
func emptyOrNone(path string) error {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case info.IsDir():
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
	}
	return &fs.PathError{Op: "recover", Path: path, Err: recoverExistsError{}}
}

// recoverExistsError matches both ErrExists and fs.ErrExist.
type recoverExistsError struct{}

func (recoverExistsError) Error() string { return "workspace: recovery destination exists" }

func (recoverExistsError) Is(target error) bool { return target == ErrExists || target == fs.ErrExist }

// recoverTemp creates the temporary directory of a recovery into dst.
func recoverTemp(dst string) (string, error) {
	dir, base := filepath.Split(dst)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	b := make([]byte, 8)
	rand.Read(b)
	tmp := filepath.Join(dir, "."+base+".recover-"+hex.EncodeToString(b))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", err
	}
	return tmp, nil
}

// openDamaged opens the damaged database dbPath and its WAL read-only, as a
// salvage input, decrypted with key unless it is nil. With snapshot, it
// first copies both into tmp and opens the copies.
func openDamaged(dbPath, tmp string, snapshot bool, key *ncruces.Key) (in salvage.Input, closeAll func() error, copied bool, err error) {
	if snapshot {
		snap := filepath.Join(tmp, snapshotDir)
		if err := os.Mkdir(snap, 0o700); err != nil {
			return in, nil, false, err
		}
		for _, suffix := range []string{"", "-wal"} {
			if err := copyFile(dbPath+suffix, filepath.Join(snap, "db"+suffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return in, nil, false, err
			}
		}
		dbPath, copied = filepath.Join(snap, "db"), true
	}
	var files []*os.File
	closeAll = func() error {
		var errs []error
		for _, f := range files {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}
	open := func(path string) (io.ReaderAt, int64, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, err
		}
		files = append(files, f)
		info, err := f.Stat()
		if err != nil {
			return nil, 0, err
		}
		if key != nil {
			return key.Plaintext(f, info.Size())
		}
		return f, info.Size(), nil
	}
	if in.DB, in.DBSize, err = open(dbPath); err != nil {
		return in, nil, false, errors.Join(err, closeAll())
	}
	in.WAL, in.WALSize, err = open(WALPath(dbPath))
	if errors.Is(err, fs.ErrNotExist) {
		in.WAL, in.WALSize, err = nil, 0, nil
	}
	if err != nil {
		return in, nil, false, errors.Join(err, closeAll())
	}
	return in, closeAll, copied, nil
}

// copyFile copies the file src to the new file dst.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}

// recoverConfig is what recoverInto needs of the options.
type recoverConfig struct {
	name       string
	migrations fs.FS
	program    string
	logger     *slog.Logger
	key        KeySource // the new workspace's; nil: plaintext
}

// recoverPragmas are the new workspace's while it is filled: foreign keys
// off (they are checked after), no fsync (the file is synced once, at the
// end), a rollback journal (the rows are written once, not to the WAL and
// then again by a checkpoint; a new database's new pages need no journal),
// and a larger page cache. The next Open of the workspace sets its own.
var recoverPragmas = []ncruces.Pragma{
	{Name: "foreign_keys", Value: "OFF"},
	{Name: "synchronous", Value: "OFF"},
	{Name: "journal_mode", Value: "DELETE"},
	{Name: "cache_size", Value: "-65536"},
}

// recoverInto salvages in into a new workspace in the empty directory dir,
// closes it and syncs its database file, which is then complete in itself
// (rollback journal mode, no -wal beside it).
func recoverInto(ctx context.Context, in salvage.Input, dir string, c recoverConfig) (_ *RecoverReport, err error) {
	start := time.Now()
	logger := c.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ws, err := Open(ctx, dir, &Options{
		Name:       c.name,
		Migrations: c.migrations,
		Program:    c.program,
		Logger:     logger,
		Pragmas:    recoverPragmas,
		Key:        c.key,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := ws.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	rc := &recovery{ctx: ctx, ws: ws, logger: logger, migrations: c.migrations != nil, sequences: map[string]int64{}}
	report, err := rc.run(in)
	if err != nil {
		return nil, err
	}
	if err := ws.Close(); err != nil {
		return nil, err
	}
	if err := fsync.File(ws.Path()); err != nil {
		return nil, err
	}
	if err := fsync.Dir(dir); err != nil {
		return nil, err
	}
	report.Destination = ws.Path()
	report.Duration = time.Since(start)
	return report, nil
}

// tableCounts is what a table of the new workspace received.
type tableCounts struct {
	rows, orphans, lost int
}

// run reads in and writes what it finds into rc.ws, in one transaction.
func (rc *recovery) run(in salvage.Input) (*RecoverReport, error) {
	ctx := rc.ctx
	r, err := salvage.Open(ctx, in)
	if errors.Is(err, salvage.ErrNotDatabase) {
		return nil, ErrNotRecoverable
	}
	if err != nil {
		return nil, err
	}
	entries, complete, err := r.Schema(ctx)
	if err != nil {
		return nil, err
	}
	report := &RecoverReport{SchemaComplete: complete}
	if rc.tx, err = rc.ws.DB().BeginTx(ctx, nil); err != nil {
		return nil, err
	}
	defer rc.tx.Rollback()
	p, err := newProbe()
	if err != nil {
		return nil, err
	}
	defer p.close()
	ours, err := rc.tableStatements()
	if err != nil {
		return nil, err
	}
	p.create(ours)
	if report.SchemaSource, err = rc.createSchema(entries, report, p); err != nil {
		return nil, err
	}
	if err := rc.describeTables(entries); err != nil {
		return nil, err
	}
	var tables []*salvage.Table
	for _, t := range rc.tables {
		if t.probe {
			t.salvage.Check = func(rowid int64, vals []salvage.Value) error { return p.check(t, rowid, vals) }
		}
		tables = append(tables, t.salvage)
	}
	triggers, err := rc.dropTriggers()
	if err != nil {
		return nil, err
	}
	indexes, err := rc.dropIndexes()
	if err != nil {
		return nil, err
	}
	results, err := r.Tables(ctx, tables, rc)
	if err != nil {
		return nil, err
	}
	if err := rc.mergeSequences(); err != nil {
		return nil, err
	}
	for _, q := range indexes {
		if _, err := rc.tx.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("rebuild index: %w", err)
		}
	}
	for _, sql := range triggers {
		if _, err := rc.tx.ExecContext(ctx, sql); err != nil {
			report.Notes = append(report.Notes, fmt.Sprintf("trigger not restored: %v", err))
		}
	}
	if report.ForeignKeys, err = foreignKeyCheck(ctx, rc.tx); err != nil {
		return nil, err
	}
	for _, st := range rc.stmts {
		st.Close()
	}
	if err := rc.tx.Commit(); err != nil {
		return nil, err
	}

	st := r.Stats()
	report.PageSize, report.Pages = st.PageSize, st.Pages
	report.PagesRead, report.PagesDamaged, report.PagesOrphaned, report.PagesFree = st.PagesRead, st.PagesDamaged, st.PagesOrphaned, st.PagesFree
	report.CellsDamaged, report.RowsStale = st.CellsDamaged, st.RowsStale
	report.WALFrames, report.WALIgnored = st.WALFrames, st.WALIgnored
	report.Notes = append(r.Notes(), report.Notes...)
	report.LostAndFound, report.LostAndFoundTable = rc.lostRows, rc.lafName
	report.Skipped = rc.skipped
	for _, res := range results {
		t := rc.byName[res.Table.Name]
		if t == nil || t.internal || t.skip {
			continue // their rows are counted in Skipped
		}
		report.Tables = append(report.Tables, TableRecovery{
			Name: t.name, Rows: t.counts.rows, FromOrphans: t.counts.orphans, Lost: t.counts.lost,
			Intact: res.Intact && t.counts.lost == 0,
		})
	}
	for _, n := range report.Notes {
		rc.logger.Warn("workspace: recover: " + n)
	}
	return report, nil
}

// tableStatements returns the CREATE TABLE statements of the new
// workspace's own tables (the migrations').
func (rc *recovery) tableStatements() ([]string, error) {
	rows, err := rc.tx.QueryContext(rc.ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
