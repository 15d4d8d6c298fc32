package salvage

import "encoding/binary"

// readFreelist follows the freelist from the header: a chain of trunk pages,
// each listing leaf pages. It marks the pages free only when the whole list
// is sound — every page in range and listed once, and as many pages as the
// header counts — because free pages are skipped: their rows were deleted.
// A freelist that cannot be verified is noted and left alone; its pages then
// count as orphaned, and the rows on them are judged like any orphan's.
func (r *Reader) readFreelist() {
	h := r.header
	if !h.magicOK {
		return // the note about the header says it
	}
	if h.freeTrunk == 0 {
		if h.freeCount != 0 {
			r.notef("the header counts %d free pages but names no freelist", h.freeCount)
		}
		return
	}
	seen := map[uint32]bool{}
	var pages []uint32
	fail := func(why string) {
		r.notef("the freelist cannot be followed (%s): free pages are judged as orphans", why)
	}
	buf := make([]byte, r.pageSize)
	maxLeaves := uint32(r.usable/4 - 2)
	for trunk := h.freeTrunk; trunk != 0; {
		switch {
		case trunk < 2 || trunk > r.nPages || r.role[trunk] != roleNone:
			fail("a trunk page number is out of range")
			return
		case seen[trunk]:
			fail("its trunk pages form a loop")
			return
		case !r.readPage(trunk, buf):
			fail("a trunk page is missing")
			return
		}
		seen[trunk] = true
		pages = append(pages, trunk)
		n := binary.BigEndian.Uint32(buf[4:])
		if n > maxLeaves {
			fail("a trunk page lists more leaves than fit")
			return
		}
		for i := range n {
			leaf := binary.BigEndian.Uint32(buf[8+4*i:])
			if leaf < 2 || leaf > r.nPages || seen[leaf] || r.role[leaf] != roleNone {
				fail("a leaf page number is out of range or listed twice")
				return
			}
			seen[leaf] = true
			pages = append(pages, leaf)
		}
		if uint32(len(pages)) > r.nPages {
			fail("it lists more pages than the file has")
			return
		}
		trunk = binary.BigEndian.Uint32(buf)
	}
	if uint32(len(pages)) != h.freeCount {
		fail("it lists a different number of pages than the header counts")
		return
	}
	for _, p := range pages {
		r.role[p] = roleFree
	}
	r.stats.PagesFree = len(pages)
}
