//go:build !litedir_wasm2go

package ncruces

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

// TestCheckEntry checks that checkEntry finds and accepts the entry wazero
// wrote for SQLite in this process's cache: the file name is computed the
// way wazero computes it, or this fails.
func TestCheckEntry(t *testing.T) {
	if err := Initialize(testLogger(t)); err != nil {
		t.Fatal(err)
	}
	info := EngineInfo()
	if info.CacheDir == "" {
		t.Skipf("no engine cache in this process: %s", info.CacheNote)
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		// The cache directory may hold other CPUs' entries; this one
		// wrote none.
		t.Skipf("wazero interprets SQLite on %s and caches no compiled code", runtime.GOARCH)
	}
	if len(cacheEntries(t, info.CacheDir)) == 0 {
		t.Skip("wazero wrote no cache entry")
	}
	bin, err := wasmBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkEntry(info.CacheDir, bin); err != nil {
		t.Errorf("checkEntry(%s): %v, want the entry found and valid", info.CacheDir, err)
	}
	// Another binary has no entry.
	other := append([]byte(nil), bin...)
	other[len(other)-1] ^= 1
	if err := checkEntry(info.CacheDir, other); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("checkEntry of another binary: got %v, want fs.ErrNotExist", err)
	}
}

// TestCheckEntryFile checks checkEntry on a file put where the entry goes.
func TestCheckEntryFile(t *testing.T) {
	dir := testdir.New(t)
	bin := []byte("\x00asm not really")
	path := entryPath(dir, wazeroVersion(), bin)
	if !strings.HasPrefix(filepath.Base(filepath.Dir(path)), "wazero-"+wazeroVersion()+"-") {
		t.Errorf("entry directory: got %s, want wazero's version-specific one", path)
	}
	if err := checkEntry(dir, bin); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no entry: got %v, want fs.ErrNotExist", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, testEntry(wazeroVersion(), []uint64{0, 3}, []byte("codecode"), 0), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkEntry(dir, bin); err != nil {
		t.Errorf("valid entry: %v", err)
	}
	if err := os.WriteFile(path, []byte("WAZEVO"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkEntry(dir, bin); !errors.Is(err, errEntryCorrupt) {
		t.Errorf("truncated entry: got %v, want errEntryCorrupt", err)
	}
}

// testEntry builds a cache entry in wazero's layout (see parseEntry), with
// a source map of sourceMap entries when that is not 0.
func testEntry(version string, offsets []uint64, code []byte, sourceMap int) []byte {
	le := binary.LittleEndian
	b := append([]byte("WAZEVO"), byte(len(version)))
	b = append(b, version...)
	b = le.AppendUint32(b, uint32(len(offsets)))
	for _, off := range offsets {
		b = le.AppendUint64(b, off)
	}
	b = le.AppendUint64(b, uint64(len(code)))
	b = append(b, code...)
	b = le.AppendUint32(b, crc32.Checksum(code, crc32.MakeTable(crc32.Castagnoli)))
	if sourceMap == 0 {
		return append(b, 0)
	}
	b = append(b, 1)
	b = le.AppendUint64(b, uint64(sourceMap))
	for i := range sourceMap {
		b = le.AppendUint64(b, uint64(i))
		b = le.AppendUint64(b, uint64(i))
	}
	return b
}

func TestParseEntry(t *testing.T) {
	const v = "v1.11.0"
	code := []byte("0123456789abcdef")
	valid := testEntry(v, []uint64{0, 4, 9}, code, 0)
	flip := func(b []byte, i int) []byte {
		b = append([]byte(nil), b...)
		b[i] ^= 0xff
		return b
	}
	codeAt := len("WAZEVO") + 1 + len(v) + 4 + 3*8 + 8
	tests := []struct {
		name  string
		entry []byte
		ok    bool
	}{
		{"valid", valid, true},
		{"valid with a source map", testEntry(v, []uint64{0, 4, 9}, code, 3), true},
		{"no functions", testEntry(v, nil, nil, 0), true},
		{"empty", nil, false},
		{"bad magic", flip(valid, 0), false},
		{"other wazero version", testEntry("v1.10.0", []uint64{0}, code, 0), false},
		{"code flipped", flip(valid, codeAt+5), false},
		{"checksum flipped", flip(valid, codeAt+len(code)), false},
		{"code size too big", flip(valid, codeAt-1), false},
		{"function count too big", flip(valid, codeAt-8-3*8-1), false},
		{"offset outside the code", testEntry(v, []uint64{0, 99}, code, 0), false},
		{"offsets out of order", testEntry(v, []uint64{4, 0}, code, 0), false},
		{"truncated before the source map flag", valid[:len(valid)-1], false},
		{"source map flag 2", append(valid[:len(valid)-1:len(valid)-1], 2), false},
		{"truncated source map", func() []byte { b := testEntry(v, []uint64{0}, code, 3); return b[:len(b)-1] }(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseEntry(bytes.NewReader(tt.entry), int64(len(tt.entry)), v)
			if (err == nil) != tt.ok {
				t.Errorf("parseEntry: got %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// FuzzParseEntry checks that no input makes parseEntry panic or accept an
// entry whose checksum does not match.
func FuzzParseEntry(f *testing.F) {
	f.Add(testEntry("dev", []uint64{0, 2}, []byte("code"), 0))
	f.Add(testEntry("dev", []uint64{0}, []byte("code"), 2))
	f.Add([]byte("WAZEVO\x03dev\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseEntry(bytes.NewReader(b), int64(len(b)), "dev")
	})
}
