package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/salvage"
	"github.com/litedir/litedir/ncruces"
)

// recovery writes what a salvage finds into the new workspace: the schema
// (from the migrations or the damaged file), the rows through one
// transaction of DB, and lost_and_found. It is the salvage's Sink.
type recovery struct {
	ctx        context.Context
	ws         *Workspace
	tx         *sql.Tx
	logger     *slog.Logger
	migrations bool

	tables   []*recTable
	byName   map[string]*recTable
	triggers []string             // triggers to create once the rows are in
	stmts    map[string]*sql.Stmt // inserts by table and field count

	lafName  string // lost_and_found's name, once created
	lafCols  int    // its value columns c0..
	lostRows int
	skipped  int

	sequences map[string]int64 // the damaged file's sqlite_sequence
}

// recTable is a table of the new workspace that rows are recovered into.
type recTable struct {
	name    string
	salvage *salvage.Table
	// generated marks record fields of stored generated columns, which
	// SQLite computes and which are not inserted.
	generated []bool
	// rowidCol names the rowid in inserts: "" for WITHOUT ROWID tables;
	// the INTEGER PRIMARY KEY column's name, which takes the rowid;
	// otherwise _rowid_ (or rowid, oid: one that no column is named).
	rowidCol string
	aliasIdx int  // the INTEGER PRIMARY KEY's field, or -1
	skip     bool // rows are not copied (statistics; goose versions under migrations)
	internal bool // sqlite_sequence: merged, not copied
	probe    bool // orphaned rows are checked against the table's constraints
	counts   tableCounts
}

// lafMaxCols bounds lost_and_found's value columns below SQLite's column
// limit (2000), with room for its own columns.
const lafMaxCols = 1990

// quote quotes an SQL identifier.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// schemaKinds are the statement kinds a schema entry's SQL may be, by type.
var schemaKinds = map[string][]string{
	"table":   {"CREATE TABLE"},
	"index":   {"CREATE INDEX", "CREATE UNIQUE INDEX"},
	"view":    {"CREATE VIEW"},
	"trigger": {"CREATE TRIGGER"},
}

// schemaSQL reports whether sql, read from a damaged file, is one statement
// of the kind typ may be, which the recovery may run.
func schemaSQL(typ, sql string, p *probe) error {
	norm := strings.Join(strings.FieldsFunc(strings.ToUpper(sql), unicode.IsSpace), " ")
	ok := false
	for _, k := range schemaKinds[typ] {
		ok = ok || strings.HasPrefix(norm, k+" ")
	}
	if !ok {
		return fmt.Errorf("not a %s statement", typ)
	}
	return p.single(sql)
}

// createSchema makes the new workspace's schema: the migrations' (Open
// applied them), with the damaged file's tables beyond them; or, without
// migrations, the damaged file's. It returns where the schema came from.
func (rc *recovery) createSchema(entries []salvage.SchemaEntry, report *RecoverReport, p *probe) (string, error) {
	existing := map[string]bool{}
	rows, err := rc.tx.QueryContext(rc.ctx, `SELECT type, name FROM sqlite_schema`)
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			rows.Close()
			return "", err
		}
		existing[strings.ToLower(name)] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return "", err
	}
	source := "none"
	if rc.migrations {
		source = "migrations"
	}
	created := map[string]bool{} // tables made from the file, lower case
	for _, typ := range []string{"table", "index", "view", "trigger"} {
		for _, e := range entries {
			lname, ltbl := strings.ToLower(e.Name), strings.ToLower(e.TblName)
			if e.Type != typ || e.SQL == "" || existing[lname] || strings.HasPrefix(lname, "sqlite_") {
				continue
			}
			if typ != "table" && !created[ltbl] {
				continue // an index or trigger of a table the migrations made
			}
			if err := schemaSQL(typ, e.SQL, p); err != nil {
				report.Notes = append(report.Notes, fmt.Sprintf("%s %s of the damaged file not created: %v", typ, e.Name, err))
				continue
			}
			if typ == "trigger" {
				rc.triggers = append(rc.triggers, e.SQL)
				continue
			}
			if _, err := rc.tx.ExecContext(rc.ctx, e.SQL); err != nil {
				if !errors.Is(err, ncruces.ErrConstraint) && !isSQLError(err) {
					return "", err
				}
				report.Notes = append(report.Notes, fmt.Sprintf("%s %s of the damaged file not created: %v", typ, e.Name, err))
				continue
			}
			existing[lname] = true
			if typ == "table" {
				p.create([]string{e.SQL})
				created[lname] = true
				if rc.migrations {
					source = "migrations+file"
				} else {
					source = "file"
				}
			}
		}
	}
	return source, nil
}

