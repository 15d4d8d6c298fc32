package salvage

import (
	"encoding/binary"
	"io"
)

// The WAL file: a 32-byte header, then frames of a 24-byte header and one
// page each. A frame is valid while its salts match the header's and its
// checksum, which runs on from the header's through every frame before it,
// matches; a frame whose "database size" field is not zero ends a
// transaction (a commit). SQLite reads the frames of the WAL up to the last
// valid commit and ignores the rest, and so does this.
const (
	walHeaderSize = 32
	walFrameHdr   = 24
	walMagicLE    = 0x377f0682 // checksums over little-endian words
	walMagicBE    = 0x377f0683 // checksums over big-endian words
	walVersion    = 3007000
)

// walIndex is where the committed version of each page is in the WAL.
type walIndex struct {
	pageSize int              // 0 when the WAL header is missing or invalid
	pages    map[uint32]int64 // page number → offset of its newest committed frame's page data
	dbSize   uint32           // pages in the database after the last commit; 0: no commit
	maxPage  uint32           // the highest page number committed
	frames   int              // valid frames up to the last commit
	ignored  int              // frames after it, valid or not
}

// readWAL indexes the committed frames of wal (size bytes). A missing,
// short or invalid WAL gives an empty index.
func readWAL(wal io.ReaderAt, size int64) *walIndex {
	w := &walIndex{pages: map[uint32]int64{}}
	if wal == nil || size < walHeaderSize {
		return w
	}
	var h [walHeaderSize]byte
	if n, _ := wal.ReadAt(h[:], 0); n != len(h) {
		return w
	}
	magicNo := binary.BigEndian.Uint32(h[0:])
	if magicNo != walMagicLE && magicNo != walMagicBE {
		return w
	}
	bigEndian := magicNo == walMagicBE
	ps := 0
	if v := binary.BigEndian.Uint32(h[8:]); v >= 512 && v <= 65536 && v&(v-1) == 0 {
		ps = int(v)
	}
	if binary.BigEndian.Uint32(h[4:]) != walVersion || ps == 0 {
		return w
	}
	s0, s1 := walChecksum(bigEndian, h[:24], 0, 0)
	if s0 != binary.BigEndian.Uint32(h[24:]) || s1 != binary.BigEndian.Uint32(h[28:]) {
		return w
	}
	w.pageSize = ps
	salt1, salt2 := binary.BigEndian.Uint32(h[16:]), binary.BigEndian.Uint32(h[20:])

	frameSize := int64(walFrameHdr + ps)
	total := (size - walHeaderSize) / frameSize
	frame := make([]byte, frameSize)
	// The frames of the transaction being read, applied at its commit.
	pending := map[uint32]int64{}
	valid := 0
	for i := int64(0); i < total; i++ {
		off := walHeaderSize + i*frameSize
		if n, _ := wal.ReadAt(frame, off); int64(n) != frameSize {
			break
		}
		pgno := binary.BigEndian.Uint32(frame[0:])
		commit := binary.BigEndian.Uint32(frame[4:])
		if pgno == 0 || binary.BigEndian.Uint32(frame[8:]) != salt1 || binary.BigEndian.Uint32(frame[12:]) != salt2 {
			break
		}
		s0, s1 = walChecksum(bigEndian, frame[:8], s0, s1)
		s0, s1 = walChecksum(bigEndian, frame[walFrameHdr:], s0, s1)
		if s0 != binary.BigEndian.Uint32(frame[16:]) || s1 != binary.BigEndian.Uint32(frame[20:]) {
			break
		}
		valid++
		pending[pgno] = off + walFrameHdr
		if commit != 0 {
			for p, o := range pending {
				w.pages[p] = o
				w.maxPage = max(w.maxPage, p)
			}
			clear(pending)
			w.dbSize = commit
			w.frames = valid
		}
	}
	w.ignored = int(total) - w.frames
	return w
}

// walChecksum runs SQLite's WAL checksum over b (a multiple of 8 bytes) on
// from s0, s1: two sums of 32-bit words in the byte order the magic number
// names.
func walChecksum(bigEndian bool, b []byte, s0, s1 uint32) (uint32, uint32) {
	order := binary.ByteOrder(binary.LittleEndian)
	if bigEndian {
		order = binary.BigEndian
	}
	for i := 0; i+8 <= len(b); i += 8 {
		s0 += order.Uint32(b[i:]) + s1
		s1 += order.Uint32(b[i+4:]) + s0
	}
	return s0, s1
}
