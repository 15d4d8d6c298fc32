package cryptfile_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
	sqlite3driver "github.com/ncruces/go-sqlite3/driver"

	"github.com/litedir/litedir/internal/cryptfile"
	"github.com/litedir/litedir/internal/fileuri"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
)

const marker = "cryptfile-plaintext-marker"

// encryptedDB writes a database through the driver's Adiantum VFS (by
// ncruces.Open with a key) and leaves it checkpointed and closed, with a
// plaintext copy made by SQLite's backup, page for page, beside it. It
// returns both paths and the key. With keepWAL, the last rows stay in the
// WAL, which is returned whole too.
func encryptedDB(t *testing.T, keepWAL bool) (enc, plain string, key []byte) {
	t.Helper()
	dir := testdir.New(t)
	enc, plain = filepath.Join(dir, "enc.db"), filepath.Join(dir, "plain.db")
	key = make([]byte, cryptfile.KeySize)
	rand.Read(key)
	k, err := ncruces.NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	pragmas, err := ncruces.MergePragmas(ncruces.DefaultPragmas(), ncruces.Pragma{Name: "wal_autocheckpoint", Value: "0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := ncruces.Open(ctx, ncruces.Config{Path: enc, Key: k, Pragmas: pragmas, Init: func(c *sqlite3.Conn) error {
		_, err := c.Config(sqlite3.DBCONFIG_NO_CKPT_ON_CLOSE, true)
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
	for i := range 300 {
		// Rows of up to 6 KiB: some spill to overflow pages.
		exec("INSERT INTO t (body) VALUES (? || ?)", marker, strings.Repeat("x", (i%13)*450))
	}
	exec("PRAGMA wal_checkpoint(TRUNCATE)")
	if keepWAL {
		for range 20 {
			exec("INSERT INTO t (body) VALUES (?)", marker)
		}
	}
	uri, err := fileuri.Format(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error { return dc.(sqlite3driver.Conn).Raw().Backup("main", uri) })
	if err != nil {
		t.Fatal(err)
	}
	return enc, plain, key
}

// TestReaderPages reads a database the driver's VFS encrypted: the
// plaintext pages are SQLite's own, page for page as SQLite's backup
// copies them, where the file itself shows none of the text.
func TestReaderPages(t *testing.T) {
	enc, plain, key := encryptedDB(t, false)
	ciphertext := testdir.ReadFile(t, enc)
	want := testdir.ReadFile(t, plain)
	if bytes.Contains(ciphertext, []byte(marker)) {
		t.Fatal("the encrypted file holds the plaintext")
	}
	r, err := cryptfile.NewReader(bytes.NewReader(ciphertext), int64(len(ciphertext)), key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != int64(len(want)) {
		t.Fatalf("Size: got %d, want %d (the plaintext copy)", r.Size(), len(want))
	}
	got := make([]byte, r.Size())
	if n, err := r.ReadAt(got, 0); n != len(got) || err != nil {
		t.Fatalf("ReadAt: got %d, %v, want %d, nil", n, err, len(got))
	}
	if !cryptfile.IsDatabaseHeader(got) {
		t.Fatalf("page 1 does not start with SQLite's header: %q", got[:16])
	}
	// Page 1's header differs where the backup wrote its own: the change
	// counter (24-27) and the version fields (92-99).
	for _, span := range [][2]int{{24, 28}, {92, 100}} {
		copy(got[span[0]:span[1]], want[span[0]:span[1]])
	}
	for off := 0; off < len(want); off += cryptfile.BlockSize {
		if !bytes.Equal(got[off:off+cryptfile.BlockSize], want[off:off+cryptfile.BlockSize]) {
			t.Errorf("page %d differs from SQLite's copy", off/cryptfile.BlockSize+1)
		}
	}

	// Reads across blocks, and at the end.
	mid := make([]byte, 100)
	if n, err := r.ReadAt(mid, cryptfile.BlockSize-50); n != 100 || err != nil || !bytes.Equal(mid, got[cryptfile.BlockSize-50:cryptfile.BlockSize+50]) {
		t.Errorf("ReadAt across a block boundary: got %d, %v", n, err)
	}
	if n, err := r.ReadAt(mid, r.Size()-10); n != 10 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt past the end: got %d, %v, want 10, io.EOF", n, err)
	}
	if _, err := r.ReadAt(mid, -1); err == nil {
		t.Error("ReadAt at a negative offset: got nil error")
	}
}

// TestReaderWAL decrypts a WAL the driver's VFS wrote: its header and a
// frame's page, whose text the WAL itself does not show.
func TestReaderWAL(t *testing.T) {
	enc, _, key := encryptedDB(t, true)
	wal := testdir.ReadFile(t, enc+"-wal")
	if len(wal)%cryptfile.BlockSize != 0 || bytes.Contains(wal, []byte(marker)) {
		t.Fatalf("WAL of %d bytes: want whole blocks and no plaintext", len(wal))
	}
	r, err := cryptfile.NewReader(bytes.NewReader(wal), int64(len(wal)), key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		t.Fatal(err)
	}
	if !cryptfile.IsWALHeader(got) {
		t.Errorf("decrypted WAL header: %x", got[:8])
	}
	if !bytes.Contains(got, []byte(marker)) {
		t.Error("the decrypted WAL holds no row")
	}
}

// TestReaderWrongKey decrypts with another key: noise, no header.
func TestReaderWrongKey(t *testing.T) {
	enc, _, _ := encryptedDB(t, false)
	f, err := os.Open(enc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, cryptfile.KeySize)
	rand.Read(other)
	r, err := cryptfile.NewReader(f, info.Size(), other)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 100)
	if _, err := r.ReadAt(head, 0); err != nil {
		t.Fatal(err)
	}
	if cryptfile.IsDatabaseHeader(head) {
		t.Error("a wrong key decrypts page 1 to a header")
	}
}

func TestNewCipherKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := cryptfile.NewCipher(make([]byte, n)); !errors.Is(err, cryptfile.ErrKeySize) {
			t.Errorf("NewCipher of %d bytes: got %v, want ErrKeySize", n, err)
		}
		if _, err := cryptfile.NewReader(bytes.NewReader(nil), 0, make([]byte, n)); !errors.Is(err, cryptfile.ErrKeySize) {
			t.Errorf("NewReader of %d bytes: got %v, want ErrKeySize", n, err)
		}
	}
}

