package lock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxRecord bounds the owner record: Acquire refuses metadata that would not fit, and readers
// never read more, whatever the lock file holds.
const maxRecord = 64 << 10

// Owner is the owner record the exclusive holder writes into the lock file, as JSON.
type Owner struct {
	PID       int               `json:"pid"`            // process id of the holder
	Host      string            `json:"host"`           // host name of the holder's machine
	Program   string            `json:"program"`        // Options.Program of the holder
	StartedAt time.Time         `json:"started_at"`     // when the holder acquired the lock
	Meta      map[string]string `json:"meta,omitempty"` // Options.Meta of the holder

	// InProcess reports that the holder's lock excludes only the holder's own process: the
	// lock file could not be locked, and the holder accepted that (Options.AllowInProcess).
	// Another process is not kept out by it.
	InProcess bool `json:"in_process,omitempty"`
}

// IsZero reports whether o holds no information at all, as for a free directory, a shared
// holder, or an unreadable record.
func (o Owner) IsZero() bool {
	return o.PID == 0 && o.Host == "" && o.Program == "" && o.StartedAt.IsZero() && len(o.Meta) == 0 && !o.InProcess
}

// String describes the holder for error messages, e.g.
// "pid 1234 (myapp/1.4.2 on host, started 2026-11-23T18:45:00Z)". Missing parts are left out;
// the zero Owner is "unknown owner".
func (o Owner) String() string {
	if o.IsZero() {
		return "unknown owner"
	}
	var b strings.Builder
	if o.PID != 0 {
		b.WriteString("pid ")
		b.WriteString(strconv.Itoa(o.PID))
	} else {
		b.WriteString("unknown pid")
	}
	var detail []string
	switch {
	case o.Program != "" && o.Host != "":
		detail = append(detail, o.Program+" on "+o.Host)
	case o.Program != "":
		detail = append(detail, o.Program)
	case o.Host != "":
		detail = append(detail, "on "+o.Host)
	}
	if !o.StartedAt.IsZero() {
		detail = append(detail, "started "+o.StartedAt.UTC().Format(time.RFC3339))
	}
	if o.InProcess {
		detail = append(detail, "locked in its own process only")
	}
	if len(detail) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(detail, ", "))
	}
	return b.String()
}

// clone returns a copy of o that shares no map with it.
func (o Owner) clone() Owner {
	o.Meta = maps.Clone(o.Meta)
	return o
}

// newOwner returns the record of this process acquiring a lock with opts.
func newOwner(opts Options) Owner {
	program := opts.Program
	if program == "" && len(os.Args) > 0 {
		program = filepath.Base(os.Args[0])
	}
	host, _ := os.Hostname() // the record is informative; no host name is not a reason to fail
	o := Owner{
		PID:       os.Getpid(),
		Host:      host,
		Program:   program,
		StartedAt: time.Now().UTC(), // replaced by the time the lock is taken
	}
	if len(opts.Meta) > 0 {
		o.Meta = maps.Clone(opts.Meta)
	}
	return o
}

// encodeOwner returns the record as written to the lock file: JSON and a newline.
func encodeOwner(o Owner) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("%w: owner record: %v", ErrInvalidOptions, err)
	}
	b = append(b, '\n')
	if len(b) > maxRecord {
		return nil, fmt.Errorf("%w: owner record is %d bytes, more than %d", ErrInvalidOptions, len(b), maxRecord)
	}
	return b, nil
}

// parseOwner decodes as much of an owner record as it can and never fails: garbage gives the
// zero Owner, and a field of the wrong type is left zero while the others are kept. Only the
// first JSON value counts, so a record followed by the tail of a longer stale one (a holder
// killed between writing and truncating) still reads as the new record.
func parseOwner(b []byte) Owner {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&raw); err != nil {
		return Owner{}
	}
	var o Owner
	field := func(name string, v any) {
		if m, ok := raw[name]; ok {
			if err := json.Unmarshal(m, v); err != nil {
				// Unmarshal may have filled v partly; a field is all or nothing.
				zeroField(v)
			}
		}
	}
	field("pid", &o.PID)
	field("host", &o.Host)
	field("program", &o.Program)
	field("started_at", &o.StartedAt)
	field("in_process", &o.InProcess)
	var meta map[string]json.RawMessage
	field("meta", &meta)
	for k, m := range meta {
		var v string
		if json.Unmarshal(m, &v) == nil {
			if o.Meta == nil {
				o.Meta = make(map[string]string, len(meta))
			}
			o.Meta[k] = v
		}
	}
	return o
}

// zeroField resets the field pointed to by v, one of those parseOwner decodes.
func zeroField(v any) {
	switch p := v.(type) {
	case *int:
		*p = 0
	case *bool:
		*p = false
	case *string:
		*p = ""
	case *time.Time:
		*p = time.Time{}
	case *map[string]json.RawMessage:
		*p = nil
	}
}

// readRecord reads the owner record at the start of f, at most maxRecord bytes, without moving
// the file offset.
func readRecord(f *os.File) ([]byte, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, maxRecord))
	if err != nil {
		return nil, pathError("read", f.Name(), err)
	}
	return b, nil
}

// readOwnerFrom returns the owner record in f, or the zero Owner if it cannot be read.
func readOwnerFrom(f *os.File) Owner {
	b, err := readRecord(f)
	if err != nil {
		return Owner{}
	}
	return parseOwner(b)
}

// ReadOwner returns the owner record in the lock file of dir and the base
// name name ("" means DefaultName; see [Path]), reading it without locking.
//
// The zero Owner means the lock is free, held shared, or that the record is empty or unreadable:
// garbage content is not an error. A record is not proof that its owner still holds the lock (a
// killed holder leaves its record behind); only [Acquire] can tell.
//
// Errors are I/O errors as *fs.PathErrors: a missing file matches fs.ErrNotExist, a symbolic
// link [ErrSymlink] (it is not followed), anything else that is not a regular file
// [ErrNotRegular].
func ReadOwner(dir, name string) (Owner, error) {
	b, err := readRecordFile(Path(dir, name))
	if err != nil {
		return Owner{}, err
	}
	return parseOwner(b), nil
}
