package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
)

// The human output of status and version is a list of "key: value" lines
// with the values aligned, and the -json output a JSON object with stable
// lower_snake_case keys. The JSON types below are the CLI's output format,
// kept apart from the library's types so that a change there cannot change
// what scripts parse.

// fields collects "key: value" lines and prints them with aligned values.
type fields struct {
	keys, values []string
}

// add appends a line; format and args make the value.
func (f *fields) add(key, format string, args ...any) {
	f.keys = append(f.keys, key)
	f.values = append(f.values, fmt.Sprintf(format, args...))
}

// write prints the lines to w.
func (f *fields) write(w io.Writer) error {
	width := 0
	for _, k := range f.keys {
		width = max(width, len(k)+1)
	}
	var b strings.Builder
	for i, k := range f.keys {
		fmt.Fprintf(&b, "%-*s %s\n", width, k+":", f.values[i])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ownerJSON is a lock owner record.
type ownerJSON struct {
	PID       int               `json:"pid"`
	Program   string            `json:"program"`
	Host      string            `json:"host"`
	StartedAt time.Time         `json:"started_at"`
	Meta      map[string]string `json:"meta,omitempty"`
	InProcess bool              `json:"in_process,omitempty"` // the owner's lock excludes its own process only
}

// newOwnerJSON returns o, or nil for the zero Owner (no record).
func newOwnerJSON(o lock.Owner) *ownerJSON {
	if o.IsZero() {
		return nil
	}
	return &ownerJSON{PID: o.PID, Program: o.Program, Host: o.Host, StartedAt: o.StartedAt, Meta: o.Meta, InProcess: o.InProcess}
}

// platformJSON is a platform profile.
type platformJSON struct {
	GOOS             string         `json:"goos"`
	GOARCH           string         `json:"goarch"`
	Locking          string         `json:"locking"`
	FileLocking      bool           `json:"file_locking"`
	SharedMemory     bool           `json:"shared_memory"`
	SingleConnection bool           `json:"single_connection"`
	LockingExclusive bool           `json:"locking_exclusive"`
	NoLock           bool           `json:"no_lock"`
	JournalMode      string         `json:"journal_mode"`
	Filesystem       filesystemJSON `json:"filesystem"`
	Notes            []string       `json:"notes"`
}

// filesystemJSON is the filesystem a profile is for.
type filesystemJSON struct {
	Type  string `json:"type"`  // "ext4", "nfs", "fuse.sshfs"...; "" when unknown
	Kind  string `json:"kind"`  // "local", "network", "fuse" or "unknown"
	Local bool   `json:"local"` // SQLite's shared memory and locks are trusted there
	Mode  string `json:"mode"`  // the Filesystem mode: "auto", "local" or "network"
}

func newPlatformJSON(p ncruces.Profile) platformJSON {
	return platformJSON{
		GOOS:             p.GOOS,
		GOARCH:           p.GOARCH,
		Locking:          p.Locking,
		FileLocking:      p.FileLocking,
		SharedMemory:     p.SharedMemory,
		SingleConnection: p.SingleConnection,
		LockingExclusive: p.LockingExclusive,
		NoLock:           p.NoLock,
		JournalMode:      p.JournalMode,
		Filesystem: filesystemJSON{
			Type:  p.Filesystem.Type,
			Kind:  string(p.Filesystem.Kind),
			Local: p.Filesystem.Local(),
			Mode:  p.FilesystemMode.String(),
		},
		Notes: append([]string{}, p.Notes...), // [] rather than null
	}
}

// engineJSON describes the SQLite engine.
type engineJSON struct {
	Name          string `json:"name"` // "wazero" or "wasm2go"
	SQLiteVersion string `json:"sqlite_version"`
	DriverVersion string `json:"driver_version"`
	WazeroVersion string `json:"wazero_version,omitempty"` // wazero engine only
	CacheDir      string `json:"cache_dir"`
	CacheNote     string `json:"cache_note,omitempty"`
}

func newEngineJSON(e ncruces.Engine) engineJSON {
	return engineJSON{
		Name:          e.Name,
		SQLiteVersion: e.SQLiteVersion,
		DriverVersion: e.DriverVersion,
		WazeroVersion: engineWazeroVersion(e),
		CacheDir:      e.CacheDir,
		CacheNote:     e.CacheNote,
	}
}

// addOwner adds the owner lines: the record's holder and its metadata, or
// "none".
func (f *fields) addOwner(o lock.Owner) {
	if o.IsZero() {
		// Shared holders write no record, so "none" does not prove the
		// workspace is free.
		f.add("owner", "none (free, or held shared)")
		return
	}
	f.add("owner", "%v", o)
	if len(o.Meta) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(o.Meta)) {
			parts = append(parts, k+"="+o.Meta[k])
		}
		f.add("owner meta", "%s", strings.Join(parts, " "))
	}
	if o.InProcess {
		f.add("lock scope", "the owner's process only: another process is not kept out")
	}
	switch o.State() {
	case lock.StateHeld:
		f.add("lock", "held: pid %d is running", o.PID)
	case lock.StateStale:
		f.add("lock", "free: the record is stale, pid %d is gone", o.PID)
	default:
		f.add("lock", "unknown: the owner is on host %q", o.Host)
	}
}

// addPlatform adds the platform profile lines.
func (f *fields) addPlatform(p ncruces.Profile) {
	conns := "a writer and a pool of readers"
	if p.SingleConnection {
		conns = "one connection"
	}
	f.add("platform", "%s/%s: %s file locks, %s, %s, %s journal",
		p.GOOS, p.GOARCH, p.Locking, yesNo(p.SharedMemory, "WAL shared memory", "no WAL shared memory"),
		conns, p.JournalMode)
	if p.Filesystem != (ncruces.Filesystem{}) {
		f.add("filesystem", "%s, mode %s", p.Filesystem, p.FilesystemMode)
	}
	for _, n := range p.Notes {
		f.add("platform note", "%s", n)
	}
}

// addEngine adds the engine lines.
func (f *fields) addEngine(e ncruces.Engine) {
	runtime := "wasm2go"
	if v := engineWazeroVersion(e); v != "" {
		runtime = "wazero " + v
	}
	f.add("engine", "SQLite %s, github.com/ncruces/go-sqlite3 %s, %s", orUnknown(e.SQLiteVersion), orUnknown(e.DriverVersion), runtime)
	switch {
	case e.CacheDir == "":
		f.add("engine cache", "off (%s)", e.CacheNote)
	case e.CacheNote != "":
		f.add("engine cache", "%s (%s)", e.CacheDir, e.CacheNote)
	default:
		f.add("engine cache", "%s", e.CacheDir)
	}
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// plural returns "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
