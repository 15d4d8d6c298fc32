package lock

import (
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
)

var started = time.Date(2026, 11, 23, 18, 45, 0, 0, time.UTC)

func TestOwnerString(t *testing.T) {
	tests := []struct {
		name  string
		owner Owner
		want  string
	}{
		{"full", Owner{PID: 1234, Host: "host", Program: "myapp/1.4.2", StartedAt: started}, "pid 1234 (myapp/1.4.2 on host, started 2026-11-23T18:45:00Z)"},
		{"zero", Owner{}, "unknown owner"},
		{"pid only", Owner{PID: 7}, "pid 7"},
		{"no host", Owner{PID: 7, Program: "app"}, "pid 7 (app)"},
		{"no program", Owner{PID: 7, Host: "h"}, "pid 7 (on h)"},
		{"no pid", Owner{Program: "app", Host: "h"}, "unknown pid (app on h)"},
		{"time only", Owner{StartedAt: started}, "unknown pid (started 2026-11-23T18:45:00Z)"},
		{"local time", Owner{PID: 1, StartedAt: started.In(time.FixedZone("X", 3600))}, "pid 1 (started 2026-11-23T18:45:00Z)"},
		{"meta only", Owner{Meta: map[string]string{"k": "v"}}, "unknown pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.owner.String(); got != tt.want {
				t.Errorf("String: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOwnerIsZero(t *testing.T) {
	tests := []struct {
		owner Owner
		want  bool
	}{
		{Owner{}, true},
		{Owner{Meta: map[string]string{}}, true},
		{Owner{PID: 1}, false},
		{Owner{Host: "h"}, false},
		{Owner{Program: "p"}, false},
		{Owner{StartedAt: started}, false},
		{Owner{Meta: map[string]string{"k": "v"}}, false},
	}
	for _, tt := range tests {
		if got := tt.owner.IsZero(); got != tt.want {
			t.Errorf("%+v.IsZero(): got %v, want %v", tt.owner, got, tt.want)
		}
	}
}

func TestLockedErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *LockedError
		want string
	}{
		{"owner", &LockedError{Dir: "/data/x", Owner: Owner{PID: 1234, Host: "host", Program: "myapp/1.4.2", StartedAt: started}},
			"lock: /data/x is in use by pid 1234 (myapp/1.4.2 on host, started 2026-11-23T18:45:00Z)"},
		{"shared", &LockedError{Dir: "/data/x", HeldShared: true}, "lock: /data/x is in use by shared holders"},
		{"unknown", &LockedError{Dir: "/data/x"}, "lock: /data/x is in use by an unknown process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error: got %q, want %q", got, tt.want)
			}
			if !tt.err.Is(ErrLocked) || tt.err.Is(ErrSymlink) {
				t.Errorf("Is(ErrLocked), Is(ErrSymlink): got %v, %v, want true, false", tt.err.Is(ErrLocked), tt.err.Is(ErrSymlink))
			}
		})
	}
}

func TestParseOwner(t *testing.T) {
	full := Owner{PID: 42, Host: "h", Program: "p/1", StartedAt: started, Meta: map[string]string{"addr": "x"}}
	rec, err := encodeOwner(full)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want Owner
	}{
		{"record", string(rec), full},
		{"record then stale tail", string(rec) + `ram": "old", "pid": 7}` + "\n", full},
		{"empty", "", Owner{}},
		{"whitespace", " \n\t", Owner{}},
		{"null", "null", Owner{}},
		{"array", "[1, 2]", Owner{}},
		{"number", "12", Owner{}},
		{"truncated", string(rec[:len(rec)/2]), Owner{}},
		{"binary", "\x00\xff\xfe", Owner{}},
		{"bad pid keeps the rest", `{"pid": "12", "host": "h", "program": "p"}`, Owner{Host: "h", Program: "p"}},
		{"fractional pid", `{"pid": 1.5, "program": "p"}`, Owner{Program: "p"}},
		{"bad time keeps the rest", `{"pid": 3, "started_at": "yesterday"}`, Owner{PID: 3}},
		{"bad meta value dropped", `{"pid": 3, "meta": {"a": "b", "n": 1, "o": {}}}`, Owner{PID: 3, Meta: map[string]string{"a": "b"}}},
		{"meta not an object", `{"pid": 3, "meta": [1]}`, Owner{PID: 3}},
		{"unknown fields", `{"pid": 3, "future": {"x": [1]}}`, Owner{PID: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseOwner([]byte(tt.in)); !sameOwner(got, tt.want) {
				t.Errorf("parseOwner(%q): got %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestEncodeOwnerTooLarge(t *testing.T) {
	_, err := encodeOwner(Owner{Meta: map[string]string{"big": strings.Repeat("x", maxRecord)}})
	if err == nil {
		t.Fatal("encodeOwner of an oversized record: got nil, want error")
	}
	dir := testdir.New(t)
	_, err = acquire(t.Context(), dir, Options{Meta: map[string]string{"big": strings.Repeat("x", maxRecord)}})
	if got := testdir.Names(t, dir); err == nil || len(got) != 0 {
		t.Errorf("Acquire with oversized Meta: got %v and entries %q, want ErrInvalidOptions and none", err, got)
	}
}

func FuzzParseOwner(f *testing.F) {
	rec, err := encodeOwner(Owner{PID: 42, Host: "h", Program: "p/1", StartedAt: started, Meta: map[string]string{"addr": "x"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec)
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte(`{"pid": "x", "meta": {"a": 1}}`))
	f.Add([]byte(`{"started_at": "2026-11-23T18:45:00+01:00"}`))
	f.Add([]byte("\x00\xff{"))
	f.Add(append(rec, `garbage}`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		o := parseOwner(b)
		_ = o.String()
		// What parseOwner returns, the holder could have written: it reads back the same.
		rec, err := encodeOwner(o)
		if err != nil {
			if len(b) <= maxRecord {
				t.Fatalf("encodeOwner(%+v): %v", o, err)
			}
			return
		}
		if again := parseOwner(rec); !sameOwner(again, o) {
			t.Errorf("parseOwner(encodeOwner(%+v)): got %+v", o, again)
		}
	})
}
