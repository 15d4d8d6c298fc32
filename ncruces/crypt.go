package ncruces

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"

	"lukechampine.com/adiantum"
	"lukechampine.com/adiantum/hbsh"

	"github.com/ncruces/go-sqlite3/vfs"
	adiantumvfs "github.com/ncruces/go-sqlite3/vfs/adiantum"

	"github.com/litedir/litedir/internal/cryptfile"
)

// Encryption at rest.
//
// A database opened with a [Key] goes through the "litedir-adiantum" VFS:
// the driver's Adiantum VFS (vfs/adiantum) stacked on the litedir VFS, so
// that everything the litedir VFS does (full disk, directory syncs, 0600
// files, symlinks refused, the crash simulation's hook) still happens, to the
// encrypted bytes. The Adiantum VFS encrypts the database, its -wal and its
// -journal in 4096-byte blocks (see internal/cryptfile), and temporary
// files with random keys; the -shm index is shared memory it does not touch
// (it holds page numbers, frame numbers and checksums, no page contents).
//
// The key never enters a URI, an SQL text or an error. The Adiantum VFS reads
// a key from the "key" URI parameter; litedir puts there a token instead,
// random and meaningless outside this process, which the VFS hands to
// keyring.HBSH, which finds the key it stands for in a table of its own. The
// token lives as long as the Key; a connection opened after Key.Close fails.

// cryptVFSName is the VFS that [Open] uses for a database with a Key.
const cryptVFSName = "litedir-adiantum"

// keyParam is the URI parameter from which the Adiantum VFS reads its key.
const keyParam = "key"

// The forms of what keyring.HBSH is handed: a Key's token, or (from
// keyring.KDF) a random key for a temporary file.
const (
	tokenPrefix   = "litedir-key:"
	tempKeyPrefix = "litedir-temp-key:"
)

func init() {
	// The litedir VFS is built here rather than found by name: package
	// init order must not decide whether it is registered yet.
	vfs.Register(cryptVFSName, adiantumvfs.Wrap(blockVFS{fullVFS{vfs.Find("os")}}, keyring{}))
}

// blockVFS is the litedir VFS under the Adiantum VFS: its files report their
// size in whole blocks.
//
// A crash can leave an encrypted file with a torn last block, shorter than
// the others: a write that extended the file reached the disk in part. Such
// a block cannot be decrypted, and the Adiantum VFS fails a read that
// touches it; SQLite, which reads everything up to the size it is told
// (recovering a WAL, it reads every frame), then fails with "disk I/O
// error" and the database does not open at all, though it lost nothing but
// the torn block. Told the size without it, SQLite sees the shorter file it
// knows how to recover: a WAL that ends at its last whole frame, a database
// that its journal or WAL completes.
type blockVFS struct{ fullVFS }

// OpenFilename opens the file as the litedir VFS does and wraps it.
func (v blockVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := v.fullVFS.OpenFilename(name, flags)
	if ff, ok := f.(*fullFile); ok {
		return blockFile{ff}, flags, err
	}
	return f, flags, err
}

// blockFile is a file of the litedir VFS whose size counts whole blocks only.
type blockFile struct{ *fullFile }

// Size returns the size of the file's whole blocks.
func (f blockFile) Size() (int64, error) {
	n, err := f.fullFile.Size()
	return n - n%cryptfile.BlockSize, err
}

// KeySize is the size of an encryption key, in bytes.
const KeySize = cryptfile.KeySize

// Errors of encrypted databases. [Open] checks, before SQLite opens anything,
// that the key it was given (or none) suits the file, and refuses without
// changing a byte otherwise.
var (
	// ErrEncrypted reports a database opened without a key whose file does
	// not start with SQLite's header but is made of whole 4096-byte blocks:
	// it is encrypted, or not a database at all (the two look alike without
	// the key). It also matches [ErrNotADatabase], as does the error for a
	// file that has no header and is not made of whole blocks; Open refuses
	// either before SQLite reads it.
	ErrEncrypted = errors.New("ncruces: database is encrypted (or not a database), and no key was given")

	// ErrNotEncrypted reports a key given for a database that is not
	// encrypted.
	ErrNotEncrypted = errors.New("ncruces: database is not encrypted, but a key was given")

	// ErrWrongKey reports a key that does not decrypt the database: the
	// database was encrypted with another key (or the file is not a
	// database). It also matches [ErrNotADatabase].
	ErrWrongKey = errors.New("ncruces: wrong key: it does not decrypt the database")

	// ErrInvalidKey reports key material that cannot be a key: not
	// [KeySize] bytes.
	ErrInvalidKey = errors.New("ncruces: invalid key")
)

// Key is an encryption key for [Open] ([Config].Key): 32 bytes for the
// Adiantum cipher. While a Key is open, the process holds a copy of the key
// in memory, and every connection that the pools of [Open] make with it
// (now or later) can find it; [Key.Close] erases that copy. The ciphers of
// open files derive their own subkeys from it, which live as long as the
// files. Go gives no guarantee that no other copy stays in memory.
//
// A Key is safe for concurrent use by multiple goroutines.
type Key struct {
	token string
	once  sync.Once
}

