package salvage

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Table describes a table whose rows are salvaged: where its b-tree starts
// and what its records look like.
type Table struct {
	Name string

	// Root is the root page of the table's b-tree, from the damaged file's
	// schema; 0 when the schema does not say (it is lost, or the table is
	// not in it): then every row of the table is looked for on orphaned
	// leaves.
	Root uint32

	// WithoutRowID marks a WITHOUT ROWID table, whose b-tree is an index
	// b-tree of records (primary key columns first). Its rows are read from
	// its b-tree only; orphaned index pages are not attributed.
	WithoutRowID bool

	// Strict marks a STRICT table: each column's values must be of its
	// type.
	Strict bool

	// Columns are the columns stored in the table's records, in record
	// order (without virtual generated columns).
	Columns []Column

	// Check, if not nil, says whether a row can be the table's beyond its
	// shape — its CHECK constraints, say. It is asked only about rows of
	// orphaned leaves, to attribute them; rows of the table's own b-tree
	// are the caller's to check. Nil means the shape decides.
	Check func(rowid int64, vals []Value) error
}

// Column is a column of a [Table]'s records.
type Column struct {
	Name string
	// Type is the declared type, in upper case: for a STRICT table one of
	// INT, INTEGER, REAL, TEXT, BLOB and ANY.
	Type    string
	NotNull bool
	// RowIDAlias marks the INTEGER PRIMARY KEY column, which the record
	// stores as NULL: the rowid is its value.
	RowIDAlias bool
}

// fits reports why the record vals (of the row rowid) cannot be one of t's
// rows, or nil: no more fields than columns (fewer are rows written before
// columns were added), the rowid alias NULL or the rowid, NOT NULL columns
// not NULL, and in a STRICT table every value of its column's type.
func (t *Table) fits(rowid int64, vals []Value) error {
	if len(vals) > len(t.Columns) {
		return fmt.Errorf("%d fields for the %d columns of %s", len(vals), len(t.Columns), t.Name)
	}
	for i, v := range vals {
		c := &t.Columns[i]
		if c.RowIDAlias {
			if v.Kind != Null && (v.Kind != Integer || v.Int != rowid) {
				return fmt.Errorf("column %s.%s (the rowid) holds %v", t.Name, c.Name, v)
			}
			continue
		}
		if v.Kind == Null {
			if c.NotNull {
				return fmt.Errorf("NULL in NOT NULL column %s.%s", t.Name, c.Name)
			}
			continue
		}
		if t.Strict && !strictAccepts(c.Type, v.Kind) {
			return fmt.Errorf("%v value in %s column %s.%s", v.Kind, c.Type, t.Name, c.Name)
		}
	}
	return nil
}

// strictAccepts reports whether a STRICT column of type typ holds values
// of class k. SQLite stores a REAL column's whole numbers as integers.
func strictAccepts(typ string, k Kind) bool {
	switch typ {
	case "INT", "INTEGER":
		return k == Integer
	case "REAL":
		return k == Float || k == Integer
	case "TEXT":
		return k == Text
	case "BLOB":
		return k == Blob
	}
	return true // ANY
}

// Row is a row salvaged into its table.
type Row struct {
	Table    *Table
	RowID    int64    // the rowid (rowid tables)
	Values   []Value  // the record's fields; they alias the reader's memory only during the Sink call
	Page     uint32   // the leaf it was read from
	Overflow []uint32 // the overflow pages its payload was read from, in order
	// CellStart and CellEnd are the bytes of its cell on the leaf (rows of
	// the b-tree only).
	CellStart, CellEnd int
	Orphan             bool // read from an orphaned leaf, attributed to Table by its shape
}

// Lost is a row, or what could be read of one, that cannot be given to a
// table as genuine.
type Lost struct {
	Page     uint32 // the page it was read from
	Cell     int    // its cell on that page
	Table    string // the table whose b-tree held it; "" for an orphan no single table claims
	RowID    int64  // its rowid, when HasRowID
	HasRowID bool
	Reason   string  // why it is not in its table
	Values   []Value // what could be read; they alias the reader's memory only during the Sink call
}

// Sink receives what a salvage finds. An error from it stops the salvage.
type Sink interface {
	Row(Row) error
	Lost(Lost) error
}

