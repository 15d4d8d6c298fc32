// Package salvage reads the rows out of a damaged SQLite database file, in pure
// Go, without the engine: it parses the file format itself (header, b-tree
// pages, cells, varints, records, overflow chains, the freelist and the WAL),
// so it works where SQLite refuses the file and where the engine has no
// recovery extension (the driver's Wasm build has neither dbpage nor
// sqlite3_recover).
//
// # Files
//
//	salvage.go   the Reader: Input, Open, reading pages, Stats, limits
//	header.go    the database header and the page-size guess
//	wal.go       the WAL: frames up to the last valid commit, salts and checksums
//	page.go      b-tree pages: headers, cell pointers, cells, space accounting
//	record.go    varints, records and Values
//	payload.go   payloads and their overflow chains
//	freelist.go  the freelist
//	walk.go      walking a table's b-tree from its root, with holes where it is damaged
//	tables.go    the schema, the tables, orphaned leaves and their attribution
//
// # Trust
//
// Nothing read from the file is trusted: every page number is checked
// against the file, every page is read at most once per role (a visited set
// stops loops), every length is checked against what is there before
// anything is allocated from it, and recursion is bounded. Memory and time
// grow with the size of the input, never with a number read from it.
//
// A row is given to its table only when it can be verified whole: its cell
// and overflow chain are intact, its record decodes exactly, and it fits the
// table (see [Table]). Anything else is reported as a [Lost] row, with the
// values that could be read, so that the caller keeps it somewhere rather
// than losing it or passing it off as genuine.
package salvage

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Input is a damaged database and its WAL as page sources. A decrypting
// reader can stand in for the files: only ReadAt is used, and only within
// the sizes given.
type Input struct {
	DB     io.ReaderAt // the database file
	DBSize int64       // its size in bytes

	WAL     io.ReaderAt // the -wal file; nil when there is none
	WALSize int64       // its size in bytes
}

// ErrNotDatabase is returned by [Open] when nothing in the input looks like
// an SQLite database: no page size makes any page a b-tree page.
var ErrNotDatabase = errors.New("salvage: no SQLite pages found")

// Limits, from SQLite's own: a record has at most this many fields
// (SQLITE_MAX_COLUMN's ceiling) and a value at most this many bytes
// (SQLITE_MAX_LENGTH's default); a b-tree is at most this deep (SQLite
// gives up at 20; a little slack for odd pages).
const (
	maxFields    = 32767
	maxPayload   = 1_000_000_000
	maxTreeDepth = 40
	maxPages     = 1<<31 - 1 // so that page loops never wrap
)

// lockBytePage returns the page that holds the lock byte at 1 GiB, which
// SQLite never uses, for page size ps.
func lockBytePage(ps int) uint32 { return uint32(1<<30/ps) + 1 }

// Reader reads pages of one damaged database. It is not safe for
// concurrent use.
type Reader struct {
	in       Input
	pageSize int    // bytes per page
	usable   int    // bytes per page that b-tree content may use (pageSize - reserved)
	nPages   uint32 // pages in the database image (file and WAL)
	dbPages  uint32 // whole pages in the database file
	enc      byte   // text encoding: 1 UTF-8, 2 UTF-16le, 3 UTF-16be
	header   header
	wal      *walIndex

	role     []role   // what each page was found to be, by page number
	claimLog []uint32 // overflow pages claimed while an orphan is judged (see Reader.orphan)
	chain    []uint32 // the overflow pages of the last payload read

	schemaTree  *tree  // sqlite_schema's, once Schema has run
	pendingLost []Lost // lost rows of the schema, given to the Sink of Tables
	stats       Stats
	notes       []string
}

// role is what a page has been claimed as.
type role uint8

const (
	roleNone     role = iota
	roleTree          // a page of a b-tree reached from a root
	roleOverflow      // an overflow page of a payload
	roleFree          // on the freelist
	roleSpecial       // page 1's header, the lock-byte page, a pointer-map page
	roleOrphan        // a table leaf no tree reached, attributed or reported
)

