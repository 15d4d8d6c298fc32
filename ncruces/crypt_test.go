package ncruces

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/cryptfile"
	"github.com/litedir/litedir/internal/testdir"
)

// marker is the plaintext the tests write into encrypted databases and then
// look for in their files.
const marker = "litedir-plaintext-marker"

// mustKey returns an open Key of key (random when nil), closed when the test
// ends, and its bytes.
func mustKey(t *testing.T, key []byte) (*Key, []byte) {
	t.Helper()
	if key == nil {
		key = make([]byte, KeySize)
		rand.Read(key)
	}
	k, err := NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k, key
}

// keepWAL returns pragmas and an init callback that leave a database's
// committed transactions in its WAL, as a killed writer does: no
// checkpoint, not even when the last connection closes.
func keepWAL(t *testing.T) ([]Pragma, func(*sqlite3.Conn) error) {
	t.Helper()
	pragmas, err := MergePragmas(DefaultPragmas(), Pragma{"wal_autocheckpoint", "0"})
	if err != nil {
		t.Fatal(err)
	}
	return pragmas, func(c *sqlite3.Conn) error {
		_, err := c.Config(sqlite3.DBCONFIG_NO_CKPT_ON_CLOSE, true)
		return err
	}
}

// mustWriteRows opens the database at path with key (nil: plaintext) as
// keepWAL says, creates table t with n rows that hold the marker, and
// returns the open pool: closing it leaves every row in the WAL.
func mustWriteRows(t *testing.T, path string, key *Key, n int) *sql.DB {
	t.Helper()
	pragmas, init := keepWAL(t)
	db := mustOpen(t, Config{Path: path, Key: key, Pragmas: pragmas, Init: init})
	mustExec(t, db, "CREATE TABLE t (x TEXT)")
	for i := range n {
		mustExec(t, db, "INSERT INTO t VALUES (? || ?)", marker, i)
	}
	return db
}

// TestKeyRoundTrip writes through an encrypted pool, reopens it with the
// key, and finds no plaintext in any file, the WAL's included.
func TestKeyRoundTrip(t *testing.T) {
	needSharedAccess(t)
	dir := absTemp(t)
	path := filepath.Join(dir, "enc.db")
	key, _ := mustKey(t, nil)
	db := mustWriteRows(t, path, key, 50)
	// A reader beside the writer, as a workspace's read pool.
	reader := mustOpen(t, Config{Path: path, Key: key, QueryOnly: true, NoCreate: true, MaxConns: 2})
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM t WHERE x LIKE ? || '%'", marker).Scan(&n); err != nil || n != 50 {
		t.Fatalf("reader: got %d, %v, want 50", n, err)
	}
	if err := errors.Join(reader.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}
	if testdir.ReadFile(t, path+"-wal") == nil {
		t.Fatal("no WAL left: the test means to read one")
	}
	if found := testdir.Containing(t, dir, []byte(marker)); found != nil {
		t.Errorf("plaintext found in %v", found)
	}
	if found := testdir.Containing(t, dir, []byte("CREATE TABLE")); found != nil {
		t.Errorf("the schema's text found in %v", found)
	}

	db = mustOpen(t, Config{Path: path, Key: key, ReadOnly: true})
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 50 {
		t.Errorf("read-only reopen: got %d, %v, want 50", n, err)
	}
}

// TestKeyMismatch opens a database with the wrong key, none, or one it does
// not need, while its WAL holds every transaction: Open fails with the
// error that says which, names the file, never shows the key, and changes
// no byte and creates no file. The right key then finds every row.
func TestKeyMismatch(t *testing.T) {
	for _, tt := range []struct {
		name      string
		encrypted bool // the database
		open      bool // a key to open it with; the wrong one if encrypted
		readOnly  bool
		want      error
	}{
		{"wrong key", true, true, false, ErrWrongKey},
		{"wrong key, read-only", true, true, true, ErrWrongKey},
		{"no key", true, false, false, ErrEncrypted},
		{"no key, read-only", true, false, true, ErrEncrypted},
		{"key for plaintext", false, true, false, ErrNotEncrypted},
		{"key for plaintext, read-only", false, true, true, ErrNotEncrypted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := absTemp(t)
			path := filepath.Join(dir, "x.db")
			var right *Key
			if tt.encrypted {
				right, _ = mustKey(t, nil)
			}
			if err := mustWriteRows(t, path, right, 20).Close(); err != nil {
				t.Fatal(err)
			}
			before := testdir.Snapshot(t, dir)
			if _, ok := before["x.db-wal"]; !ok && Platform().JournalMode == "wal" {
				t.Fatalf("no WAL: %v", testdir.Names(t, dir))
			}

			var wrong *Key
			var wrongBytes []byte
			if tt.open {
				wrong, wrongBytes = mustKey(t, nil)
			}
			_, err := Open(context.Background(), Config{Path: path, Key: wrong, ReadOnly: tt.readOnly, Logger: testLogger(t)})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: got %v, want %v", err, tt.want)
			}
			if want := !errors.Is(tt.want, ErrNotEncrypted); errors.Is(err, ErrNotADatabase) != want {
				t.Errorf("Open: got %v; matches ErrNotADatabase: %v, want %v", err, !want, want)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != path {
				t.Errorf("Open: got %v, want an *fs.PathError naming %s", err, path)
			}
			if wrong != nil && (strings.Contains(err.Error(), wrong.token) || strings.Contains(err.Error(), hex.EncodeToString(wrongBytes))) {
				t.Errorf("the error shows the key: %v", err)
			}
			testdir.SameFiles(t, before, testdir.Snapshot(t, dir))

			db := mustOpen(t, Config{Path: path, Key: right})
			var n int
			if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 20 {
				t.Errorf("with the right key: got %d rows, %v, want 20", n, err)
			}
		})
	}
}