// keys maps the token of every open Key to its key.
var keys = struct {
	sync.RWMutex
	m map[string]*[KeySize]byte
}{m: map[string]*[KeySize]byte{}}

// NewKey returns an open Key holding a copy of key, which must be
// [KeySize] bytes long (an error matching [ErrInvalidKey] otherwise; its text
// never shows key). The caller may clear key afterwards. Close the Key once
// the pools opened with it are closed.
func NewKey(key []byte) (*Key, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	var tag [16]byte
	rand.Read(tag[:])
	k := &Key{token: tokenPrefix + hex.EncodeToString(tag[:])}
	b := new([KeySize]byte)
	copy(b[:], key)
	keys.Lock()
	keys.m[k.token] = b
	keys.Unlock()
	return k, nil
}

// Close erases the process's copy of the key; connections opened with the
// Key afterwards fail with an I/O error (SQLITE_IOERR_BADKEY). Close is
// idempotent, and a nil Key may be closed.
func (k *Key) Close() {
	if k == nil {
		return
	}
	k.once.Do(func() {
		keys.Lock()
		if b := keys.m[k.token]; b != nil {
			clear(b[:])
		}
		delete(keys.m, k.token)
		keys.Unlock()
	})
}

// Equal reports whether k and other hold the same key, comparing in
// constant time. Two nil Keys are equal; a closed Key is equal to no Key.
func (k *Key) Equal(other *Key) bool {
	if k == nil || other == nil {
		return k == other
	}
	keys.RLock()
	defer keys.RUnlock()
	a, b := keys.m[k.token], keys.m[other.token]
	return a != nil && b != nil && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// URIParams sets in params the VFS that opens a file with k: the
// encrypting VFS and k's token (never the key), or for a nil Key the
// litedir VFS, plaintext. It is for files that a connection opens itself,
// such as the destination of the backup API, VACUUM INTO or ATTACH, which
// would otherwise take the connection's VFS (ATTACH, VACUUM INTO) or the
// default one (the backup API). It returns params, a new map if params is
// nil.
func (k *Key) URIParams(params url.Values) url.Values {
	if params == nil {
		params = url.Values{}
	}
	if k == nil {
		params.Set("vfs", vfsName)
		return params
	}
	params.Set("vfs", cryptVFSName)
	params.Set(keyParam, k.token)
	return params
}

// Plaintext returns a reader of the plaintext of r, a file of size bytes
// encrypted with k, and the plaintext's size (the file's whole blocks: a
// torn last block is left out), for tools that read an encrypted database
// without SQLite, such as a salvage of a damaged one. A block that does not
// decrypt (damaged, or another key's) reads as noise, and only that block.
// A closed Key is an error matching ErrInvalidKey.
func (k *Key) Plaintext(r io.ReaderAt, size int64) (io.ReaderAt, int64, error) {
	var (
		pr  *cryptfile.Reader
		err = fmt.Errorf("%w: the key is closed", ErrInvalidKey)
	)
	k.with(func(key []byte) { pr, err = cryptfile.NewReader(r, size, key) })
	if err != nil {
		return nil, 0, err
	}
	return pr, pr.Size(), nil
}

// with calls f with the key, unless the Key is closed.
func (k *Key) with(f func(key []byte)) {
	keys.RLock()
	defer keys.RUnlock()
	if b := keys.m[k.token]; b != nil {
		f(b[:])
	}
}

// cipher returns a new block cipher of the key, or nil once k is closed.
func (k *Key) cipher() *cryptfile.Cipher {
	var c *cryptfile.Cipher
	k.with(func(key []byte) { c, _ = cryptfile.NewCipher(key) })
	return c
}

// keyring is the Adiantum VFS's source of ciphers (adiantum.HBSHCreator):
// it knows the tokens of open Keys and the random keys of temporary files,
// and nothing else, so neither a key in a URI nor PRAGMA key, hexkey or
// textkey can give a connection a cipher of their own.
type keyring struct{}

// KDF returns the key material of a temporary file when secret is empty,
// and nothing otherwise: litedir derives no key from text.
func (keyring) KDF(secret string) []byte {
	if secret != "" {
		return nil
	}
	b := make([]byte, len(tempKeyPrefix)+KeySize)
	copy(b, tempKeyPrefix)
	rand.Read(b[len(tempKeyPrefix):])
	return b
}

// HBSH returns the cipher of material: a Key's token or a temporary
// file's key, and nil for anything else, which fails the open with
// SQLITE_IOERR_BADKEY.
func (keyring) HBSH(material []byte) *hbsh.HBSH {
	if key, ok := bytes.CutPrefix(material, []byte(tempKeyPrefix)); ok {
		if len(key) != KeySize {
			return nil
		}
		return adiantum.New(key)
	}
	if !bytes.HasPrefix(material, []byte(tokenPrefix)) {
		return nil
	}
	keys.RLock()
	defer keys.RUnlock()
	if b := keys.m[string(material)]; b != nil {
		return adiantum.New(b[:])
	}
	return nil
}
