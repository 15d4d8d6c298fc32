package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

const sqlDoc = `
Sql runs QUERY, one SQL statement or several separated by semicolons, on a
workspace's database and prints the rows of the statement that returns rows:
an aligned table with a header line, or with -csv CSV with a header record,
or with -json one JSON object:

	{"columns": ["id", "title"], "rows": [[1, "first"], [2, null]], "changes": 0}

"changes" counts the rows inserted, updated or deleted by the statements that
return no rows. At most one statement may return rows. Values keep their
SQLite type: integers and reals are numbers, text is a string, NULL is null
(NULL in the table, an empty field in CSV) and a blob is base64 in JSON and
X'hex' in the table and CSV.

By default the database is opened read-only, without the workspace lock, so
sql works while another process owns the workspace, and a statement that
writes fails. With -write sql takes the lock like any program opening the
workspace (exit status 3, naming the owner, while another process holds it,
unless -wait outlasts it) and runs all the statements in one transaction:
if one fails, none of them has changed anything. sql never creates a
workspace; BEGIN, COMMIT and VACUUM cannot be part of QUERY (see litedir
vacuum).

Example:

	litedir sql -json ./data 'SELECT id, title FROM sessions ORDER BY id DESC LIMIT 5'
	litedir sql -write ./data "UPDATE sessions SET title = 'renamed' WHERE id = 1"`

func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("sql", "[-json | -csv] [-write [-wait D]] [-name N] [-key-file F] DIR QUERY", sqlDoc, stderr)
	asJSON := flags.Bool("json", false, "print one JSON object")
	asCSV := flags.Bool("csv", false, "print CSV")
	write := flags.Bool("write", false, "take the workspace lock and allow writes")
	wait := waitFlag(flags, "a workspace")
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR", "QUERY")
	switch {
	case err != nil:
	case *asJSON && *asCSV:
		err = usageError("give at most one of -json and -csv")
	case *wait != 0 && !*write:
		err = usageError("-wait needs -write: a read takes no lock")
	}
	if err != nil {
		return usageExit(flags, err)
	}
	out := sqlText
	switch {
	case *asJSON:
		out = sqlJSON
	case *asCSV:
		out = sqlCSV
	}
	q := sqlQuery{dir: pos[0], name: *name, key: key.source(), query: pos[1], write: *write, wait: *wait, format: out}
	return report(stderr, "sql", q.run(ctx, stdout, stderr))
}

// sqlFormat is an output format of sql.
type sqlFormat int

const (
	sqlText sqlFormat = iota
	sqlCSV
	sqlJSON
)

// sqlQuery is one run of the sql command.
type sqlQuery struct {
	dir, name, query string
	key              workspace.KeySource
	write            bool
	wait             time.Duration
	format           sqlFormat
}

// errManyResults is returned when a second statement returns rows.
var errManyResults = errors.New("more than one statement returns rows; sql prints one result")

func (q *sqlQuery) run(ctx context.Context, stdout, stderr io.Writer) (err error) {
	if strings.TrimSpace(q.query) == "" {
		return usageError("empty QUERY")
	}
	program := ""
	if q.write {
		program = "litedir sql"
	}
	ws, err := openExisting(ctx, stderr, q.dir, workspace.Options{Name: q.name, Key: q.key}, program, q.wait)
	if err != nil {
		return err
	}
	db := ws.ReadDB()
	if q.write {
		db = ws.DB()
	}
	defer func() { err = errors.Join(err, ws.Close()) }()

	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	res := newSQLResult(q.format, stdout)
	err = conn.Raw(func(dc any) error {
		raw, ok := dc.(interface{ Raw() *sqlite3.Conn })
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return q.exec(ctx, raw.Raw(), res)
	})
	if err != nil {
		if !q.write && errors.Is(err, ncruces.ErrReadOnly) {
			return fmt.Errorf("%s: %w (sql opens the database read-only unless given -write)", ws.Path(), err)
		}
		return fmt.Errorf("%s: %w", ws.Path(), err)
	}
	return res.finish()
}

// exec runs the statements of q.query on c in one transaction, feeding the
// rows of the statement that returns rows to res. The transaction commits
// only if every statement succeeded; a read-only run commits nothing, the
// transaction only gives all statements one snapshot.
func (q *sqlQuery) exec(ctx context.Context, c *sqlite3.Conn, res *sqlResult) (err error) {
	old := c.SetInterrupt(ctx)
	defer c.SetInterrupt(old)
	begin := "BEGIN"
	if q.write {
		begin = "BEGIN IMMEDIATE"
	}
	if err := c.Exec(begin); err != nil {
		return err
	}
	defer func() {
		if err == nil {
			err = c.Exec("COMMIT")
		}
		if !c.GetAutocommit() {
			// Still in the transaction: a statement or the COMMIT failed.
			// The rollback's own error adds nothing to err.
			_ = c.Exec("ROLLBACK")
		}
	}()

	// Changes() is the count of the last INSERT, UPDATE or DELETE only, and
	// statements such as CREATE TABLE leave it alone: the difference of the
	// totals is what this run changed.
	before := c.TotalChanges()
	defer func() { res.changes = c.TotalChanges() - before }()
	rest := q.query
	for n := 1; ; n++ {
		stmt, tail, err := c.Prepare(rest)
		if err != nil {
			return fmt.Errorf("statement %d: %w", n, err)
		}
		if stmt == nil {
			// Only whitespace or comments were left.
			return nil
		}
		err = q.step(stmt, res)
		if cerr := stmt.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("statement %d: %w", n, err)
		}
		rest = tail
	}
}

