package workspace_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// marker is the plaintext the tests write into encrypted workspaces and
// then look for in their files.
const marker = "litedir-plaintext-marker"

// newKey returns a random key.
func newKey() []byte {
	k := make([]byte, workspace.KeySize)
	rand.Read(k)
	return k
}

// dbFiles are the files of the default workspace that SQLite writes.
var dbFiles = []string{"litedir.db", "litedir.db-wal", "litedir.db-shm", "litedir.db-journal"}

// writeMarkers adds n notes that hold the marker.
func writeMarkers(t *testing.T, ws *workspace.Workspace, n int) {
	t.Helper()
	ctx := testdir.Context(t)
	for i := range n {
		err := ws.Write(ctx, func(q workspace.Querier) error {
			_, err := q.ExecContext(ctx, "INSERT INTO notes(body) VALUES (? || ?)", marker, i)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// noPlaintext fails t if a file of dir holds the marker.
func noPlaintext(t *testing.T, dir string) {
	t.Helper()
	if found := testdir.Containing(t, dir, []byte(marker)); found != nil {
		t.Errorf("plaintext in %v", found)
	}
}

// TestEncrypted opens an encrypted workspace and uses all of it: writes,
// reads, Status, Check, OpenReadOnly beside the owner, and copies under its
// key, another key and none. No file holds the plaintext but the plaintext
// copy; each copy opens with its key only.
func TestEncrypted(t *testing.T) {
	dir, copies := testdir.New(t), testdir.New(t)
	key, other := newKey(), newKey()
	opts := &workspace.Options{Migrations: schema(1, 2), Key: workspace.KeyBytes(key)}
	ws := mustOpen(t, dir, opts)
	writeMarkers(t, ws, 100)
	if got := count(t, ws, "SELECT count(*) FROM notes WHERE body LIKE ? || '%'", marker); got != 100 {
		t.Errorf("notes: got %d, want 100", got)
	}
	ctx := testdir.Context(t)
	st, err := ws.Status(ctx)
	if err != nil || !st.Encrypted {
		t.Errorf("Status: got Encrypted %v, %v, want true", st != nil && st.Encrypted, err)
	}
	if r, err := ws.Check(ctx, true); err != nil || !r.OK() {
		t.Errorf("Check: got %v, %v", r, err)
	}
	if !ncruces.Platform().LockingExclusive {
		ro, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Key: workspace.KeyBytes(key)})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := ro.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM notes").Scan(&n); err != nil || n != 100 {
			t.Errorf("OpenReadOnly beside the owner: got %d, %v, want 100", n, err)
		}
		if st, err := ro.Status(ctx); err != nil || !st.Encrypted {
			t.Errorf("read-only Status: got %v, %v, want Encrypted", st, err)
		}
		if err := ro.Close(); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		name string
		opts *workspace.CopyOptions
		key  []byte // the copy's; nil: plaintext
		fn   func(*workspace.Workspace, context.Context, string, *workspace.CopyOptions) error
	}{
		{"backup", nil, key, (*workspace.Workspace).BackupWith},
		{"vacuum", nil, key, (*workspace.Workspace).VacuumIntoWith},
		{"backup, other key", &workspace.CopyOptions{Key: workspace.KeyBytes(other)}, other, (*workspace.Workspace).BackupWith},
		{"vacuum, other key", &workspace.CopyOptions{Key: workspace.KeyBytes(other)}, other, (*workspace.Workspace).VacuumIntoWith},
		{"backup, plaintext", &workspace.CopyOptions{Plaintext: true}, nil, (*workspace.Workspace).BackupWith},
		{"vacuum, plaintext", &workspace.CopyOptions{Plaintext: true}, nil, (*workspace.Workspace).VacuumIntoWith},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The copy becomes a workspace of its own: dir/litedir.db.
			restored := filepath.Join(copies, strings.ReplaceAll(c.name, " ", "-"))
			if err := os.Mkdir(restored, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := c.fn(ws, ctx, workspace.DatabasePath(restored, ""), c.opts); err != nil {
				t.Fatal(err)
			}
			if c.key != nil {
				noPlaintext(t, restored)
			} else if found := testdir.Containing(t, restored, []byte(marker)); len(found) == 0 {
				t.Error("a plaintext copy holds no plaintext")
			}
			wrong := workspace.KeyBytes(newKey())
			var src workspace.KeySource
			if c.key != nil {
				src = workspace.KeyBytes(c.key)
				if _, err := workspace.OpenReadOnly(ctx, restored, &workspace.Options{Key: wrong}); !errors.Is(err, workspace.ErrWrongKey) {
					t.Errorf("the copy with a wrong key: got %v, want ErrWrongKey", err)
				}
			} else if _, err := workspace.OpenReadOnly(ctx, restored, &workspace.Options{Key: wrong}); !errors.Is(err, workspace.ErrNotEncrypted) {
				t.Errorf("the plaintext copy with a key: got %v, want ErrNotEncrypted", err)
			}
			cp := mustOpen(t, restored, &workspace.Options{Migrations: schema(1, 2), Key: src})
			if got := count(t, cp, "SELECT count(*) FROM notes"); got != 100 {
				t.Errorf("the copy holds %d notes, want 100", got)
			}
		})
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	noPlaintext(t, dir)
}

// TestEncryptedRefused opens an encrypted workspace left by a writer that
// was stopped with its transactions in the WAL, with a wrong key and with
// none, and a plaintext one with a key: each fails with its error and
// changes no byte of the database's files; the right key finds every row.
func TestEncryptedRefused(t *testing.T) {
	for _, tt := range []struct {
		name      string
		encrypted bool
		open      bool // with a key (the wrong one, if encrypted)
		readOnly  bool
		want      error
	}{
		{"wrong key", true, true, false, workspace.ErrWrongKey},
		{"wrong key, read-only", true, true, true, workspace.ErrWrongKey},
		{"no key", true, false, false, workspace.ErrEncrypted},
		{"no key, read-only", true, false, true, workspace.ErrEncrypted},
		{"key for plaintext", false, true, false, workspace.ErrNotEncrypted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := testdir.New(t)
			var right workspace.KeySource
			if tt.encrypted {
				right = workspace.KeyBytes(newKey())
			}
			// ExternalCheckpoints: Close leaves the WAL as a kill would.
			opts := &workspace.Options{Migrations: schema(1), Key: right, ExternalCheckpoints: true}
			ws, err := workspace.Open(testdir.Context(t), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			writeMarkers(t, ws, 30)
			if err := ws.Close(); err != nil {
				t.Fatal(err)
			}
			before := testdir.Snapshot(t, dir, dbFiles...)
			if len(before["litedir.db-wal"]) == 0 && ncruces.Platform().JournalMode == "wal" {
				t.Fatalf("no WAL left: %v", testdir.Names(t, dir))
			}

			var key workspace.KeySource
			if tt.open {
				key = workspace.KeyBytes(newKey())
			}
			open := workspace.Open
			if tt.readOnly {
				open = workspace.OpenReadOnly
			}
			_, err = open(testdir.Context(t), dir, &workspace.Options{Key: key})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "litedir.db") {
				t.Errorf("Open: got %v, want the error to name the database", err)
			}
			testdir.SameFiles(t, before, testdir.Snapshot(t, dir, dbFiles...))

			ws = mustOpen(t, dir, &workspace.Options{Key: right})
			if got := count(t, ws, "SELECT count(*) FROM notes"); got != 30 {
				t.Errorf("with the right key: got %d notes, want 30", got)
			}
		})
	}
}