// TestCipherRoundTrip encrypts and decrypts a block: the tweak is the
// offset, so the same plaintext encrypts differently at another offset.
func TestCipherRoundTrip(t *testing.T) {
	key := make([]byte, cryptfile.KeySize)
	rand.Read(key)
	c, err := cryptfile.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("block"), cryptfile.BlockSize/5+1)[:cryptfile.BlockSize]
	a, b := bytes.Clone(plain), bytes.Clone(plain)
	c.Encrypt(a, 0)
	c.Encrypt(b, cryptfile.BlockSize)
	if bytes.Equal(a, b) || bytes.Equal(a, plain) {
		t.Error("the same block encrypts to the same bytes at two offsets, or to itself")
	}
	c.Decrypt(a, 0)
	if !bytes.Equal(a, plain) {
		t.Error("decrypt(encrypt(block)) is not the block")
	}
}

func TestHeaders(t *testing.T) {
	for _, tt := range []struct {
		b                string
		db, wal, journal bool
	}{
		{"SQLite format 3\x00", true, false, false},
		{"SQLite format 3", false, false, false},
		{"\x37\x7f\x06\x82\x00\x2d\xe2\x18", false, true, false},
		{"\x37\x7f\x06\x83\x00\x2d\xe2\x18", false, true, false},
		{"\x37\x7f\x06\x82\x00\x2d\xe2\x19", false, false, false},
		{"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7", false, false, true},
		{"", false, false, false},
	} {
		b := []byte(tt.b)
		if cryptfile.IsDatabaseHeader(b) != tt.db || cryptfile.IsWALHeader(b) != tt.wal || cryptfile.IsJournalHeader(b) != tt.journal {
			t.Errorf("%q: got %v %v %v, want %v %v %v", tt.b, cryptfile.IsDatabaseHeader(b), cryptfile.IsWALHeader(b),
				cryptfile.IsJournalHeader(b), tt.db, tt.wal, tt.journal)
		}
	}
}

// TestReaderDamaged reads an encrypted database with a block destroyed, as
// a salvage of a damaged workspace does: the damage stays in that block,
// every other page decrypts as before.
func TestReaderDamaged(t *testing.T) {
	enc, _, key := encryptedDB(t, false)
	whole := testdir.ReadFile(t, enc)
	damaged := bytes.Clone(whole)
	const bad = 3 // a page of the table
	for i := range cryptfile.BlockSize {
		damaged[bad*cryptfile.BlockSize+i] ^= 0x5a
	}
	read := func(b []byte) []byte {
		r, err := cryptfile.NewReader(bytes.NewReader(b), int64(len(b)), key)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, r.Size())
		if _, err := r.ReadAt(out, 0); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want, got := read(whole), read(damaged)
	for off := 0; off < len(want); off += cryptfile.BlockSize {
		same := bytes.Equal(got[off:off+cryptfile.BlockSize], want[off:off+cryptfile.BlockSize])
		if page := off / cryptfile.BlockSize; same != (page != bad) {
			t.Errorf("block %d: equal to the undamaged plaintext: %v, want %v", page, same, page != bad)
		}
	}
}

// BenchmarkCipher measures one block's encryption and decryption, what an
// encrypted workspace pays per 4096 bytes it writes or reads from disk.
func BenchmarkCipher(b *testing.B) {
	key := make([]byte, cryptfile.KeySize)
	rand.Read(key)
	c, err := cryptfile.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	block := make([]byte, cryptfile.BlockSize)
	b.Run("encrypt", func(b *testing.B) {
		b.SetBytes(cryptfile.BlockSize)
		for b.Loop() {
			c.Encrypt(block, 0)
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.SetBytes(cryptfile.BlockSize)
		for b.Loop() {
			c.Decrypt(block, 0)
		}
	})
}