// isSQLError reports whether err is SQLite refusing a statement (SQLITE_ERROR:
// a syntax error, a missing table) rather than failing to run it.
func isSQLError(err error) bool { return errors.Is(err, sqlite3.ERROR) }

// describeTables lists the new workspace's tables with the shapes of their
// records, and the damaged file's root page of each.
func (rc *recovery) describeTables(entries []salvage.SchemaEntry) error {
	rc.byName = map[string]*recTable{}
	roots := map[string]uint32{}
	for _, e := range entries {
		if e.Type == "table" && e.RootPage > 0 && e.RootPage <= 1<<31 {
			roots[strings.ToLower(e.Name)] = uint32(e.RootPage)
		}
	}
	type listed struct {
		name, typ, sql string
		wr, strict     bool
	}
	var list []listed
	rows, err := rc.tx.QueryContext(rc.ctx, `SELECT l.name, l.type, l.wr, l.strict, coalesce(s.sql, '')
		FROM pragma_table_list AS l LEFT JOIN sqlite_schema AS s ON s.name = l.name
		WHERE l.schema = 'main' AND l.type IN ('table', 'shadow') ORDER BY l.name`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var l listed
		if err := rows.Scan(&l.name, &l.typ, &l.wr, &l.strict, &l.sql); err != nil {
			rows.Close()
			return err
		}
		list = append(list, l)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, l := range list {
		lname := strings.ToLower(l.name)
		if strings.HasPrefix(lname, "sqlite_") && lname != "sqlite_sequence" {
			continue
		}
		t, err := rc.describe(l.name, l.wr, l.strict)
		if err != nil {
			return err
		}
		t.salvage.Root = roots[lname]
		switch {
		case lname == "sqlite_sequence":
			t.internal = true
		case rc.migrations && lname == "goose_db_version":
			t.skip = true // the migrations recorded the version
		default:
			t.probe = !l.wr
		}
		rc.add(t)
	}
	// SQLite's statistics, which ANALYZE and PRAGMA optimize make anew: read
	// so that their pages are accounted for, not copied. Where the schema is
	// lost, sqlite_stat1's rows (table, index, statistics as text) are
	// recognized on orphaned pages.
	if rc.byName["sqlite_stat1"] == nil {
		st := &salvage.Table{Name: "sqlite_stat1", Root: roots["sqlite_stat1"], Columns: []salvage.Column{{Name: "tbl"}, {Name: "idx"}, {Name: "stat"}}}
		st.Check = func(_ int64, vals []salvage.Value) error {
			if len(vals) != 3 || vals[0].Kind != salvage.Text || (vals[1].Kind != salvage.Text && vals[1].Kind != salvage.Null) || vals[2].Kind != salvage.Text {
				return errors.New("not a statistics row")
			}
			return nil
		}
		rc.add(&recTable{name: st.Name, salvage: st, skip: true, aliasIdx: -1})
	}
	if root := roots["sqlite_stat4"]; root != 0 && rc.byName["sqlite_stat4"] == nil {
		st := &salvage.Table{Name: "sqlite_stat4", Root: root}
		for i := range 6 {
			st.Columns = append(st.Columns, salvage.Column{Name: "c" + strconv.Itoa(i)})
		}
		rc.add(&recTable{name: st.Name, salvage: st, skip: true, aliasIdx: -1})
	}
	return nil
}

func (rc *recovery) add(t *recTable) {
	rc.tables = append(rc.tables, t)
	rc.byName[t.name] = t
}

// describe reads the shape of table name's records from PRAGMA table_xinfo.
func (rc *recovery) describe(name string, withoutRowID, strict bool) (*recTable, error) {
	type col struct {
		name, typ string
		notNull   bool
		pk        int
		hidden    int
	}
	var cols []col
	rows, err := rc.tx.QueryContext(rc.ctx, `SELECT name, upper(type), "notnull", pk, hidden FROM pragma_table_xinfo(?)`, name)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.pk, &c.hidden); err != nil {
			rows.Close()
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	// The record holds every column but the virtual generated ones; a
	// WITHOUT ROWID table's starts with its primary key.
	var stored []col
	for _, c := range cols {
		if c.hidden != 2 && c.hidden != 1 {
			stored = append(stored, c)
		}
	}
	pks := 0
	for _, c := range stored {
		if c.pk > 0 {
			pks++
		}
	}
	if withoutRowID {
		var ordered []col
		for k := 1; k <= pks; k++ {
			for _, c := range stored {
				if c.pk == k {
					ordered = append(ordered, c)
				}
			}
		}
		for _, c := range stored {
			if c.pk == 0 {
				ordered = append(ordered, c)
			}
		}
		stored = ordered
	}
	t := &recTable{name: name, aliasIdx: -1, salvage: &salvage.Table{Name: name, WithoutRowID: withoutRowID, Strict: strict}}
	names := map[string]bool{}
	for i, c := range stored {
		alias := !withoutRowID && pks == 1 && c.pk == 1 && c.typ == "INTEGER"
		if alias {
			t.aliasIdx = i
			t.rowidCol = c.name
		}
		names[strings.ToLower(c.name)] = true
		t.salvage.Columns = append(t.salvage.Columns, salvage.Column{Name: c.name, Type: c.typ, NotNull: c.notNull, RowIDAlias: alias})
		t.generated = append(t.generated, c.hidden == 3)
	}
	if !withoutRowID && t.rowidCol == "" {
		for _, n := range []string{"_rowid_", "rowid", "oid"} {
			if !names[n] {
				t.rowidCol = n
				break
			}
		}
	}
	return t, nil
}

// insert returns the INSERT statement for rows of t with n fields, and the
// arguments for one: the rowid (through its column) and the fields, less
// generated columns; columns past n take their defaults.
func (t *recTable) insert(n int, rowid int64, vals []salvage.Value) (string, []any) {
	var cols []string
	var args []any
	if t.rowidCol != "" {
		cols = append(cols, quote(t.rowidCol))
		args = append(args, rowid)
	}
	for i := 0; i < n && i < len(t.salvage.Columns); i++ {
		if i == t.aliasIdx || t.generated[i] {
			continue
		}
		cols = append(cols, quote(t.salvage.Columns[i].Name))
		if vals != nil {
			args = append(args, vals[i].Any())
		}
	}
	q := fmt.Sprintf("INSERT INTO main.%s(%s) VALUES (%s)", quote(t.name), strings.Join(cols, ", "),
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	return q, args
}

// Row writes a salvaged row into its table; a row its table refuses (a
// constraint) goes to lost_and_found instead.
func (rc *recovery) Row(row salvage.Row) error {
	t := rc.byName[row.Table.Name]
	switch {
	case t == nil:
		return fmt.Errorf("recover: row of unknown table %s", row.Table.Name)
	case t.skip:
		rc.skipped++
		return nil
	case t.internal:
		if len(row.Values) == 2 && row.Values[0].Kind == salvage.Text && row.Values[1].Kind == salvage.Integer {
			rc.sequences[string(row.Values[0].Bytes)] = row.Values[1].Int
		}
		return nil
	}
	q, args := t.insert(len(row.Values), row.RowID, row.Values)
	st, err := rc.stmt(q)
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(rc.ctx, args...); err != nil {
		if !errors.Is(err, ncruces.ErrConstraint) {
			return fmt.Errorf("recover into %s: %w", t.name, err)
		}
		return rc.Lost(salvage.Lost{Page: row.Page, Cell: -1, Table: t.name, RowID: row.RowID, HasRowID: !t.salvage.WithoutRowID,
			Reason: err.Error(), Values: row.Values})
	}
	t.counts.rows++
	if row.Orphan {
		t.counts.orphans++
	}
	return nil
}

// stmt returns the prepared statement q of the transaction.
func (rc *recovery) stmt(q string) (*sql.Stmt, error) {
	if st, ok := rc.stmts[q]; ok {
		return st, nil
	}
	st, err := rc.tx.PrepareContext(rc.ctx, q)
	if err != nil {
		return nil, err
	}
	if rc.stmts == nil {
		rc.stmts = map[string]*sql.Stmt{}
	}
	rc.stmts[q] = st
	return st, nil
}

// Lost keeps a row that could not be verified in lost_and_found, which it
// creates on the first one: where the row was found, why it is there, and
// its values in c0, c1, ... as they were read.
func (rc *recovery) Lost(l salvage.Lost) error {
	if t := rc.byName[l.Table]; t != nil {
		t.counts.lost++
	}
	vals := l.Values
	reason := l.Reason
	if len(vals) > lafMaxCols {
		reason += fmt.Sprintf(" (%d more fields not kept)", len(vals)-lafMaxCols)
		vals = vals[:lafMaxCols]
	}
	if err := rc.lostAndFound(len(vals)); err != nil {
		return err
	}
	cols := []string{"page", "cell", "source_table", "source_rowid", "reason", "nfield"}
	var table, rowid any
	if l.Table != "" {
		table = l.Table
	}
	if l.HasRowID {
		rowid = l.RowID
	}
	var cell any = l.Cell
	if l.Cell < 0 {
		cell = nil
	}
	args := []any{int64(l.Page), cell, table, rowid, reason, len(l.Values)}
	for i, v := range vals {
		cols = append(cols, "c"+strconv.Itoa(i))
		args = append(args, v.Any())
	}
	q := fmt.Sprintf("INSERT INTO main.%s(%s) VALUES (%s)", quote(rc.lafName), strings.Join(cols, ", "),
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	st, err := rc.stmt(q)
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(rc.ctx, args...); err != nil {
		return fmt.Errorf("recover into %s: %w", rc.lafName, err)
	}
	rc.lostRows++
	return nil
}

// lostAndFound creates lost_and_found (under a name no table has) with at
// least n value columns.
func (rc *recovery) lostAndFound(n int) error {
	if rc.lafName == "" {
		name := "lost_and_found"
		for i := 1; ; i++ {
			var exists int
			if err := rc.tx.QueryRowContext(rc.ctx, `SELECT count(*) FROM sqlite_schema WHERE lower(name) = lower(?)`, name).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				break
			}
			name = "lost_and_found_" + strconv.Itoa(i)
		}
		q := fmt.Sprintf(`CREATE TABLE main.%s (
    id           INTEGER PRIMARY KEY,
    page         INTEGER NOT NULL, -- the page of the damaged file the row was read from
    cell         INTEGER,          -- its cell on that page
    source_table TEXT,             -- the table it was found in, or fits; NULL when none or several
    source_rowid INTEGER,          -- its rowid, when it has one
    reason       TEXT NOT NULL,    -- why it is not in its table
    nfield       INTEGER NOT NULL  -- how many fields its record has; c0, c1, ... hold them
)`, quote(name))
		if _, err := rc.tx.ExecContext(rc.ctx, q); err != nil {
			return err
		}
		rc.lafName = name
	}
	for rc.lafCols < n {
		if _, err := rc.tx.ExecContext(rc.ctx, fmt.Sprintf("ALTER TABLE main.%s ADD COLUMN c%d", quote(rc.lafName), rc.lafCols)); err != nil {
			return err
		}
		rc.lafCols++
	}
	return nil
}

// dropTriggers drops the new workspace's triggers, so that inserting
// recovered rows fires none, and returns their statements, with the damaged
// file's, to create once the rows are in.
func (rc *recovery) dropTriggers() ([]string, error) {
	sqls, err := rc.dropSchema("trigger", func(string) bool { return true })
	return append(sqls, rc.triggers...), err
}

// dropIndexes drops the new workspace's indexes that no constraint needs
// (not UNIQUE), and returns their statements: building an index once the
// rows are in, from sorted keys, is several times faster than keeping it
// up to date row by row. UNIQUE indexes stay, so that a row that breaks
// one goes to lost_and_found.
func (rc *recovery) dropIndexes() ([]string, error) {
	return rc.dropSchema("index", func(q string) bool {
		return !strings.Contains(strings.ToUpper(strings.Join(strings.Fields(q), " ")), "CREATE UNIQUE INDEX")
	})
}

// dropSchema drops the new workspace's objects of type typ (trigger,
// index) whose statement drop accepts, and returns their statements.
func (rc *recovery) dropSchema(typ string, drop func(sql string) bool) ([]string, error) {
	rows, err := rc.tx.QueryContext(rc.ctx, `SELECT name, sql FROM sqlite_schema WHERE type = ? AND sql IS NOT NULL`, typ)
	if err != nil {
		return nil, err
	}
	var names, sqls []string
	for rows.Next() {
		var name, q string
		if err := rows.Scan(&name, &q); err != nil {
			rows.Close()
			return nil, err
		}
		if drop(q) {
			names, sqls = append(names, name), append(sqls, q)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := rc.tx.ExecContext(rc.ctx, "DROP "+strings.ToUpper(typ)+" main."+quote(name)); err != nil {
			return nil, err
		}
	}
	return sqls, nil
}

// mergeSequences carries the damaged file's AUTOINCREMENT counters over, so
// that no rowid a deleted row had is handed out again.
func (rc *recovery) mergeSequences() error {
	for _, name := range sortedKeys(rc.sequences) {
		t := rc.byName[name]
		if t == nil || t.skip || t.internal || rc.byName["sqlite_sequence"] == nil {
			continue
		}
		seq := rc.sequences[name]
		res, err := rc.tx.ExecContext(rc.ctx, `UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?`, seq, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := rc.tx.ExecContext(rc.ctx, `INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)`, name, seq); err != nil {
				return err
			}
		}
	}
	return nil
}

// probe is an in-memory database with the new workspace's tables, empty,
// where an orphaned row is inserted and rolled back to learn whether its
// table's constraints (CHECK, NOT NULL, types) accept it.
type probe struct {
	conn  *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
}

func newProbe() (*probe, error) {
	conn, err := sqlite3.Open(":memory:")
	if err != nil {
		return nil, err
	}
	// The probe's tables are empty: a foreign key would refuse every row.
	if err := conn.Exec("PRAGMA foreign_keys = OFF"); err != nil {
		return nil, errors.Join(err, conn.Close())
	}
	return &probe{conn: conn, stmts: map[string]*sqlite3.Stmt{}}, nil
}

// create makes the tables of statements in the probe; a statement SQLite
// refuses is skipped (its table's orphans are then judged by shape alone).
func (p *probe) create(statements []string) {
	for _, q := range statements {
		if p.single(q) == nil {
			p.conn.Exec(q)
		}
	}
}

// single returns an error unless q is exactly one statement that SQLite
// can prepare (in the probe, where the tables are).
func (p *probe) single(q string) error {
	st, tail, err := p.conn.Prepare(q)
	if err != nil {
		return err
	}
	st.Close()
	if strings.TrimSpace(tail) != "" && strings.TrimSpace(tail) != ";" {
		return errors.New("more than one statement")
	}
	return nil
}

// check inserts the row into t in the probe and rolls it back.
func (p *probe) check(t *recTable, rowid int64, vals []salvage.Value) (err error) {
	q, args := t.insert(len(vals), rowid, vals)
	st, ok := p.stmts[q]
	if !ok {
		if st, _, err = p.conn.Prepare(q); err != nil {
			return err
		}
		p.stmts[q] = st
	}
	if err := p.conn.Exec("SAVEPOINT probe"); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, p.conn.Exec("ROLLBACK TO probe; RELEASE probe")) }()
	for i, a := range args {
		switch a := a.(type) {
		case nil:
			err = st.BindNull(i + 1)
		case int64:
			err = st.BindInt64(i+1, a)
		case float64:
			err = st.BindFloat(i+1, a)
		case string:
			err = st.BindText(i+1, a)
		case []byte:
			err = st.BindBlob(i+1, a)
		}
		if err != nil {
			return err
		}
	}
	err = st.Exec()
	return errors.Join(err, st.Reset())
}

func (p *probe) close() error {
	for _, st := range p.stmts {
		st.Close()
	}
	return p.conn.Close()
}