// TestEncryptedIncompatible opens an open encrypted workspace again in the
// same process: with the same key it shares the entry; with another key,
// or none, it is refused with ErrIncompatible.
func TestEncryptedIncompatible(t *testing.T) {
	dir := testdir.New(t)
	key := newKey()
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1), Key: workspace.KeyBytes(key)})
	writeMarkers(t, ws, 1)
	again := mustOpen(t, dir, &workspace.Options{Key: workspace.KeyBytes(key)})
	if got := count(t, again, "SELECT count(*) FROM notes"); got != 1 {
		t.Errorf("second handle: got %d notes, want 1", got)
	}
	for _, k := range []workspace.KeySource{workspace.KeyBytes(newKey()), nil} {
		if _, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Key: k}); !errors.Is(err, workspace.ErrIncompatible) {
			t.Errorf("Open with another key: got %v, want ErrIncompatible", err)
		}
	}
}

// TestKeySource checks the key sources and what Open does with what they
// give: an error, or anything but 32 bytes, fails Open before anything is
// created.
func TestKeySource(t *testing.T) {
	failing := errors.New("keyring locked")
	for _, tt := range []struct {
		name string
		src  workspace.KeySource
		want error
	}{
		{"error", func(context.Context) ([]byte, error) { return nil, failing }, failing},
		{"short", workspace.KeyBytes(make([]byte, 16)), workspace.ErrInvalidKey},
		{"missing file", workspace.KeyFile(filepath.Join(testdir.New(t), "none")), fs.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(testdir.New(t), "ws")
			if _, err := workspace.Open(testdir.Context(t), dir, &workspace.Options{Key: tt.src}); !errors.Is(err, tt.want) {
				t.Errorf("Open: got %v, want %v", err, tt.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open created %s: %v", dir, err)
			}
		})
	}

	// KeyBytes copies: clearing the caller's slice changes nothing.
	key := newKey()
	src := workspace.KeyBytes(key)
	want := bytes.Clone(key)
	clear(key)
	if got, _ := src(context.Background()); !bytes.Equal(got, want) {
		t.Error("KeyBytes: the key changed with the caller's slice")
	}
}

