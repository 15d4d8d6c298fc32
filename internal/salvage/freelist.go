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
		r.scanFreelist()
		return
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
		r.notef("the freelist cannot be followed (%s)", why)
		r.scanFreelist()
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

// scanFreelist looks for the freelist's trunk pages when the header cannot
// lead to them: pages that start with a page number in range (or 0) and a
// count of leaves, followed by that many distinct page numbers in range.
// No b-tree page reads so (its first byte, the page type, makes a page
// number beyond any file under 2^24 pages), nor a page of text. The leaves
// they list are taken as free: their rows were deleted, and must not come
// back as orphans.
func (r *Reader) scanFreelist() {
	buf := make([]byte, r.pageSize)
	maxLeaves := uint32(r.usable/4 - 2)
	var free []uint32
	for p := uint32(2); p <= r.nPages; p++ {
		if r.role[p] != roleNone || !r.readPage(p, buf) {
			continue
		}
		next, n := binary.BigEndian.Uint32(buf), binary.BigEndian.Uint32(buf[4:])
		if (next != 0 && (next < 2 || next > r.nPages)) || n == 0 || n > maxLeaves {
			continue
		}
		leaves := make([]uint32, 0, n)
		seen := map[uint32]bool{p: true}
		for i := range n {
			leaf := binary.BigEndian.Uint32(buf[8+4*i:])
			if leaf < 2 || leaf > r.nPages || seen[leaf] {
				leaves = nil
				break
			}
			seen[leaf] = true
			leaves = append(leaves, leaf)
		}
		if leaves == nil {
			continue
		}
		free = append(free, p)
		free = append(free, leaves...)
	}
	marked := 0
	for _, p := range free {
		if r.role[p] == roleNone {
			r.role[p] = roleFree
			marked++
		}
	}
	if marked > 0 {
		r.stats.PagesFree += marked
		r.notef("%d free pages found by scanning for freelist trunk pages", marked)
	}
}
