package salvage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// B-tree page types, the first byte of a b-tree page's header.
const (
	typeIndexInterior = 2
	typeTableInterior = 5
	typeIndexLeaf     = 10
	typeTableLeaf     = 13
)

// errNotBtree reports a page that is not a b-tree page at all: a wrong type
// byte, or a cell pointer array that does not fit the page.
var errNotBtree = errors.New("not a b-tree page")

// page is a parsed b-tree page.
type page struct {
	data   []byte // the whole page
	usable int    // bytes b-tree content may use
	typ    byte
	hdr    int   // offset of the b-tree header: 100 on page 1, else 0
	cells  []int // cell offsets, in pointer-array order
	right  uint32

	// problem says why the page's space accounting does not hold (cells
	// overlapping, freeblocks out of place, bytes unaccounted for); "" for a
	// sound page. Cells of an unsound page are still read one by one.
	problem string
}

func (p *page) leaf() bool  { return p.typ == typeTableLeaf || p.typ == typeIndexLeaf }
func (p *page) table() bool { return p.typ == typeTableLeaf || p.typ == typeTableInterior }

// parsePage parses the b-tree page data, whose header starts at hdr, with
// usable bytes of content. It fails with errNotBtree when the page cannot be
// a b-tree page; a page that is one but breaks SQLite's space accounting is
// returned with problem set. With strict, such a page is an error too.
func parsePage(data []byte, hdr, usable int, strict bool) (*page, error) {
	if usable > len(data) || hdr+12 > usable {
		return nil, errNotBtree
	}
	p := &page{data: data, usable: usable, hdr: hdr, typ: data[hdr]}
	hdrLen := 8
	switch p.typ {
	case typeTableLeaf, typeIndexLeaf:
	case typeTableInterior, typeIndexInterior:
		hdrLen = 12
		p.right = binary.BigEndian.Uint32(data[hdr+8:])
	default:
		return nil, errNotBtree
	}
	n := int(binary.BigEndian.Uint16(data[hdr+3:]))
	ptrEnd := hdr + hdrLen + 2*n
	if ptrEnd > usable {
		return nil, errNotBtree
	}
	p.cells = make([]int, n)
	for i := range n {
		p.cells[i] = int(binary.BigEndian.Uint16(data[hdr+hdrLen+2*i:]))
	}
	p.problem = p.account(ptrEnd)
	if strict && p.problem != "" {
		return nil, fmt.Errorf("%w: %s", errNotBtree, p.problem)
	}
	return p, nil
}

