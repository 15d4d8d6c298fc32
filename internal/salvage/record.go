package salvage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// getVarint decodes SQLite's big-endian variable-length integer at the
// start of b (1 to 9 bytes; the ninth byte contributes all 8 bits). n is 0
// when b ends first.
func getVarint(b []byte) (v uint64, n int) {
	for i := 0; i < 8; i++ {
		if i >= len(b) {
			return 0, 0
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	if len(b) < 9 {
		return 0, 0
	}
	return v<<8 | uint64(b[8]), 9
}

// Kind is the storage class of a [Value].
type Kind uint8

// The storage classes of SQLite.
const (
	Null Kind = iota
	Integer
	Float
	Text
	Blob
)

// String returns the class's SQL name.
func (k Kind) String() string {
	switch k {
	case Null:
		return "NULL"
	case Integer:
		return "INTEGER"
	case Float:
		return "REAL"
	case Text:
		return "TEXT"
	case Blob:
		return "BLOB"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is one field of a record.
type Value struct {
	Kind  Kind
	Int   int64   // Integer
	Float float64 // Float
	Bytes []byte  // Text (always UTF-8) and Blob
}

// Any returns the value as database/sql takes it: nil, int64, float64,
// string or []byte.
func (v Value) Any() any {
	switch v.Kind {
	case Integer:
		return v.Int
	case Float:
		return v.Float
	case Text:
		return string(v.Bytes)
	case Blob:
		return v.Bytes
	}
	return nil
}

// String formats the value for messages.
func (v Value) String() string {
	switch v.Kind {
	case Integer:
		return fmt.Sprint(v.Int)
	case Float:
		return fmt.Sprint(v.Float)
	case Text:
		return fmt.Sprintf("%q", v.Bytes)
	case Blob:
		return fmt.Sprintf("x'%x'", v.Bytes)
	}
	return "NULL"
}

// Equal reports whether v and w are the same value of the same class.
func (v Value) Equal(w Value) bool {
	return v.Kind == w.Kind && v.Int == w.Int &&
		(v.Float == w.Float || (math.IsNaN(v.Float) && math.IsNaN(w.Float))) &&
		bytes.Equal(v.Bytes, w.Bytes)
}

// errRecord reports a payload that is not a sound record.
var errRecord = errors.New("malformed record")

// serialSize returns the size of the body of a value of serial type t, and
// false for the reserved types 10 and 11.
func serialSize(t uint64) (uint64, bool) {
	switch {
	case t <= 4:
		return t, true
	case t == 5:
		return 6, true
	case t == 6 || t == 7:
		return 8, true
	case t == 8 || t == 9:
		return 0, true
	case t == 10 || t == 11:
		return 0, false
	}
	return (t - 12) / 2, true
}

// decodeRecord decodes a whole record. It is strict: the header must end
// exactly where its size says, the body exactly at the end of the payload,
// no serial type may be reserved, a real may not be NaN (SQLite stores
// none), and text must be valid in enc and hold no NUL (a zeroed page
// reads as NULs). Text comes back as UTF-8. The values' bytes alias
// payload.
func decodeRecord(payload []byte, enc byte) ([]Value, error) {
	vals, err := decodeValues(payload, uint64(len(payload)), enc, true)
	if err != nil {
		return nil, err
	}
	return vals, nil
}

// decodePartial decodes what it can of a record whose payload should be
// total bytes but of which only payload was read: the values whose bytes
// are all there, the one cut short as a prefix (text that is no longer
// valid as a blob), then NULLs. It is for rows that are kept as lost; nil
// when not even the header can be read.
func decodePartial(payload []byte, total uint64, enc byte) []Value {
	vals, _ := decodeValues(payload, total, enc, false)
	return vals
}

func decodeValues(payload []byte, total uint64, enc byte, strict bool) ([]Value, error) {
	hsize, n := getVarint(payload)
	if n == 0 || hsize < uint64(n) || hsize > total || hsize > uint64(len(payload)) {
		return nil, fmt.Errorf("%w: header size %d of %d bytes", errRecord, hsize, total)
	}
	types := make([]uint64, 0, min(int(hsize), 64))
	body := hsize
	for i := uint64(n); i < hsize; {
		t, k := getVarint(payload[i:hsize])
		if k == 0 {
			return nil, fmt.Errorf("%w: serial type cut short", errRecord)
		}
		size, ok := serialSize(t)
		if !ok {
			return nil, fmt.Errorf("%w: reserved serial type %d", errRecord, t)
		}
		if len(types) == maxFields {
			return nil, fmt.Errorf("%w: more than %d fields", errRecord, maxFields)
		}
		types = append(types, t)
		body += size
		i += uint64(k)
		if body > total {
			return nil, fmt.Errorf("%w: fields of %d bytes in a payload of %d", errRecord, body, total)
		}
	}
	if body != total {
		return nil, fmt.Errorf("%w: fields of %d bytes in a payload of %d", errRecord, body, total)
	}
	vals := make([]Value, len(types))
	off := hsize
	for i, t := range types {
		size, _ := serialSize(t)
		end := off + size
		if end > uint64(len(payload)) {
			// Only in a partial decode: the payload was cut short here.
			if off < uint64(len(payload)) {
				vals[i] = Value{Kind: Blob, Bytes: payload[off:]}
			}
			return vals, nil
		}
		v, err := decodeValue(t, payload[off:end], enc)
		if err != nil {
			if strict {
				return nil, fmt.Errorf("field %d: %w", i, err)
			}
			v = Value{Kind: Blob, Bytes: payload[off:end]}
		}
		vals[i] = v
		off = end
	}
	return vals, nil
}

// decodeValue decodes the body b of a value of serial type t.
func decodeValue(t uint64, b []byte, enc byte) (Value, error) {
	switch {
	case t == 0:
		return Value{}, nil
	case t <= 6:
		var v int64
		if len(b) > 0 && b[0]&0x80 != 0 {
			v = -1 // sign extension
		}
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return Value{Kind: Integer, Int: v}, nil
	case t == 7:
		f := math.Float64frombits(binary.BigEndian.Uint64(b))
		if math.IsNaN(f) {
			return Value{}, fmt.Errorf("%w: NaN real", errRecord)
		}
		return Value{Kind: Float, Float: f}, nil
	case t == 8:
		return Value{Kind: Integer, Int: 0}, nil
	case t == 9:
		return Value{Kind: Integer, Int: 1}, nil
	case t%2 == 0:
		return Value{Kind: Blob, Bytes: b}, nil
	}
	text, err := decodeText(b, enc)
	if err != nil {
		return Value{}, err
	}
	return Value{Kind: Text, Bytes: text}, nil
}

// decodeText returns b, text in encoding enc, as UTF-8.
func decodeText(b []byte, enc byte) ([]byte, error) {
	if enc == 2 || enc == 3 {
		if len(b)%2 != 0 {
			return nil, fmt.Errorf("%w: UTF-16 text of odd length", errRecord)
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if enc == 2 {
				u[i] = binary.LittleEndian.Uint16(b[2*i:])
			} else {
				u[i] = binary.BigEndian.Uint16(b[2*i:])
			}
		}
		runes := utf16.Decode(u)
		out := make([]byte, 0, len(b))
		for _, r := range runes {
			if r == utf8.RuneError {
				return nil, fmt.Errorf("%w: invalid UTF-16 text", errRecord)
			}
			out = utf8.AppendRune(out, r)
		}
		b = out
	} else if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: invalid UTF-8 text", errRecord)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("%w: NUL in text", errRecord)
	}
	return b, nil
}
