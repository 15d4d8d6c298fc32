package salvage

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// magic starts every SQLite database file.
const magic = "SQLite format 3\x00"

// header is what the 100-byte database header says, each field only as far
// as it is plausible.
type header struct {
	magicOK    bool
	pageSize   int    // 0 when not a valid page size
	reserved   int    // -1 when not plausible
	dbSize     uint32 // the in-header page count; 0 when not valid
	freeTrunk  uint32 // first freelist trunk page
	freeCount  uint32 // pages on the freelist
	encoding   byte   // 0 when not 1, 2 or 3
	autoVacuum bool
}

// readHeader reads the header of the database file. A short or zeroed
// header gives zero fields; nothing here fails.
func readHeader(db io.ReaderAt, size int64) header {
	var b [100]byte
	h := header{reserved: -1}
	if size < int64(len(b)) {
		return h
	}
	if n, _ := db.ReadAt(b[:], 0); n != len(b) {
		return h
	}
	h.magicOK = string(b[:16]) == magic
	if ps := pageSizeField(binary.BigEndian.Uint16(b[16:])); ps != 0 {
		h.pageSize = ps
	}
	if r := int(b[20]); h.pageSize != 0 && h.pageSize-r >= 480 {
		h.reserved = r
	}
	// The in-header size is valid only when the change counter matches
	// the version-valid-for number, as SQLite checks.
	if change, valid := binary.BigEndian.Uint32(b[24:]), binary.BigEndian.Uint32(b[92:]); change == valid && change != 0 {
		h.dbSize = binary.BigEndian.Uint32(b[28:])
	}
	h.freeTrunk = binary.BigEndian.Uint32(b[32:])
	h.freeCount = binary.BigEndian.Uint32(b[36:])
	if e := binary.BigEndian.Uint32(b[56:]); e >= 1 && e <= 3 {
		h.encoding = byte(e)
	}
	h.autoVacuum = binary.BigEndian.Uint32(b[52:]) != 0
	return h
}

// pageSizeField decodes the page size field (1 means 65536) and returns 0
// when it is not a power of two from 512 to 65536.
func pageSizeField(v uint16) int {
	ps := int(v)
	if v == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return 0
	}
	return ps
}

// geometry settles the page size and the reserved bytes per page: the WAL's
// page size when the WAL header's checksum holds, else the one under which
// the most sampled pages are sound b-tree pages, the header's winning ties;
// and the page count of the image.
func (r *Reader) geometry(ctx context.Context) error {
	h := r.header
	if !h.magicOK {
		r.notef("the database header is damaged (no SQLite magic string): page size, encoding and freelist are guessed")
	}
	sizes := []int{}
	if r.wal.pageSize != 0 {
		sizes = append(sizes, r.wal.pageSize)
	} else {
		for ps := 512; ps <= 65536; ps *= 2 {
			sizes = append(sizes, ps)
		}
	}
	reserves := []int{0, 8, 12, 16, 32, 64}
	if h.reserved > 0 {
		reserves = append([]int{h.reserved}, reserves...)
	}
	bestScore, bestPS, bestRes := -1, 0, 0
	for _, ps := range sizes {
		for _, res := range reserves {
			if ps-res < 480 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			score := r.score(ps, res)
			preferred := ps == h.pageSize && res == max(h.reserved, 0)
			if score > bestScore || (score == bestScore && preferred) {
				bestScore, bestPS, bestRes = score, ps, res
			}
		}
	}
	if bestScore <= 0 {
		if r.wal.pageSize == 0 && h.pageSize == 0 {
			return ErrNotDatabase
		}
		// Nothing sampled is a sound page, but the header or WAL says what
		// the size is: read what can be read with it.
		bestPS = max(r.wal.pageSize, h.pageSize)
		bestRes = max(h.reserved, 0)
	}
	if h.pageSize != 0 && bestPS != h.pageSize {
		r.notef("the header's page size %d is wrong: %d fits the pages", h.pageSize, bestPS)
	} else if h.pageSize == 0 {
		r.notef("the header's page size is damaged: %d fits the pages", bestPS)
	}
	if h.reserved >= 0 && bestRes != h.reserved {
		r.notef("the header's reserved bytes per page (%d) are wrong: %d fits the pages", h.reserved, bestRes)
	}
	r.pageSize, r.usable = bestPS, bestPS-bestRes
	if r.wal.pageSize != 0 && r.wal.pageSize != r.pageSize {
		r.notef("the WAL's page size %d differs from the database's %d: the WAL is ignored", r.wal.pageSize, r.pageSize)
		r.stats.WALIgnored += r.wal.frames
		r.wal = &walIndex{}
	}
	r.enc = h.encoding
	if r.enc == 0 {
		r.enc = 1 // UTF-8 until the schema says otherwise (see guessEncoding)
	}
	r.dbPages = uint32(min(r.in.DBSize/int64(r.pageSize), maxPages))
	if r.in.DBSize%int64(r.pageSize) != 0 {
		r.notef("the database file ends in a partial page (%d bytes): it is not read", r.in.DBSize%int64(r.pageSize))
	}
	r.nPages = r.dbPages
	if r.wal.dbSize != 0 {
		// The WAL's last commit says how many pages the database has; it
		// cannot have pages that neither file holds: past the file, only
		// pages the WAL holds count.
		r.nPages = min(r.wal.dbSize, max(r.dbPages, min(r.wal.maxPage, r.dbPages+uint32(len(r.wal.pages)))))
		r.stats.WALFrames = r.wal.frames
		r.stats.WALIgnored += r.wal.ignored
		if r.wal.ignored > 0 {
			r.notef("the WAL has %d frames after its last valid commit: they are ignored, as SQLite would", r.wal.ignored)
		}
	} else if r.wal.ignored > 0 {
		r.stats.WALIgnored += r.wal.ignored
		r.notef("the WAL has no valid commit: its %d frames are ignored, as SQLite would", r.wal.ignored)
	}
	if h.dbSize > r.nPages && h.magicOK && r.wal.dbSize == 0 {
		r.notef("the database file has %d pages of the %d its header counts: it was truncated", r.nPages, h.dbSize)
		r.stats.PagesMissing += int(h.dbSize - r.nPages)
	}
	return nil
}

// score counts the pages, of up to 256 sampled across the file, that are
// sound b-tree pages when the page size is ps with res reserved bytes.
func (r *Reader) score(ps, res int) int {
	pages := r.in.DBSize / int64(ps)
	if pages == 0 {
		return 0
	}
	const samples = 256
	step := max(pages/samples, 1)
	buf := make([]byte, ps)
	n := 0
	for i := int64(0); i < pages; i += step {
		if k, _ := r.in.DB.ReadAt(buf, i*int64(ps)); k != ps {
			break
		}
		hdr := 0
		if i == 0 {
			hdr = 100
		}
		if _, err := parsePage(buf, hdr, ps-res, true); err == nil {
			n++
		}
	}
	// Page 1 of a WAL database may only be current in the WAL.
	if r.wal.pageSize == ps {
		if off, ok := r.wal.pages[1]; ok {
			if k, _ := r.in.WAL.ReadAt(buf, off); k == ps {
				if _, err := parsePage(buf, 100, ps-res, true); err == nil {
					n++
				}
			}
		}
	}
	return n
}

// String describes the geometry, for notes and tests.
func (r *Reader) String() string {
	return fmt.Sprintf("salvage: %d pages of %d bytes (%d usable)", r.nPages, r.pageSize, r.usable)
}
