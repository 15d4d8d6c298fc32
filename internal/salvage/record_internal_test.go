package salvage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestGetVarint(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want uint64
		n    int
	}{
		{[]byte{0x00}, 0, 1},
		{[]byte{0x7f}, 127, 1},
		{[]byte{0x81, 0x00}, 128, 2},
		{[]byte{0xff, 0x7f}, 1<<14 - 1, 2},
		{bytes.Repeat([]byte{0xff}, 9), 1<<64 - 1, 9},
		{[]byte{0x81}, 0, 0},                  // cut short
		{bytes.Repeat([]byte{0x80}, 8), 0, 0}, // cut short before the ninth byte
	} {
		got, n := getVarint(tc.in)
		if got != tc.want || n != tc.n {
			t.Errorf("getVarint(%x) = %d, %d; want %d, %d", tc.in, got, n, tc.want, tc.n)
		}
	}
}

func TestDecodeRecord(t *testing.T) {
	// Header: size 6, types NULL, int8, text of 2, blob of 1, 1.0 real.
	rec := []byte{6, 0, 1, 17, 14, 7, 0xfe, 'h', 'i', 0xab, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}
	vals, err := decodeRecord(rec, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{{}, {Kind: Integer, Int: -2}, {Kind: Text, Bytes: []byte("hi")}, {Kind: Blob, Bytes: []byte{0xab}}, {Kind: Float, Float: 1}}
	if len(vals) != len(want) {
		t.Fatalf("got %v, want %v", vals, want)
	}
	for i := range want {
		if !vals[i].Equal(want[i]) {
			t.Errorf("field %d: got %v, want %v", i, vals[i], want[i])
		}
	}
	for name, bad := range map[string][]byte{
		"body too short":  rec[:len(rec)-1],
		"body too long":   append(append([]byte{}, rec...), 0),
		"reserved type":   {2, 10},
		"header too long": {9, 1, 1},
		"NUL in text":     {2, 15, 'a', 0},
		"invalid UTF-8":   {2, 15, 0xff, 'a'},
	} {
		if _, err := decodeRecord(bad, 1); !errors.Is(err, errRecord) {
			t.Errorf("%s: got %v, want errRecord", name, err)
		}
	}
	if vals := decodePartial(rec[:9], uint64(len(rec)), 1); len(vals) != 5 || vals[2].Kind != Text || vals[3].Kind != Null {
		t.Errorf("partial: got %v, want the values before the cut and NULLs", vals)
	}
}

// TestWALCommits: frames count up to the last valid commit; a frame with a
// bad checksum ends the WAL there, as SQLite reads it.
func TestWALCommits(t *testing.T) {
	const ps = 512
	hdr := make([]byte, walHeaderSize)
	binary.BigEndian.PutUint32(hdr[0:], walMagicLE)
	binary.BigEndian.PutUint32(hdr[4:], walVersion)
	binary.BigEndian.PutUint32(hdr[8:], ps)
	binary.BigEndian.PutUint32(hdr[16:], 11)
	binary.BigEndian.PutUint32(hdr[20:], 22)
	s0, s1 := walChecksum(false, hdr[:24], 0, 0)
	binary.BigEndian.PutUint32(hdr[24:], s0)
	binary.BigEndian.PutUint32(hdr[28:], s1)
	wal := hdr
	frame := func(pgno, commit uint32) {
		f := make([]byte, walFrameHdr+ps)
		binary.BigEndian.PutUint32(f[0:], pgno)
		binary.BigEndian.PutUint32(f[4:], commit)
		binary.BigEndian.PutUint32(f[8:], 11)
		binary.BigEndian.PutUint32(f[12:], 22)
		f[walFrameHdr] = byte(pgno)
		s0, s1 = walChecksum(false, f[:8], s0, s1)
		s0, s1 = walChecksum(false, f[walFrameHdr:], s0, s1)
		binary.BigEndian.PutUint32(f[16:], s0)
		binary.BigEndian.PutUint32(f[20:], s1)
		wal = append(wal, f...)
	}
	frame(1, 0)
	frame(2, 3) // commit: 3 pages
	frame(3, 0)
	frame(2, 4) // commit: 4 pages
	frame(5, 0) // not committed
	w := readWAL(bytes.NewReader(wal), int64(len(wal)))
	if w.pageSize != ps || w.dbSize != 4 || w.frames != 4 || w.ignored != 1 || len(w.pages) != 3 {
		t.Fatalf("got page size %d, size %d, %d frames, %d ignored, pages %v", w.pageSize, w.dbSize, w.frames, w.ignored, w.pages)
	}
	if off := w.pages[2]; off != walHeaderSize+3*(walFrameHdr+ps)+walFrameHdr {
		t.Errorf("page 2 at %d, want its newest committed frame", off)
	}
	// A torn frame 4 (the second commit): only the first transaction counts.
	wal[walHeaderSize+3*(walFrameHdr+ps)+walFrameHdr+100] ^= 1
	w = readWAL(bytes.NewReader(wal), int64(len(wal)))
	if w.dbSize != 3 || w.frames != 2 {
		t.Errorf("torn: got size %d, %d frames; want 3, 2", w.dbSize, w.frames)
	}
}

// TestOverlappingIsLinear: a damaged page whose pointers all name one cell
// marks them all, without comparing every pair.
func TestOverlappingIsLinear(t *testing.T) {
	const usable = 65536
	data := make([]byte, usable)
	data[0] = typeTableLeaf
	n := (usable - 8 - 16) / 2
	binary.BigEndian.PutUint16(data[3:], uint16(n))
	binary.BigEndian.PutUint16(data[5:], usable-16)
	for i := range n {
		binary.BigEndian.PutUint16(data[8+2*i:], usable-16)
	}
	copy(data[usable-16:], []byte{3, 1, 2, 0, 1})
	p, err := parsePage(data, 0, usable, false)
	if err != nil || p.problem == "" {
		t.Fatalf("parsePage: %v, problem %q; want an unsound page", err, p.problem)
	}
	if got := len(p.overlapping()); got != n {
		t.Errorf("%d cells marked overlapping, want all %d", got, n)
	}
}
