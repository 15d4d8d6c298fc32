package ncruces

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/litedir/litedir/internal/cryptfile"
)

// Before SQLite opens a database, [Open] checks that the key it was given, or
// none, suits the files, from the first block of each, and refuses with
// ErrNotEncrypted, ErrEncrypted or ErrWrongKey otherwise. SQLite alone would
// only say "file is not a database", and worse: a connection that cannot read
// a WAL's header treats the WAL as empty, and the last connection to close
// checkpoints nothing and deletes it, with every transaction in it. So the
// check must come first, and must never refuse a database that SQLite would
// open, such as one a crash left with a torn first block.
//
// What a crash can leave in the first block of a database file, assuming, as
// SQLite does, that a write is torn at worst sector by sector and that a
// sector holds 512 bytes or more:
//
//   - Plaintext: the file is empty; or its first sector holds a header (the
//     header never changes its first 16 bytes); or, when the crash cut the
//     transaction that creates the database, that sector is still a hole
//     of zeros (the rollback journal then undoes the creation).
//   - Encrypted: the file is empty; or its first sector is a hole (as
//     above); or the block decrypts to a header; or it is torn, a mix of two
//     encryptions that decrypts to noise. A torn first block is being
//     rewritten with a copy that is safe elsewhere: by a checkpoint (the WAL
//     holds page 1 and was synced first, so its first block is whole) or by
//     a transaction in rollback mode (its -journal holds page 1 and was
//     synced first). When the database's first block does not decrypt, the
//     key is therefore right if the first block of its -wal or -journal
//     does.
//
// And the first sector of SQLite's header never decrypts to a header with a
// wrong key, nor does a block of encrypted noise start with SQLite's magic
// string, but with a chance of 2^-128.

// checkAttempts bounds how often checkKey looks again at a database whose
// key seems wrong: another process may be rewriting a first block as it is
// read, which reads noise.
const checkAttempts = 3

// checkKey checks that key (nil: none) suits the database at path, and
// returns nil when SQLite may open it: the files suit the key, or there is
// no database yet, or nothing can be read (SQLite reports that better).
// Otherwise it returns an error matching ErrNotEncrypted, ErrEncrypted or
// ErrWrongKey. It only reads.
func checkKey(path string, key *Key) error {
	var err error
	for range checkAttempts {
		if err = checkFiles(path, key); !errors.Is(err, ErrWrongKey) {
			return err
		}
	}
	return err
}

// checkFiles is one look of checkKey.
func checkFiles(path string, key *Key) error {
	head, size, ok := firstBlock(path)
	switch {
	case !ok || len(head) == 0:
		return nil // no database yet, or one SQLite will report on
	case cryptfile.IsDatabaseHeader(head):
		if key != nil {
			return fmt.Errorf("%w: the file starts with SQLite's plaintext header", ErrNotEncrypted)
		}
		return nil
	case zeroSector(head):
		return nil // its creation was cut; its journal decides
	case key == nil && size%cryptfile.BlockSize != 0:
		// Refused all the same: SQLite would drop a WAL beside it.
		return fmt.Errorf("no SQLite header, and %d bytes are no whole number of an encrypted database's blocks: %w", size, ErrNotADatabase)
	case key == nil:
		return fmt.Errorf("%w: %w", ErrEncrypted, ErrNotADatabase)
	}
	c := key.cipher()
	if c == nil {
		return fmt.Errorf("%w: the key is closed", ErrInvalidKey)
	}
	if decrypts(c, head, cryptfile.IsDatabaseHeader) {
		return nil
	}
	// A first block torn by a crash: the key is right if the -wal or the
	// -journal, whichever holds the safe copy, decrypts.
	for _, f := range []struct {
		suffix string
		is     func([]byte) bool
	}{{"-wal", cryptfile.IsWALHeader}, {"-journal", cryptfile.IsJournalHeader}} {
		if h, _, ok := firstBlock(path + f.suffix); ok && decrypts(c, h, f.is) {
			return nil
		}
	}
	return fmt.Errorf("%w: %w", ErrWrongKey, ErrNotADatabase)
}

// firstBlock returns the first block of the regular file path, or less if
// the file is shorter, and the file's size. ok is false when path is no
// regular file or cannot be read.
func firstBlock(path string) (head []byte, size int64, ok bool) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, false
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, false
	}
	defer f.Close()
	head = make([]byte, cryptfile.BlockSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, false
	}
	return head[:n], fi.Size(), true
}

// zeroSector reports whether the first sector of head is zeros: a hole
// where a first write never arrived.
func zeroSector(head []byte) bool {
	for _, b := range head[:min(len(head), 512)] {
		if b != 0 {
			return false
		}
	}
	return true
}

// decrypts reports whether head is a whole first block that decrypts with c
// to what is recognizes.
func decrypts(c *cryptfile.Cipher, head []byte, is func([]byte) bool) bool {
	if len(head) < cryptfile.BlockSize {
		return false
	}
	b := make([]byte, cryptfile.BlockSize)
	copy(b, head)
	c.Decrypt(b, 0)
	return is(b)
}
