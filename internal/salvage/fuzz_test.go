package salvage_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/litedir/litedir/internal/salvage"
)

// discard is a Sink that only touches what it is given.
type discard struct{ n int }

func (d *discard) Row(r salvage.Row) error {
	for _, v := range r.Values {
		d.n += len(v.Bytes)
	}
	return nil
}

func (d *discard) Lost(l salvage.Lost) error {
	for _, v := range l.Values {
		d.n += len(v.Bytes)
	}
	return nil
}

// FuzzReader feeds arbitrary bytes to the reader as a database and a WAL:
// it must never panic, and never allocate from a length it read (the
// fuzzer's memory limit catches that).
func FuzzReader(f *testing.F) {
	// A tiny database: page 1 a table leaf holding one schema entry whose
	// root is page 2, an empty table leaf.
	db := make([]byte, 1024)
	copy(db, "SQLite format 3\x00")
	binary.BigEndian.PutUint16(db[16:], 512)
	db[18], db[19] = 1, 1
	db[21], db[22], db[23] = 64, 32, 32
	binary.BigEndian.PutUint32(db[28:], 2)
	binary.BigEndian.PutUint32(db[56:], 1)
	record := []byte{6, 23, 19, 19, 1, 15, 't', 'a', 'b', 'l', 'e', 't', 't', 2, 'x', 'y'}
	cell := append([]byte{byte(len(record)), 1}, record...)
	off := 512 - len(cell)
	copy(db[off:], cell)
	db[100] = 13
	binary.BigEndian.PutUint16(db[103:], 1)
	binary.BigEndian.PutUint16(db[105:], uint16(off))
	binary.BigEndian.PutUint16(db[108:], uint16(off))
	db[512] = 13
	binary.BigEndian.PutUint16(db[512+5:], 512)
	f.Add(db, []byte(nil))
	wal := make([]byte, 32+24+512)
	binary.BigEndian.PutUint32(wal[0:], 0x377f0682)
	binary.BigEndian.PutUint32(wal[4:], 3007000)
	binary.BigEndian.PutUint32(wal[8:], 512)
	f.Add(db, wal)
	f.Add(db[:700], db[:100])
	f.Add([]byte("SQLite format 3\x00garbage"), []byte{0x37, 0x7f, 0x06, 0x83})

	tables := []*salvage.Table{
		{Name: "t", Root: 2, Columns: []salvage.Column{{Name: "a"}, {Name: "b"}}},
		{Name: "s", Strict: true, Columns: []salvage.Column{{Name: "id", Type: "INTEGER", RowIDAlias: true}, {Name: "v", Type: "TEXT", NotNull: true}}},
		{Name: "w", Root: 3, WithoutRowID: true, Columns: []salvage.Column{{Name: "k"}, {Name: "v"}}},
	}
	f.Fuzz(func(t *testing.T, db, wal []byte) {
		ctx := context.Background()
		in := salvage.Input{DB: bytes.NewReader(db), DBSize: int64(len(db))}
		if wal != nil {
			in.WAL, in.WALSize = bytes.NewReader(wal), int64(len(wal))
		}
		r, err := salvage.Open(ctx, in)
		if err != nil {
			return
		}
		if _, _, err := r.Schema(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Tables(ctx, tables, &discard{}); err != nil {
			t.Fatal(err)
		}
	})
}
