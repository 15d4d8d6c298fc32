//go:build !litedir_wasm2go

package ncruces

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/sys/cpu"
)

// This file checks the compilation cache entry of SQLite without compiling
// it. A warm wazero CompileModule still decodes and validates the whole Wasm
// binary (tens of milliseconds for SQLite) before it looks in the cache; the
// trial compile that proves a cache and the driver's own compile would pay
// that twice. Instead, checkEntry finds the file wazero will load for the
// driver's compile and verifies it the way wazero's loader does, so that a
// corrupt entry is caught before the driver can remember the failure.
//
// The file name and format are those of wazero v1.11.0, the version this
// build pins (internal/engine/wazevo/engine_cache.go and
// internal/filecache). Under any other wazero version checkEntry reports
// errEntryFormat and Initialize falls back to the trial compile, which
// needs no knowledge of the format.

// wazeroFormatVersions are the wazero versions whose cache entries checkEntry
// knows. "dev" is what wazero calls itself without build info (test binaries
// list no modules), and then both sides agree on it anyway.
var wazeroFormatVersions = map[string]bool{"v1.11.0": true, "dev": true}

// Errors of checkEntry. A missing entry is an [fs.ErrNotExist].
var (
	errEntryFormat  = errors.New("cache entry format of this wazero version unknown to litedir")
	errEntryCorrupt = errors.New("cache entry corrupt")
)

// entryMagic starts every compiled-module entry of wazero's optimizing
// compiler; it is also part of the entry's file name.
var entryMagic = []byte("WAZEVO")

// checkEntry verifies the cache entry in dir that the driver's compile of
// bin will load: the entry of a runtime without function listeners and
// without close-on-context-done, which is litedir's baseConfig.
func checkEntry(dir string, bin []byte) error {
	version := wazeroVersion()
	if !wazeroFormatVersions[version] {
		return fmt.Errorf("%w: wazero %s", errEntryFormat, version)
	}
	path := entryPath(dir, version, bin)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := parseEntry(b, version); err != nil {
		return fmt.Errorf("%w: %s: %w", errEntryCorrupt, path, err)
	}
	return nil
}

// entryPath returns the file of bin's entry in the cache directory dir:
// wazero's version-specific directory, and the hex of the SHA-256 of the
// module ID (the SHA-256 of the binary and a 0 byte for "no close on context
// done"), the magic and the CPU features wazero compiles for.
func entryPath(dir, version string, bin []byte) string {
	h := sha256.New()
	h.Write(bin)
	h.Write([]byte{0}) // ensureTermination: false
	id := h.Sum(nil)

	h.Reset()
	h.Write(id)
	h.Write(entryMagic)
	h.Write(binary.LittleEndian.AppendUint64(nil, cpuFeatures()))
	name := hex.EncodeToString(h.Sum(nil))
	return filepath.Join(dir, "wazero-"+version+"-"+runtime.GOARCH+"-"+runtime.GOOS, name)
}

// cpuFeatures returns the CPU feature bits wazero v1.11.0 puts into a cache
// key (internal/platform/cpuid_*.go), from the same golang.org/x/sys/cpu.
func cpuFeatures() uint64 {
	var flags uint64
	switch runtime.GOARCH {
	case "amd64":
		if cpu.X86.HasSSE41 {
			flags |= 1 << 0
		}
		if cpu.X86.HasBMI1 {
			flags |= 1 << 1
		}
		if cpu.X86.HasBMI1 && cpu.X86.HasBMI2 && cpu.X86.HasPOPCNT {
			flags |= 1 << 2
		}
	case "arm64":
		if runtime.GOOS == "darwin" || runtime.GOOS == "windows" || cpu.ARM64.HasATOMICS {
			flags |= 1 << 0
		}
	}
	return flags
}

// wazeroVersion returns the version wazero names itself after, by its own
// rule (internal/version): the version of the module whose path contains
// github.com/tetratelabs/wazero in the build info, else the main module's,
// else "dev".
func wazeroVersion() string {
	missing := func(v string) bool { return v == "" || v == "(devel)" }
	var v string
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if strings.Contains(m.Path, "github.com/tetratelabs/wazero") {
				v = m.Version
			}
		}
		if missing(v) {
			v = bi.Main.Version
		}
	}
	if missing(v) {
		return "dev"
	}
	return v
}

// parseEntry checks an entry the way wazero's loader reads it, and also that
// every function offset lies inside the code, which wazero trusts.
//
// The layout: magic, a byte with the length of the wazero version, the
// version, a uint32 function count, a uint64 code offset per function, the
// uint64 code length, the code, the CRC-32C of the code as uint32, and a
// byte saying whether a source map follows: a uint64 count and two uint64
// per entry. Integers are little-endian.
func parseEntry(b []byte, version string) error {
	r := entryReader{b: b}
	if !bytes.Equal(r.next(len(entryMagic)), entryMagic) {
		return errors.New("bad magic")
	}
	if n := r.next(1); n == nil || int(n[0]) != len(version) || string(r.next(len(version))) != version {
		return fmt.Errorf("not written by wazero %s", version)
	}
	count := r.uint32()
	offsets := make([]uint64, 0, min(count, uint32(len(b)/8)))
	for i := uint32(0); i < count && r.err == nil; i++ {
		offsets = append(offsets, r.uint64())
	}
	size := r.uint64()
	if r.err == nil && size > uint64(len(r.b)) {
		return fmt.Errorf("code size %d beyond the end of the entry", size)
	}
	code := r.next(int(size))
	sum := r.uint32()
	if r.err != nil {
		return r.err
	}
	if want := crc32.Checksum(code, crc32.MakeTable(crc32.Castagnoli)); sum != want {
		return fmt.Errorf("code checksum %08x, want %08x", sum, want)
	}
	for i, off := range offsets {
		if off >= size || (i > 0 && off < offsets[i-1]) {
			return fmt.Errorf("function %d at offset %d, outside the %d bytes of code or out of order", i, off, size)
		}
	}
	switch flag := r.next(1); {
	case flag == nil:
		return r.err
	case flag[0] == 1:
		n := r.uint64()
		if r.err == nil && n > uint64(len(r.b))/16 {
			return fmt.Errorf("source map of %d entries beyond the end of the entry", n)
		}
		r.next(int(n) * 16)
	case flag[0] != 0:
		return fmt.Errorf("source map flag %d", flag[0])
	}
	return r.err
}

// entryReader reads a cache entry front to back; after the first short read
// every read returns nil or zero and err says where it ran out.
type entryReader struct {
	b   []byte
	off int
	err error
}

func (r *entryReader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("truncated at byte %d", r.off)
		return nil
	}
	p := r.b[:n]
	r.b, r.off = r.b[n:], r.off+n
	return p
}

func (r *entryReader) uint32() uint32 {
	if p := r.next(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *entryReader) uint64() uint64 {
	if p := r.next(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}
