//go:build !litedir_wasm2go

package ncruces

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := parseEntry(f, fi.Size(), version); err != nil {
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

// parseEntry checks an entry of size bytes read from r the way wazero's
// loader reads it, and also that every function offset lies inside the
// code, which wazero trusts. The code (megabytes) streams through the
// checksum in small reads: reading the whole entry into memory first costs
// more than the check.
//
// The layout: magic, a byte with the length of the wazero version, the
// version, a uint32 function count, a uint64 code offset per function, the
// uint64 code length, the code, the CRC-32C of the code as uint32, and a
// byte saying whether a source map follows: a uint64 count and two uint64
// per entry. Integers are little-endian.
func parseEntry(r io.Reader, size int64, version string) error {
	er := entryReader{r: bufio.NewReaderSize(r, 64<<10), left: size}
	if !bytes.Equal(er.next(len(entryMagic)), entryMagic) {
		return errors.Join(er.err, errors.New("bad magic"))
	}
	if n := er.next(1); n == nil || int(n[0]) != len(version) || string(er.next(len(version))) != version {
		return errors.Join(er.err, fmt.Errorf("not written by wazero %s", version))
	}
	count := er.uint32()
	if er.err == nil && int64(count) > er.left/8 {
		return fmt.Errorf("%d functions beyond the end of the entry", count)
	}
	offsets := make([]uint64, 0, count)
	for i := uint32(0); i < count && er.err == nil; i++ {
		offsets = append(offsets, er.uint64())
	}
	codeSize := er.uint64()
	if er.err == nil && codeSize > uint64(er.left) {
		return fmt.Errorf("code size %d beyond the end of the entry", codeSize)
	}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	er.copy(crc, int64(codeSize))
	sum := er.uint32()
	if er.err != nil {
		return er.err
	}
	if want := crc.Sum32(); sum != want {
		return fmt.Errorf("code checksum %08x, want %08x", sum, want)
	}
	for i, off := range offsets {
		if off >= codeSize || (i > 0 && off < offsets[i-1]) {
			return fmt.Errorf("function %d at offset %d, outside the %d bytes of code or out of order", i, off, codeSize)
		}
	}
	switch flag := er.next(1); {
	case flag == nil:
		return er.err
	case flag[0] == 1:
		n := er.uint64()
		if er.err == nil && n > uint64(er.left)/16 {
			return fmt.Errorf("source map of %d entries beyond the end of the entry", n)
		}
		er.copy(io.Discard, int64(n)*16)
	case flag[0] != 0:
		return fmt.Errorf("source map flag %d", flag[0])
	}
	return er.err
}

// entryReader reads a cache entry front to back; after the first short read
// every read returns nil or zero and err says where it ran out.
type entryReader struct {
	r    *bufio.Reader
	left int64 // bytes of the entry not read yet
	off  int64
	buf  [256]byte
	err  error
}

// next returns the next n bytes (at most len(buf)), valid until the next
// call.
func (r *entryReader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if int64(n) > r.left {
		r.err = fmt.Errorf("truncated at byte %d", r.off)
		return nil
	}
	p := r.buf[:n]
	if _, err := io.ReadFull(r.r, p); err != nil {
		r.err = fmt.Errorf("at byte %d: %w", r.off, err)
		return nil
	}
	r.left -= int64(n)
	r.off += int64(n)
	return p
}

// copy copies the next n bytes to w.
func (r *entryReader) copy(w io.Writer, n int64) {
	if r.err != nil {
		return
	}
	if n > r.left {
		r.err = fmt.Errorf("truncated at byte %d", r.off)
		return
	}
	if _, err := io.CopyN(w, r.r, n); err != nil {
		r.err = fmt.Errorf("at byte %d: %w", r.off, err)
		return
	}
	r.left -= n
	r.off += n
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