// SchemaEntry is a row of the damaged file's sqlite_schema.
type SchemaEntry struct {
	Type     string // table, index, view or trigger
	Name     string
	TblName  string
	RootPage int64
	SQL      string // "" for the automatic indexes of constraints
}

// schemaTable is sqlite_schema's shape.
var schemaTable = &Table{
	Name: "sqlite_schema",
	Root: 1,
	Columns: []Column{
		{Name: "type", Type: "TEXT"}, {Name: "name", Type: "TEXT"}, {Name: "tbl_name", Type: "TEXT"},
		{Name: "rootpage", Type: "INT"}, {Name: "sql", Type: "TEXT"},
	},
	Check: func(_ int64, vals []Value) error {
		if _, ok := schemaEntry(vals); !ok {
			return fmt.Errorf("not a schema entry")
		}
		return nil
	},
}

// schemaEntry reads a record of sqlite_schema.
func schemaEntry(vals []Value) (SchemaEntry, bool) {
	if len(vals) != 5 || vals[0].Kind != Text || vals[1].Kind != Text || vals[2].Kind != Text ||
		vals[3].Kind != Integer || (vals[4].Kind != Text && vals[4].Kind != Null) {
		return SchemaEntry{}, false
	}
	e := SchemaEntry{Type: string(vals[0].Bytes), Name: string(vals[1].Bytes), TblName: string(vals[2].Bytes),
		RootPage: vals[3].Int, SQL: string(vals[4].Bytes)}
	switch e.Type {
	case "table", "index", "view", "trigger":
		return e, true
	}
	return SchemaEntry{}, false
}

// Schema reads sqlite_schema: its b-tree from page 1, and when that is
// damaged, orphaned leaves that hold schema entries and nothing else. It
// reads the freelist first. complete is false when part of the schema's
// b-tree could not be read. Rows of the schema that cannot be read are kept
// and given to the Sink of [Reader.Tables] as lost.
func (r *Reader) Schema(ctx context.Context) (entries []SchemaEntry, complete bool, err error) {
	r.readFreelist()
	c := &collector{}
	tr := &tree{t: schemaTable}
	w := &walker{r: r, ctx: ctx, tr: tr, sink: c}
	if err := w.walk(1, allKeys, 0); err != nil {
		return nil, false, err
	}
	slices.Sort(tr.rowids)
	tr.sortHoles()
	r.schemaTree = tr
	if !tr.intact() {
		r.notef("the schema's b-tree is damaged: schema entries are looked for on orphaned pages")
		if err := r.orphans(ctx, []*tree{tr}, c, false); err != nil {
			return nil, false, err
		}
	}
	for _, row := range c.rows {
		if e, ok := schemaEntry(row.Values); ok {
			entries = append(entries, e)
		}
	}
	r.pendingLost = append(r.pendingLost, c.lost...)
	return entries, tr.intact() && len(c.lost) == 0, nil
}

// collector is a Sink that keeps copies of everything.
type collector struct {
	rows []Row
	lost []Lost
}

func (c *collector) Row(row Row) error {
	row.Values = cloneValues(row.Values)
	row.Overflow = slices.Clone(row.Overflow)
	c.rows = append(c.rows, row)
	return nil
}

func (c *collector) Lost(l Lost) error {
	l.Values = cloneValues(l.Values)
	c.lost = append(c.lost, l)
	return nil
}

func cloneValues(vals []Value) []Value {
	out := make([]Value, len(vals))
	for i, v := range vals {
		if v.Bytes != nil {
			v.Bytes = append([]byte(nil), v.Bytes...)
		}
		out[i] = v
	}
	return out
}

// TableResult is what [Reader.Tables] found for one table.
type TableResult struct {
	Table      *Table
	Rows       int  // rows from its b-tree
	Orphans    int  // rows from orphaned leaves attributed to it
	Intact     bool // its b-tree was read whole from its root
	RootLost   bool // its root page is unknown
	HolesCount int  // subtrees that could not be read
}