// Stats counts what a salvage found.
type Stats struct {
	PageSize      int    // the page size used (read from the header or guessed)
	Pages         uint32 // pages in the database image
	PagesRead     int    // page reads that returned a whole page
	PagesMissing  int    // pages referenced but beyond the end of the file
	PagesDamaged  int    // pages a tree pointed to that were not what the tree needs, or broke its rules
	PagesOrphaned int    // table leaves no tree reached (not free)
	PagesStale    int    // orphaned leaves that only repeat or predate rows of an intact table
	PagesFree     int    // pages on a verified freelist
	CellsDamaged  int    // cells of table leaves that could not be read at all
	RowsStale     int    // rows of stale pages, and orphaned copies of rows the b-tree had
	WALFrames     int    // valid WAL frames applied (up to the last commit)
	WALIgnored    int    // WAL frames after the last valid commit, or not valid
}

// Open reads the header of in, guesses and verifies the page geometry
// (page size, reserved bytes) where the header is damaged, and indexes the
// WAL's committed frames. It reads the database lazily after that.
func Open(ctx context.Context, in Input) (*Reader, error) {
	if in.DB == nil || in.DBSize < 0 || in.WALSize < 0 {
		return nil, fmt.Errorf("salvage: invalid input")
	}
	if in.WAL == nil {
		in.WALSize = 0
	}
	r := &Reader{in: in}
	r.header = readHeader(in.DB, in.DBSize)
	r.wal = readWAL(in.WAL, in.WALSize)
	if err := r.geometry(ctx); err != nil {
		return nil, err
	}
	r.stats.PageSize = r.pageSize
	r.stats.Pages = r.nPages
	r.role = make([]role, r.nPages+1)
	r.role[0] = roleSpecial
	if lb := lockBytePage(r.pageSize); lb <= r.nPages {
		r.role[lb] = roleSpecial
	}
	r.markPointerMaps()
	return r, nil
}

// PageSize returns the page size in use.
func (r *Reader) PageSize() int { return r.pageSize }

// Pages returns the number of pages in the database image.
func (r *Reader) Pages() uint32 { return r.nPages }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Notes returns what the reader noticed about the file as a whole (a
// damaged header, a guessed page size, a freelist it could not follow, a
// WAL it ignored), one sentence each.
func (r *Reader) Notes() []string { return append([]string(nil), r.notes...) }

func (r *Reader) notef(format string, args ...any) {
	if len(r.notes) < 100 {
		r.notes = append(r.notes, fmt.Sprintf(format, args...))
	}
}

// readPage reads page pgno into buf (len pageSize): from the WAL when it
// holds a committed version, else from the database file. It reports false
// for a page number out of range or a page the file does not hold whole.
func (r *Reader) readPage(pgno uint32, buf []byte) bool {
	if pgno < 1 || pgno > r.nPages {
		return false
	}
	if off, ok := r.wal.pages[pgno]; ok {
		if n, _ := r.in.WAL.ReadAt(buf, off); n == len(buf) {
			r.stats.PagesRead++
			return true
		}
		return false
	}
	off := int64(pgno-1) * int64(r.pageSize)
	if off+int64(r.pageSize) > r.in.DBSize {
		r.stats.PagesMissing++
		return false
	}
	if n, _ := r.in.DB.ReadAt(buf, off); n != len(buf) {
		r.stats.PagesMissing++
		return false
	}
	r.stats.PagesRead++
	return true
}

// markPointerMaps claims the pointer-map pages of an auto-vacuum database,
// which hold no rows (and whose first byte can look like a b-tree page's).
func (r *Reader) markPointerMaps() {
	if !r.header.autoVacuum {
		return
	}
	step := uint32(r.usable/5 + 1)
	for p := uint32(2); p <= r.nPages; p += step {
		r.role[p] = roleSpecial
		if p+step < p {
			break
		}
	}
}