func TestParseKey(t *testing.T) {
	raw := newKey()
	hx := hex.EncodeToString(raw)
	for _, tt := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"raw", string(raw), true},
		{"hex", hx, true},
		{"hex and newline", hx + "\n", true},
		{"hex and CRLF", hx + "\r\n", true},
		{"upper-case hex", strings.ToUpper(hx) + "\n", true},
		{"hex and two newlines", hx + "\n\n", false},
		{"short hex", hx[:62] + "\n", false},
		{"not hex", strings.Repeat("zz", 32), false},
		{"passphrase", "correct horse battery staple\n", false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := workspace.ParseKey([]byte(tt.in))
			switch {
			case tt.ok && (err != nil || !bytes.Equal(got, raw)):
				t.Errorf("ParseKey: got %x, %v, want the key", got, err)
			case !tt.ok && !errors.Is(err, workspace.ErrInvalidKey):
				t.Errorf("ParseKey: got %x, %v, want ErrInvalidKey", got, err)
			case !tt.ok && tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)):
				t.Errorf("ParseKey: the error shows the input: %v", err)
			}
		})
	}

	path := filepath.Join(testdir.New(t), "key")
	if err := os.WriteFile(path, []byte(hx+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := workspace.KeyFile(path)(context.Background()); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("KeyFile: got %x, %v, want the key", got, err)
	}
	if err := os.WriteFile(path, []byte("secret passphrase"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := workspace.KeyFile(path)(context.Background())
	var pe *fs.PathError
	if !errors.Is(err, workspace.ErrInvalidKey) || !errors.As(err, &pe) || pe.Path != path || strings.Contains(err.Error(), "passphrase") {
		t.Errorf("KeyFile of a passphrase: got %v, want ErrInvalidKey naming the file, not its contents", err)
	}
}

// TestDeferredSyncEncrypted: an encrypted workspace commits at FULL itself,
// never through the committer's sync stage (see internal/committer's
// syncer.go; the crash simulation in ncruces shows the stage losing
// acknowledged Writes there), where a plaintext one uses it.
func TestDeferredSyncEncrypted(t *testing.T) {
	if !ncruces.Platform().SharedMemory {
		t.Skip("no WAL on this platform: commits sync themselves")
	}
	for _, sync := range []string{"FULL", "EXTRA"} {
		for _, key := range [][]byte{nil, newKey()} {
			opts := &workspace.Options{Pragmas: []ncruces.Pragma{{Name: "synchronous", Value: sync}}}
			want := sync
			if key != nil {
				opts.Key, want = workspace.KeyBytes(key), ""
			}
			ws := mustOpen(t, testdir.New(t), opts)
			if got := workspace.DeferredSync(ws); got != want {
				t.Errorf("%s, encrypted %v: the sync stage provides %q, want %q", sync, key != nil, got, want)
			}
		}
	}
}