// Tables salvages the rows of tables: first each table's b-tree from its
// root, streaming rows to sink, then the orphaned table leaves — pages of
// table b-tree type that no tree reached and that are not free — each
// attributed to the one table whose shape, Check and missing key ranges
// fit all of its rows. A leaf that fits only tables whose b-trees are
// intact holds old copies (stale); one that fits none, or more than one, is
// given to sink as lost rows. Of a row found both in a b-tree and on an
// orphaned leaf, the b-tree's version is kept; a row found on two orphaned
// leaves in different versions is lost. Call [Reader.Schema] first.
func (r *Reader) Tables(ctx context.Context, tables []*Table, sink Sink) ([]TableResult, error) {
	for _, l := range r.pendingLost {
		if err := sink.Lost(l); err != nil {
			return nil, err
		}
	}
	r.pendingLost = nil
	trees := make([]*tree, len(tables))
	for i, t := range tables {
		tr := &tree{t: t}
		trees[i] = tr
		if t.Root == 0 {
			tr.holes = append(tr.holes, allKeys)
			continue
		}
		w := &walker{r: r, ctx: ctx, tr: tr, sink: sink}
		if err := w.walk(t.Root, allKeys, 0); err != nil {
			return nil, err
		}
		slices.Sort(tr.rowids)
		tr.sortHoles()
	}
	var rowTrees []*tree
	for _, tr := range trees {
		if !tr.t.WithoutRowID {
			rowTrees = append(rowTrees, tr)
		}
	}
	c := &collector{}
	if err := r.orphans(ctx, rowTrees, c, true); err != nil {
		return nil, err
	}
	orphanRows := map[*tree]int{}
	for _, row := range dedupeOrphans(c.rows, c) {
		for _, tr := range trees {
			if tr.t == row.Table {
				orphanRows[tr]++
			}
		}
		if err := sink.Row(row); err != nil {
			return nil, err
		}
	}
	for _, l := range c.lost {
		if err := sink.Lost(l); err != nil {
			return nil, err
		}
	}
	results := make([]TableResult, len(trees))
	for i, tr := range trees {
		results[i] = TableResult{Table: tr.t, Rows: tr.rows, Orphans: orphanRows[tr], Intact: tr.intact(),
			RootLost: tr.t.Root == 0, HolesCount: len(tr.holes)}
	}
	return results, nil
}

// dedupeOrphans returns the orphaned rows to give to their tables: one of
// each (table, rowid), and none of those found in different versions, which
// go to c's lost rows instead.
func dedupeOrphans(rows []Row, c *collector) []Row {
	type key struct {
		t     *Table
		rowid int64
	}
	byKey := map[key][]Row{}
	var order []key
	for _, row := range rows {
		k := key{row.Table, row.RowID}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], row)
	}
	var out []Row
	for _, k := range order {
		versions := byKey[k]
		same := true
		for _, v := range versions[1:] {
			same = same && slices.EqualFunc(v.Values, versions[0].Values, Value.Equal)
		}
		if same {
			out = append(out, versions[0])
			continue
		}
		pages := make([]string, len(versions))
		for i, v := range versions {
			pages[i] = fmt.Sprint(v.Page)
		}
		for _, v := range versions {
			c.lost = append(c.lost, Lost{Page: v.Page, Table: k.t.Name, RowID: k.rowid, HasRowID: true,
				Reason: fmt.Sprintf("row %d of %s is on orphaned pages %s in different versions", k.rowid, k.t.Name, strings.Join(pages, ", ")),
				Values: v.Values})
		}
	}
	return out
}

// orphanRow is a row read from an orphaned leaf.
type orphanRow struct {
	cell     int
	rowid    int64
	vals     []Value
	overflow []uint32
}

// orphans reads the table leaves that no tree reached and that are not
// free, and attributes each to one of trees (see Tables). With final, every
// such page is claimed and what is not attributed is lost or stale; without
// (the schema pass), only pages attributed are claimed and the rest are
// left for the final pass.
func (r *Reader) orphans(ctx context.Context, trees []*tree, c *collector, final bool) error {
	buf := make([]byte, r.pageSize)
	for pgno := uint32(2); pgno <= r.nPages; pgno++ {
		if pgno%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if r.role[pgno] != roleNone || !r.readPage(pgno, buf) || buf[0] != typeTableLeaf {
			continue
		}
		p, err := parsePage(buf, 0, r.usable, false)
		if err != nil {
			continue
		}
		if err := r.orphan(pgno, p, trees, c, final); err != nil {
			return err
		}
	}
	return nil
}

