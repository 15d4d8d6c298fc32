package workspace

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"

	"github.com/litedir/litedir/ncruces"
)

// Encryption at rest: a workspace opened with [Options.Key] is encrypted
// (see ncruces.Key for how, and README.md for what it protects). The key
// reaches litedir through a KeySource, called once by each Open,
// OpenReadOnly, copy and Rekey; from there the entry holds it in an
// ncruces.Key, erased when the entry closes.

// The errors of encrypted workspaces, from the engine.
var (
	// ErrWrongKey is returned by Open and OpenReadOnly when the key does
	// not decrypt the database. Nothing was changed. It also matches
	// ncruces.ErrNotADatabase.
	ErrWrongKey = ncruces.ErrWrongKey

	// ErrEncrypted is returned by Open and OpenReadOnly without a key when
	// the database is encrypted (or not a database at all: without the key
	// the two look alike). Nothing was changed. It also matches
	// ncruces.ErrNotADatabase.
	ErrEncrypted = ncruces.ErrEncrypted

	// ErrNotEncrypted is returned by Open and OpenReadOnly with a key when
	// the database is not encrypted. Nothing was changed. [Rekey] encrypts
	// it.
	ErrNotEncrypted = ncruces.ErrNotEncrypted

	// ErrInvalidKey is returned when a KeySource gives anything but 32
	// bytes, or a key file holds anything but 32 bytes or 64 hex digits.
	ErrInvalidKey = ncruces.ErrInvalidKey
)

// KeySize is the size of a key: 32 bytes.
const KeySize = ncruces.KeySize

// KeySource gives the 32-byte key of an encrypted workspace: from memory
// ([KeyBytes]), a file ([KeyFile]), a keyring or an environment variable.
// It is called with the context of the operation that needs the key (Open,
// OpenReadOnly, a copy, Rekey), once per call, and may block on it. Its error
// fails the operation, wrapped. litedir copies the slice it returns and
// never modifies or keeps it.
type KeySource func(ctx context.Context) ([]byte, error)

// KeyBytes returns a KeySource that gives a copy of key, which it copies
// now: the caller may clear key once KeyBytes returns.
func KeyBytes(key []byte) KeySource {
	k := bytes.Clone(key)
	return func(context.Context) ([]byte, error) { return bytes.Clone(k), nil }
}

// KeyFile returns a KeySource that reads the key from the file at path each
// time it is called: the file holds the key as 32 raw bytes, or as 64 hex
// digits, which may be followed by a newline (what
// "openssl rand -hex 32 > key" writes). Anything else is an error matching
// ErrInvalidKey, which never shows the file's contents. Keep the file
// readable by its owner only (0600), outside the workspace and its backups.
func KeyFile(path string) KeySource {
	return func(context.Context) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err // an *fs.PathError naming the file
		}
		defer clear(b)
		key, err := ParseKey(b)
		if err != nil {
			return nil, &fs.PathError{Op: "read key file", Path: path, Err: err}
		}
		return key, nil
	}
}

// ParseKey returns the key held in b, the contents of a key file: 32 raw
// bytes, or 64 hex digits and an optional line ending ("\n" or "\r\n"). It
// does not keep b. Anything else is an error matching ErrInvalidKey, which
// gives b's length but never its contents. litedir derives no key from a
// passphrase: Argon2id, which the driver uses for that, costs 64 MiB and a
// noticeable start-up time in every process.
func ParseKey(b []byte) ([]byte, error) {
	if len(b) == KeySize {
		return bytes.Clone(b), nil
	}
	text := bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(text) == 2*KeySize {
		key := make([]byte, KeySize)
		if _, err := hex.Decode(key, text); err == nil {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: %d bytes; want the key as 32 bytes, or as 64 hex digits and a newline", ErrInvalidKey, len(b))
}

// keySource returns o.Key, or nil for a nil *Options.
func (o *Options) keySource() KeySource {
	if o == nil {
		return nil
	}
	return o.Key
}

// openKey calls src, if not nil, and returns the key it gives as an open
// ncruces.Key, which the caller closes; nil means no key.
func openKey(ctx context.Context, src KeySource) (*ncruces.Key, error) {
	if src == nil {
		return nil, nil
	}
	b, err := src(ctx)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	k, err := ncruces.NewKey(b)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	return k, nil
}
