// Package cryptfile reads the files of encrypted litedir workspaces without
// SQLite, and recognises what their first block holds.
//
// An encrypted workspace is written through the driver's Adiantum VFS
// (github.com/ncruces/go-sqlite3/vfs/adiantum), whose format is simple: every
// file (database, -wal, -journal) is a sequence of 4096-byte blocks, and the
// block at byte offset off is the plaintext of the same 4096 bytes encrypted
// with Adiantum (XChaCha12, AES-256, NH and Poly1305) under the 32-byte key and
// the tweak off, as 8 little-endian bytes. Nothing else is stored: no header, no
// nonce, no MAC. A block is all or nothing: 4096 bytes that are not exactly an
// encrypted block (a torn write, a wrong key) decrypt to noise.
//
// # What is here
//
// [Cipher] decrypts one block; [Reader] is an [io.ReaderAt] over the plaintext
// of an encrypted file, for code that reads databases page by page without
// SQLite (salvaging a damaged workspace). [IsDatabaseHeader], [IsWALHeader] and
// [IsJournalHeader] recognise the start of SQLite's three kinds of files, in
// plaintext or decrypted.
//
// The format is the driver's; the tests check this package against files
// the driver's VFS wrote, so a change there fails them.
//
// The package is internal: it is no API.
package cryptfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"lukechampine.com/adiantum"
	"lukechampine.com/adiantum/hbsh"
)

const (
	// BlockSize is the unit of encryption: every encrypted file is a whole
	// number of blocks, each encrypted on its own.
	BlockSize = 4096

	// KeySize is the size of a key in bytes.
	KeySize = 32
)

// ErrKeySize reports a key that is not [KeySize] bytes long.
var ErrKeySize = errors.New("cryptfile: a key is 32 bytes")

// Cipher encrypts and decrypts blocks with one key. It is not safe for
// concurrent use.
type Cipher struct {
	h     *hbsh.HBSH
	tweak [8]byte
}

// NewCipher returns the cipher of key, which must be [KeySize] bytes. The
// cipher does not keep key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w, not %d", ErrKeySize, len(key))
	}
	return &Cipher{h: adiantum.New(key)}, nil
}

// Decrypt decrypts block, the [BlockSize] bytes at byte offset off of a
// file, in place.
func (c *Cipher) Decrypt(block []byte, off int64) {
	binary.LittleEndian.PutUint64(c.tweak[:], uint64(off))
	c.h.Decrypt(block[:BlockSize], c.tweak[:])
}

// Encrypt encrypts block, the [BlockSize] bytes at byte offset off of a
// file, in place.
func (c *Cipher) Encrypt(block []byte, off int64) {
	binary.LittleEndian.PutUint64(c.tweak[:], uint64(off))
	c.h.Encrypt(block[:BlockSize], c.tweak[:])
}

// Reader reads the plaintext of an encrypted file. It is safe for concurrent
// use, as io.ReaderAt requires.
type Reader struct {
	r    io.ReaderAt
	size int64

	mu    sync.Mutex // guards c and block
	c     *Cipher
	block [BlockSize]byte
}

// NewReader returns a Reader of the plaintext of the encrypted file r, which
// is size bytes long, with key. Only whole blocks can be decrypted: a file
// whose size is not a multiple of BlockSize (its last block torn by a crash)
// reads as if it ended at its last whole block.
func NewReader(r io.ReaderAt, size int64, key []byte) (*Reader, error) {
	c, err := NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &Reader{r: r, size: size - size%BlockSize, c: c}, nil
}

// Size returns the size of the plaintext: the file's whole blocks.
func (r *Reader) Size() int64 { return r.size }

// ReadAt reads len(p) bytes of plaintext at offset off, decrypting every
// block they touch. Past Size it returns io.EOF, with the bytes before.
func (r *Reader) ReadAt(p []byte, off int64) (n int, err error) {
	if off < 0 {
		return 0, fmt.Errorf("cryptfile: read at negative offset %d", off)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		start := pos - pos%BlockSize
		// A ReaderAt may return io.EOF with a whole last block.
		if m, err := r.r.ReadAt(r.block[:], start); m < BlockSize {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the file shrank under us
			}
			return n, err
		}
		r.c.Decrypt(r.block[:], start)
		n += copy(p[n:], r.block[pos-start:])
	}
	return n, nil
}

// The magic numbers at the start of SQLite's files
// (https://sqlite.org/fileformat2.html).
var (
	dbMagic      = []byte("SQLite format 3\x00")
	journalMagic = []byte{0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7}
)

// walMagic is the first 4 bytes of a WAL, big-endian; the last bit says
// which byte order its checksums use.
const walMagic = 0x377f0682

// IsDatabaseHeader reports whether b starts with the header of an SQLite
// database file.
func IsDatabaseHeader(b []byte) bool { return bytes.HasPrefix(b, dbMagic) }

// IsWALHeader reports whether b starts with the header of an SQLite WAL
// file: its magic number and file format version.
func IsWALHeader(b []byte) bool {
	return len(b) >= 8 && binary.BigEndian.Uint32(b)&^1 == walMagic && binary.BigEndian.Uint32(b[4:]) == 3007000
}

// IsJournalHeader reports whether b starts with the header of an SQLite
// rollback journal that holds pages.
func IsJournalHeader(b []byte) bool { return bytes.HasPrefix(b, journalMagic) }
