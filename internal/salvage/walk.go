package salvage

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// keyRange is a range of rowids, (lo, hi]: the keys a subtree may hold, as
// its parent's cells bound them.
type keyRange struct{ lo, hi int64 }

var allKeys = keyRange{math.MinInt64, math.MaxInt64}

func (k keyRange) holds(rowid int64) bool {
	return (rowid > k.lo || k.lo == math.MinInt64) && rowid <= k.hi
}

// tree is the state of one table's salvage.
type tree struct {
	t      *Table
	holes  []keyRange // key ranges of subtrees that could not be read
	rowids []int64    // the rowids found in the b-tree (sorted after the walk)
	rows   int        // rows given to the sink from the b-tree
}

// intact reports whether the walk reached every page of the tree, so that
// the tree holds all of the table's rows and no orphaned page can add one.
func (tr *tree) intact() bool { return len(tr.holes) == 0 }

// inHoles reports whether rowid lies in a subtree that could not be read.
// The holes are sorted and merged (see sortHoles).
func (tr *tree) inHoles(rowid int64) bool {
	// The first hole that ends at or after rowid is the only one that can
	// hold it.
	i, _ := slices.BinarySearchFunc(tr.holes, rowid, func(h keyRange, r int64) int {
		if h.hi < r {
			return -1
		}
		return 1
	})
	return i < len(tr.holes) && tr.holes[i].holds(rowid)
}

