package salvage

import (
	"encoding/binary"
	"fmt"
)

// brokenError reports a payload whose overflow chain could not be followed
// to its end; Read bytes of it were read.
type brokenError struct {
	Page uint32 // the overflow page where the chain broke
	Read int
	Want uint64
	Why  string
}

func (e *brokenError) Error() string {
	return fmt.Sprintf("overflow chain broken at page %d (%s) after %d of %d bytes", e.Page, e.Why, e.Read, e.Want)
}

// payload returns the whole payload of c: its local part followed by its
// overflow chain. Each overflow page is claimed as it is read, so no page
// serves two chains or a chain and a tree; a chain that leaves the file,
// meets a claimed page, ends early or runs on past its payload is broken,
// and then payload returns what it read with a *brokenError.
//
// The result aliases c.local when the payload is all local. r.chain holds
// the overflow pages read, until the next call.
func (r *Reader) payload(c cell) ([]byte, error) {
	r.chain = r.chain[:0]
	if c.overflow == 0 {
		return c.local, nil
	}
	if c.payload > maxPayload {
		return c.local, &brokenError{Page: c.overflow, Read: len(c.local), Want: c.payload, Why: "payload larger than SQLite allows"}
	}
	per := uint64(r.usable - 4)
	need := c.payload - uint64(len(c.local))
	if (need+per-1)/per > uint64(r.nPages) {
		return c.local, &brokenError{Page: c.overflow, Read: len(c.local), Want: c.payload, Why: "more overflow pages than the file has"}
	}
	// Grown as pages are read, so a lying size allocates nothing.
	out := make([]byte, len(c.local), min(c.payload, uint64(len(c.local))+64*per))
	copy(out, c.local)
	buf := make([]byte, r.pageSize)
	broken := func(pgno uint32, why string) ([]byte, error) {
		return out, &brokenError{Page: pgno, Read: len(out), Want: c.payload, Why: why}
	}
	for pgno := c.overflow; need > 0; {
		switch {
		case pgno < 2 || pgno > r.nPages:
			return broken(pgno, "no such page")
		case r.role[pgno] != roleNone:
			return broken(pgno, "page already in use")
		case !r.readPage(pgno, buf):
			return broken(pgno, "page missing")
		}
		next := binary.BigEndian.Uint32(buf)
		take := min(need, per)
		// Check the link before claiming the page: a pointer that went
		// astray into a b-tree page finds a "next page" there that is out
		// of range (its first byte is the page type), and must not take the
		// page from its tree.
		if take < need && (next < 2 || next > r.nPages) {
			return broken(pgno, "chain ends early")
		}
		if take == need && next != 0 {
			return broken(pgno, "chain runs on past its payload")
		}
		r.role[pgno] = roleOverflow
		r.claimLog = append(r.claimLog, pgno)
		r.chain = append(r.chain, pgno)
		out = append(out, buf[4:4+take]...)
		need -= take
		pgno = next
	}
	return out, nil
}