// orphan attributes the orphaned leaf p.
func (r *Reader) orphan(pgno uint32, p *page, trees []*tree, c *collector, final bool) error {
	// Read the rows without claiming overflow pages: the page may not be
	// attributed in this pass.
	r.claimLog = r.claimLog[:0]
	defer func() { r.claimLog = r.claimLog[:0] }()
	var rows []orphanRow
	var bad []Lost
	for i := range p.cells {
		cl, err := p.cell(i)
		if err != nil {
			if final {
				r.stats.CellsDamaged++
			}
			continue
		}
		payload, err := r.payload(cl)
		if err != nil {
			bad = append(bad, Lost{Page: pgno, Cell: i, RowID: cl.rowid, HasRowID: true, Reason: err.Error(),
				Values: cloneValues(decodePartial(payload, cl.payload, r.enc))})
			continue
		}
		vals, err := decodeRecord(payload, r.enc)
		if err != nil {
			bad = append(bad, Lost{Page: pgno, Cell: i, RowID: cl.rowid, HasRowID: true, Reason: err.Error(),
				Values: cloneValues(rawValues(payload, cl.payload, r.enc))})
			continue
		}
		rows = append(rows, orphanRow{cell: i, rowid: cl.rowid, vals: cloneValues(vals), overflow: slices.Clone(r.chain)})
	}
	if len(rows) == 0 && len(bad) == 0 {
		r.restoreClaims()
		return nil
	}
	// A record with fewer fields than a table has columns fits it only as
	// a row written before columns were added: a table that fits every
	// record whole is taken first, and only when none does are such tables
	// considered.
	var fit, shapeOnly []*tree
	for _, whole := range []bool{true, false} {
		for _, tr := range trees {
			if !shapeFits(tr.t, rows, whole) {
				continue
			}
			inHoles := true
			for _, row := range rows {
				inHoles = inHoles && tr.inHoles(row.rowid)
			}
			if !inHoles {
				shapeOnly = append(shapeOnly, tr)
				continue
			}
			if tr.t.Check != nil && !checkFits(tr.t, rows) {
				continue
			}
			fit = append(fit, tr)
		}
		if len(fit) > 0 || len(shapeOnly) > 0 {
			break
		}
	}
	if !final && len(fit) != 1 {
		r.restoreClaims()
		return nil
	}
	r.role[pgno] = roleOrphan
	r.stats.PagesOrphaned++
	switch {
	case len(fit) == 1 && len(rows) > 0:
		tr := fit[0]
		for _, row := range rows {
			if tr.hasRowID(row.rowid) {
				r.stats.RowsStale++ // the b-tree's version wins
				continue
			}
			c.rows = append(c.rows, Row{Table: tr.t, RowID: row.rowid, Values: row.vals, Page: pgno, Overflow: row.overflow, Orphan: true})
		}
		for i := range bad {
			bad[i].Table = tr.t.Name
		}
	case len(fit) == 0 && len(shapeOnly) > 0 && len(rows) > 0:
		// Old copies: every table they fit was read whole where their
		// keys are.
		r.stats.PagesStale++
		r.stats.RowsStale += len(rows)
	default:
		reason := "orphaned page fits no table"
		if len(fit) > 1 {
			names := make([]string, len(fit))
			for i, tr := range fit {
				names[i] = tr.t.Name
			}
			reason = "orphaned page fits tables " + strings.Join(names, ", ")
		}
		for _, row := range rows {
			c.lost = append(c.lost, Lost{Page: pgno, Cell: row.cell, RowID: row.rowid, HasRowID: true, Reason: reason, Values: row.vals})
		}
	}
	c.lost = append(c.lost, bad...)
	return nil
}

// shapeFits reports whether every row fits t (with whole, every row has a
// field for each of t's columns).
func shapeFits(t *Table, rows []orphanRow, whole bool) bool {
	for _, row := range rows {
		if (whole && len(row.vals) != len(t.Columns)) || t.fits(row.rowid, row.vals) != nil {
			return false
		}
	}
	return true
}

func checkFits(t *Table, rows []orphanRow) bool {
	for _, row := range rows {
		if t.Check(row.rowid, row.vals) != nil {
			return false
		}
	}
	return true
}

// restoreClaims gives back the overflow pages claimed since claimLog was
// started: the page whose payloads claimed them was not attributed.
func (r *Reader) restoreClaims() {
	for _, p := range r.claimLog {
		r.role[p] = roleNone
	}
	r.claimLog = r.claimLog[:0]
}