// sortHoles sorts the holes and merges those that overlap or touch, so
// that inHoles is a binary search however many subtrees were lost.
func (tr *tree) sortHoles() {
	slices.SortFunc(tr.holes, func(a, b keyRange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	merged := tr.holes[:0]
	for _, h := range tr.holes {
		if n := len(merged); n > 0 && h.lo <= merged[n-1].hi {
			merged[n-1].hi = max(merged[n-1].hi, h.hi)
			continue
		}
		merged = append(merged, h)
	}
	tr.holes = merged
}

// hasRowID reports whether the b-tree held rowid (after the walk).
func (tr *tree) hasRowID(rowid int64) bool {
	_, ok := slices.BinarySearch(tr.rowids, rowid)
	return ok
}

// walker walks one tree and hands its rows to a sink.
type walker struct {
	r    *Reader
	ctx  context.Context
	tr   *tree
	sink Sink
	buf  []byte // the leaf being read; rows alias it only during Sink calls
}

// walk reads the subtree at pgno, whose keys k bounds, at depth. A page
// that cannot be this tree's — out of range, already claimed, missing, of
// the wrong type, with keys out of order, or that breaks SQLite's rules on
// an interior page — makes the subtree a hole: its keys are missing, and
// orphaned leaves may fill it (see Reader.orphans).
func (w *walker) walk(pgno uint32, k keyRange, depth int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	r := w.r
	hole := func() error {
		w.tr.holes = append(w.tr.holes, k)
		r.stats.PagesDamaged++
		return nil
	}
	if depth > maxTreeDepth || pgno < 1 || pgno > r.nPages || r.role[pgno] != roleNone {
		return hole()
	}
	data := make([]byte, r.pageSize)
	if !r.readPage(pgno, data) {
		return hole()
	}
	hdr := 0
	if pgno == 1 {
		hdr = 100
	}
	p, err := parsePage(data, hdr, r.usable, false)
	if err != nil || p.table() == w.tr.t.WithoutRowID {
		return hole()
	}
	if p.leaf() {
		return w.leaf(pgno, p, k)
	}
	if p.problem != "" {
		return hole()
	}
	// An interior page: check every cell and key before descending.
	type child struct {
		pgno uint32
		k    keyRange
	}
	children := make([]child, 0, len(p.cells)+1)
	prev := k.lo
	for i := range p.cells {
		c, err := p.cell(i)
		if err != nil {
			return hole()
		}
		if p.table() {
			if !k.holds(c.rowid) || (i > 0 && c.rowid <= prev) {
				return hole()
			}
			children = append(children, child{c.child, keyRange{prev, c.rowid}})
			prev = c.rowid
			continue
		}
		children = append(children, child{c.child, allKeys})
	}
	children = append(children, child{p.right, keyRange{prev, k.hi}})
	if !p.table() {
		// An index b-tree (a WITHOUT ROWID table): its interior cells hold
		// rows too.
		if err := w.cells(pgno, p); err != nil {
			return err
		}
	}
	r.role[pgno] = roleTree
	for _, c := range children {
		if err := w.walk(c.pgno, c.k, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// leaf reads a leaf page of the tree. A table leaf whose keys mostly fall
// outside k is not this subtree's (a pointer went astray): it is left
// unclaimed, for the orphan pass, and the subtree is a hole.
func (w *walker) leaf(pgno uint32, p *page, k keyRange) error {
	r := w.r
	if p.table() && len(p.cells) > 0 {
		in := 0
		for i := range p.cells {
			if c, err := p.cell(i); err == nil && k.holds(c.rowid) {
				in++
			}
		}
		if 2*in < len(p.cells) {
			w.tr.holes = append(w.tr.holes, k)
			r.stats.PagesDamaged++
			return nil
		}
	}
	r.role[pgno] = roleTree
	if p.problem != "" {
		r.stats.PagesDamaged++
		r.notef("page %d of table %s is damaged (%s): its rows are checked one by one", pgno, w.tr.t.Name, p.problem)
	}
	return w.cellsIn(pgno, p, k)
}

// cells hands the rows of an index b-tree page (a WITHOUT ROWID table's)
// to the sink.
func (w *walker) cells(pgno uint32, p *page) error { return w.cellsIn(pgno, p, allKeys) }

// cellsIn hands the rows of page p to the sink: a row that is sound, in
// key order and inside k, and fits the table goes to Sink.Row; anything else
// that can be read goes to Sink.Lost with the reason.
func (w *walker) cellsIn(pgno uint32, p *page, k keyRange) error {
	r, t := w.r, w.tr.t
	prev, first := int64(0), true
	overlapping := p.overlapping()
	for i := range p.cells {
		c, err := p.cell(i)
		if err != nil {
			r.stats.CellsDamaged++
			continue
		}
		hasRowID := p.table()
		if hasRowID {
			w.tr.rowids = append(w.tr.rowids, c.rowid)
		}
		lost := func(reason string, vals []Value) error {
			return w.sink.Lost(Lost{Page: pgno, Cell: i, Table: t.Name, RowID: c.rowid, HasRowID: hasRowID, Reason: reason, Values: vals})
		}
		payload, err := r.payload(c)
		if err != nil {
			if err := lost(err.Error(), decodePartial(payload, c.payload, r.enc)); err != nil {
				return err
			}
			continue
		}
		vals, err := decodeRecord(payload, r.enc)
		if err != nil {
			if err := lost(err.Error(), rawValues(payload, c.payload, r.enc)); err != nil {
				return err
			}
			continue
		}
		if overlapping[i] {
			if err := lost("cell overlaps another on a damaged page", vals); err != nil {
				return err
			}
			continue
		}
		if hasRowID {
			if !k.holds(c.rowid) || (!first && c.rowid <= prev) {
				if err := lost(fmt.Sprintf("rowid %d out of the b-tree's order", c.rowid), vals); err != nil {
					return err
				}
				continue
			}
			prev, first = c.rowid, false
		}
		if err := t.fits(c.rowid, vals); err != nil {
			if err := lost(err.Error(), vals); err != nil {
				return err
			}
			continue
		}
		w.tr.rows++
		size, _ := p.cellSize(p.cells[i])
		if err := w.sink.Row(Row{Table: t, RowID: c.rowid, Values: vals, Page: pgno, Overflow: r.chain,
			CellStart: p.cells[i], CellEnd: p.cells[i] + size}); err != nil {
			return err
		}
	}
	return nil
}

// rawValues returns the values of a record that does not decode strictly:
// what decodes leniently, or else the payload as one blob, so that a lost
// row keeps every byte that was read.
func rawValues(payload []byte, total uint64, enc byte) []Value {
	if vals := decodePartial(payload, total, enc); len(vals) > 0 {
		return vals
	}
	return []Value{{Kind: Blob, Bytes: payload}}
}