// TestKeyClosed opens with a closed Key: refused, with ErrInvalidKey.
func TestKeyClosed(t *testing.T) {
	dir := absTemp(t)
	path := filepath.Join(dir, "x.db")
	key, _ := mustKey(t, nil)
	db := mustOpen(t, Config{Path: path, Key: key})
	mustExec(t, db, "CREATE TABLE t (x)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	key.Close()
	if _, err := Open(context.Background(), Config{Path: path, Key: key}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Open with a closed Key: got %v, want ErrInvalidKey", err)
	}
}

func TestNewKey(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if k, err := NewKey(make([]byte, n)); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("NewKey of %d bytes: got %v, %v, want ErrInvalidKey", n, k, err)
		}
	}
	a, ab := mustKey(t, nil)
	b, _ := mustKey(t, ab)
	c, _ := mustKey(t, nil)
	var none *Key
	for _, tt := range []struct {
		x, y *Key
		want bool
	}{{a, b, true}, {a, c, false}, {a, none, false}, {none, none, true}, {none, a, false}} {
		if got := tt.x.Equal(tt.y); got != tt.want {
			t.Errorf("Equal: got %v, want %v", got, tt.want)
		}
	}
	clear(ab) // NewKey copied it
	if !a.Equal(b) {
		t.Error("clearing the caller's slice changed the Key")
	}
	b.Close()
	b.Close()
	if a.Equal(b) {
		t.Error("a closed Key equals an open one")
	}
}

// TestKeyring checks what the Adiantum VFS can get a cipher for: the
// tokens of open Keys and the random keys of temporary files, never raw
// key material (PRAGMA key, hexkey) or text (textkey).
func TestKeyring(t *testing.T) {
	k, raw := mustKey(t, nil)
	var kr keyring
	if kr.HBSH([]byte(k.token)) == nil {
		t.Error("an open Key's token: no cipher")
	}
	if kr.HBSH(raw) != nil {
		t.Error("raw key material: got a cipher")
	}
	if kr.HBSH([]byte(hex.EncodeToString(raw))) != nil {
		t.Error("hex key material: got a cipher")
	}
	if kr.KDF("correct horse battery staple") != nil {
		t.Error("text: got key material")
	}
	tmp := kr.KDF("")
	if kr.HBSH(tmp) == nil {
		t.Error("a temporary file's key: no cipher")
	}
	if bytes.Equal(tmp, kr.KDF("")) {
		t.Error("two temporary keys are equal")
	}
	k.Close()
	if kr.HBSH([]byte(k.token)) != nil {
		t.Error("a closed Key's token: got a cipher")
	}
}

// TestKeyPragma runs PRAGMA hexkey on an encrypted connection: it cannot
// switch the connection to a key of its own choosing, so nothing is ever
// written with another key.
func TestKeyPragma(t *testing.T) {
	dir := absTemp(t)
	path := filepath.Join(dir, "x.db")
	key, _ := mustKey(t, nil)
	db := mustOpen(t, Config{Path: path, Key: key, MaxConns: 1})
	mustExec(t, db, "CREATE TABLE t (x)")
	other := make([]byte, KeySize)
	rand.Read(other)
	if _, err := db.Exec("PRAGMA hexkey='" + hex.EncodeToString(other) + "'"); err == nil {
		t.Error("PRAGMA hexkey: got nil, want an error")
	}
	db.Exec("INSERT INTO t VALUES (1)") // fails or not; the file must stay readable
	if err := db.Close(); err != nil {
		t.Log(err)
	}
	db = mustOpen(t, Config{Path: path, Key: key})
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Errorf("after PRAGMA hexkey: %v", err)
	}
}