// step runs stmt to the end, passing its rows to res.
func (q *sqlQuery) step(stmt *sqlite3.Stmt, res *sqlResult) error {
	if isTxControl(stmt.SQL()) {
		return errors.New("BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE are not allowed: sql runs the statements in one transaction itself")
	}
	cols := stmt.ColumnCount()
	if cols == 0 {
		return stmt.Exec()
	}
	names := make([]string, cols)
	for i := range names {
		names[i] = stmt.ColumnName(i)
	}
	if err := res.start(names); err != nil {
		return err
	}
	row := make([]any, cols)
	for stmt.Step() {
		for i := range row {
			row[i] = columnValue(stmt, i)
		}
		if err := res.row(row); err != nil {
			return err
		}
	}
	return stmt.Err()
}

// isTxControl reports whether the statement text sql starts a, ends or
// nests a transaction, which would break the one sql runs.
func isTxControl(sql string) bool {
	words := strings.FieldsFunc(sql, func(r rune) bool {
		return r == ';' || r == '(' || unicode.IsSpace(r)
	})
	if len(words) == 0 {
		return false
	}
	switch strings.ToUpper(words[0]) {
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return true
	}
	return false
}

// columnValue returns column i of the current row of stmt as a Go value
// of its SQLite type: int64, float64, string, []byte or nil.
func columnValue(stmt *sqlite3.Stmt, i int) any {
	switch stmt.ColumnType(i) {
	case sqlite3.INTEGER:
		return stmt.ColumnInt64(i)
	case sqlite3.FLOAT:
		return stmt.ColumnFloat(i)
	case sqlite3.TEXT:
		return stmt.ColumnText(i)
	case sqlite3.BLOB:
		return stmt.ColumnBlob(i, nil)
	default:
		return nil
	}
}

// sqlResult prints one result in a [sqlFormat]. Nothing reaches w before
// finish, so a statement that fails leaves no half-printed result.
type sqlResult struct {
	format  sqlFormat
	w       io.Writer
	buf     bytes.Buffer // sqlText and sqlCSV output
	columns []string     // nil until a statement returned rows
	changes int64

	tab  *tabwriter.Writer // sqlText
	csv  *csv.Writer       // sqlCSV
	rows [][]any           // sqlJSON: printed whole by finish
}

func newSQLResult(format sqlFormat, w io.Writer) *sqlResult {
	return &sqlResult{format: format, w: w}
}

// start begins the result of a statement with the columns names.
func (r *sqlResult) start(names []string) error {
	if r.columns != nil {
		return errManyResults
	}
	r.columns = names
	switch r.format {
	case sqlText:
		r.tab = tabwriter.NewWriter(&r.buf, 0, 8, 2, ' ', 0)
		_, err := fmt.Fprintln(r.tab, strings.Join(names, "\t"))
		return err
	case sqlCSV:
		r.csv = csv.NewWriter(&r.buf)
		return r.csv.Write(names)
	}
	r.rows = [][]any{}
	return nil
}

// row adds a row; row is reused by the caller.
func (r *sqlResult) row(row []any) error {
	switch r.format {
	case sqlText, sqlCSV:
		fields := make([]string, len(row))
		for i, v := range row {
			fields[i] = textValue(v, r.format == sqlText)
		}
		if r.format == sqlCSV {
			return r.csv.Write(fields)
		}
		_, err := fmt.Fprintln(r.tab, strings.Join(fields, "\t"))
		return err
	}
	cp := make([]any, len(row))
	for i, v := range row {
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			// JSON has no infinities; SQLite has (9e999).
			v = strconv.FormatFloat(f, 'g', -1, 64)
		}
		cp[i] = v
	}
	r.rows = append(r.rows, cp)
	return nil
}

// finish prints what is left once every statement succeeded.
func (r *sqlResult) finish() error {
	switch r.format {
	case sqlText:
		if r.tab != nil {
			if err := r.tab.Flush(); err != nil {
				return err
			}
		} else if r.changes > 0 {
			fmt.Fprintf(&r.buf, "%d rows changed\n", r.changes)
		}
		_, err := r.w.Write(r.buf.Bytes())
		return err
	case sqlCSV:
		if r.csv != nil {
			r.csv.Flush()
			if err := r.csv.Error(); err != nil {
				return err
			}
		}
		_, err := r.w.Write(r.buf.Bytes())
		return err
	}
	doc := struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
		Changes int64    `json:"changes"`
	}{r.columns, r.rows, r.changes}
	if doc.Columns == nil {
		doc.Columns, doc.Rows = []string{}, [][]any{}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(r.w, "%s\n", b)
	return err
}

// textValue formats v for the table (null: "NULL") or CSV (null: "").
func textValue(v any, table bool) string {
	switch v := v.(type) {
	case nil:
		if table {
			return "NULL"
		}
		return ""
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []byte:
		return "X'" + strings.ToUpper(hex.EncodeToString(v)) + "'"
	case string:
		return v
	}
	return fmt.Sprint(v)
}