// account checks the page's space the way SQLite's integrity check does:
// the cells and the freeblocks lie in the content area without overlapping,
// and with the fragmented bytes they cover it exactly. It returns what is
// wrong, or "".
func (p *page) account(ptrEnd int) string {
	d, hdr := p.data, p.hdr
	start := int(binary.BigEndian.Uint16(d[hdr+5:]))
	if start == 0 {
		start = 65536
	}
	if start < ptrEnd || start > p.usable {
		return fmt.Sprintf("cell content starts at %d, outside %d..%d", start, ptrEnd, p.usable)
	}
	type span struct{ from, to int }
	spans := make([]span, 0, len(p.cells)+4)
	for i, off := range p.cells {
		size, ok := p.cellSize(off)
		if !ok || off < start {
			return fmt.Sprintf("cell %d at offset %d is out of place", i, off)
		}
		spans = append(spans, span{off, off + size})
	}
	free := int(binary.BigEndian.Uint16(d[hdr+1:]))
	for n := 0; free != 0; n++ {
		if n > p.usable/4 || free < start || free+4 > p.usable {
			return fmt.Sprintf("freeblock at offset %d is out of place", free)
		}
		size := int(binary.BigEndian.Uint16(d[free+2:]))
		next := int(binary.BigEndian.Uint16(d[free:]))
		if size < 4 || free+size > p.usable || (next != 0 && next < free+size) {
			return fmt.Sprintf("freeblock at offset %d is malformed", free)
		}
		spans = append(spans, span{free, free + size})
		free = next
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	covered, end := 0, start
	for _, s := range spans {
		if s.from < end {
			return fmt.Sprintf("cells or freeblocks overlap at offset %d", s.from)
		}
		covered += s.to - s.from
		end = s.to
	}
	frag := int(d[hdr+7])
	if covered+frag != p.usable-start {
		return fmt.Sprintf("%d bytes of the content area are unaccounted for", p.usable-start-covered-frag)
	}
	return ""
}

// cellSize returns the size of the cell at off, as SQLite allocates it
// (never below 4 bytes), and false when the cell does not fit the page.
func (p *page) cellSize(off int) (int, bool) {
	d := p.data[:p.usable]
	if off < 0 || off >= len(d) {
		return 0, false
	}
	i := off
	if !p.leaf() {
		i += 4
		if p.typ == typeTableInterior {
			_, n := getVarint(d[min(i, len(d)):])
			if n == 0 || i+n > len(d) {
				return 0, false
			}
			return 4 + n, true
		}
	}
	payload, n := getVarint(d[min(i, len(d)):])
	if n == 0 {
		return 0, false
	}
	i += n
	if p.typ == typeTableLeaf {
		if _, n = getVarint(d[min(i, len(d)):]); n == 0 {
			return 0, false
		}
		i += n
	}
	local := localSize(p.typ, payload, p.usable)
	i += local
	if uint64(local) < payload {
		i += 4
	}
	size := max(i-off, 4)
	if off+size > len(d) {
		return 0, false
	}
	return size, true
}

// localSize returns how many bytes of a payload of size payload a cell of a
// page of type typ keeps on the page; the rest goes to overflow pages.
func localSize(typ byte, payload uint64, usable int) int {
	maxLocal := (usable-12)*64/255 - 23
	if typ == typeTableLeaf {
		maxLocal = usable - 35
	}
	if payload <= uint64(maxLocal) {
		return int(payload)
	}
	minLocal := (usable-12)*32/255 - 23
	k := minLocal + int((payload-uint64(minLocal))%uint64(usable-4))
	if k <= maxLocal {
		return k
	}
	return minLocal
}

// cell is one parsed cell of a page.
type cell struct {
	child    uint32 // interior pages: the left child
	rowid    int64  // table pages: the key
	payload  uint64 // the payload's whole size (0 on table interior pages)
	local    []byte // the part of the payload on the page
	overflow uint32 // the first overflow page; 0 when the payload is all local
}

// cell parses cell i. It fails when the cell does not fit the page.
func (p *page) cell(i int) (cell, error) {
	off := p.cells[i]
	if _, ok := p.cellSize(off); !ok {
		return cell{}, fmt.Errorf("cell %d at offset %d does not fit the page", i, off)
	}
	d := p.data[:p.usable]
	var c cell
	j := off
	if !p.leaf() {
		c.child = binary.BigEndian.Uint32(d[j:])
		j += 4
	}
	if p.typ == typeTableInterior {
		v, _ := getVarint(d[j:])
		c.rowid = int64(v)
		return c, nil
	}
	v, n := getVarint(d[j:])
	c.payload = v
	j += n
	if p.typ == typeTableLeaf {
		v, n = getVarint(d[j:])
		c.rowid = int64(v)
		j += n
	}
	local := localSize(p.typ, c.payload, p.usable)
	c.local = d[j : j+local]
	if uint64(local) < c.payload {
		c.overflow = binary.BigEndian.Uint32(d[j+local:])
	}
	return c, nil
}

// overlapping marks the cells of an unsound page that overlap another cell,
// or the page's header and cell pointers: where a damaged pointer or size
// makes two cells share bytes, neither can be trusted. A sound page has
// none (nil).
func (p *page) overlapping() map[int]bool {
	if p.problem == "" {
		return nil
	}
	type span struct{ i, from, to int }
	hdrLen := 8
	if !p.leaf() {
		hdrLen = 12
	}
	ptrEnd := p.hdr + hdrLen + 2*len(p.cells)
	var spans []span
	out := map[int]bool{}
	for i, off := range p.cells {
		size, ok := p.cellSize(off)
		if !ok {
			continue
		}
		if off < ptrEnd {
			out[i] = true
		}
		spans = append(spans, span{i, off, off + size})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	// One sweep: a span overlaps the spans before it when it starts before
	// the furthest end so far; it and the span with that end are marked.
	// (Linear after the sort, however many pointers a damaged page repeats.)
	far := -1
	for j, sp := range spans {
		if far >= 0 && sp.from < spans[far].to {
			out[sp.i], out[spans[far].i] = true, true
		}
		if far < 0 || sp.to > spans[far].to {
			far = j
		}
	}
	return out
}