// TestCheckKeyCrashStates builds the first blocks a crash can leave and
// checks that checkKey lets SQLite open every one it could open with the
// right key, and refuses the wrong key.
func TestCheckKeyCrashStates(t *testing.T) {
	key, raw := mustKey(t, nil)
	wrong, _ := mustKey(t, nil)
	c, err := cryptfile.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	block := func(header string) []byte {
		b := make([]byte, cryptfile.BlockSize)
		copy(b, header)
		c.Encrypt(b, 0)
		return b
	}
	page1 := block("SQLite format 3\x00")
	walHeader := block("\x37\x7f\x06\x82\x00\x2d\xe2\x18")
	journalHeader := block("\xd9\xd5\x05\xf9\x20\xa1\x63\xd7")
	torn := append(bytes.Clone(block("SQLite format 3\x00")[:1024]), block("SQLite format 3\x00 other")[1024:]...)
	hole := append(make([]byte, 512), page1[512:]...)

	for _, tt := range []struct {
		name          string
		db, wal, jrnl []byte
		key           *Key
		want          error
	}{
		{"missing", nil, nil, nil, key, nil},
		{"empty", []byte{}, nil, nil, key, nil},
		{"page 1", page1, nil, nil, key, nil},
		{"page 1, wrong key", page1, nil, nil, wrong, ErrWrongKey},
		{"page 1, no key", page1, nil, nil, nil, ErrEncrypted},
		{"creation cut: first sector a hole", hole, nil, journalHeader, key, nil},
		{"creation cut: short", page1[:1536], nil, journalHeader, key, nil},
		{"checkpoint torn, WAL whole", torn, walHeader, nil, key, nil},
		{"checkpoint torn, wrong key", torn, walHeader, nil, wrong, ErrWrongKey},
		{"rollback torn, journal whole", torn, nil, journalHeader, key, nil},
		{"torn, nothing whole", torn, torn, torn, key, ErrWrongKey},
		{"plaintext", []byte("SQLite format 3\x00rest"), nil, nil, key, ErrNotEncrypted},
		{"plaintext, no key", []byte("SQLite format 3\x00rest"), nil, nil, nil, nil},
		{"garbage, no key", []byte("garbage"), nil, nil, nil, ErrNotADatabase},
		{"garbage blocks, no key", bytes.Repeat([]byte("garbage!"), 1024), nil, nil, nil, ErrEncrypted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(testdir.New(t), "x.db")
			for suffix, b := range map[string][]byte{"": tt.db, "-wal": tt.wal, "-journal": tt.jrnl} {
				if b != nil {
					if err := os.WriteFile(path+suffix, b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := checkKey(path, tt.key); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("checkKey: got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestKeyTornLastBlock opens an encrypted database whose WAL ends in a torn
// block, as a crash in the middle of a write that extended it leaves it:
// the block is lost, the rest opens (the driver's Adiantum VFS alone fails
// every read of it, and SQLite then opens nothing).
func TestKeyTornLastBlock(t *testing.T) {
	if p := Platform(); p.JournalMode != "wal" {
		t.Skipf("no WAL on %s/%s: %q", p.GOOS, p.GOARCH, p.Notes)
	}
	dir := absTemp(t)
	path := filepath.Join(dir, "x.db")
	key, _ := mustKey(t, nil)
	if err := mustWriteRows(t, path, key, 20).Close(); err != nil {
		t.Fatal(err)
	}
	wal := testdir.ReadFile(t, path+"-wal")
	if err := os.WriteFile(path+"-wal", wal[:len(wal)-1024], 0o600); err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, Config{Path: path, Key: key})
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n < 18 {
		t.Errorf("after a torn last block: got %d rows, %v, want the 18 or more before it", n, err)
	}
	var ok string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: got %q, %v", ok, err)
	}
}

// TestKeyLitedirVFS checks that the encrypting VFS keeps what the litedir
// VFS under it does: a database that is a symbolic link is refused, its
// target untouched; a new database and its WAL are created 0600.
func TestKeyLitedirVFS(t *testing.T) {
	dir := absTemp(t)
	key, _ := mustKey(t, nil)
	target := filepath.Join(dir, "target.db")
	if err := mustWriteRows(t, target, key, 3).Close(); err != nil {
		t.Fatal(err)
	}
	before := testdir.ReadFile(t, target)
	link := filepath.Join(dir, "link.db")
	testdir.Symlink(t, target, link)
	if _, err := Open(context.Background(), Config{Path: link, Key: key}); !errors.Is(err, ErrSymlink) {
		t.Errorf("Open of a symbolic link: got %v, want ErrSymlink", err)
	}
	if got := testdir.ReadFile(t, target); !bytes.Equal(got, before) {
		t.Error("the link's target changed")
	}

	if runtime.GOOS == "windows" || runtime.GOOS == "wasip1" || runtime.GOOS == "js" || runtime.GOOS == "plan9" {
		return // no Unix permissions to check
	}
	path := filepath.Join(dir, "new.db")
	db := mustWriteRows(t, path, key, 1)
	defer db.Close()
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && name != path {
				continue // no WAL on this profile
			}
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(name), perm)
		}
	}
}
