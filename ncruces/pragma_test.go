package ncruces

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

func TestPragmaString(t *testing.T) {
	tests := []struct {
		p    Pragma
		want string
	}{
		{Pragma{"busy_timeout", "10000"}, "PRAGMA busy_timeout=10000"},
		{Pragma{"main.journal_mode", "WAL"}, "PRAGMA main.journal_mode=WAL"},
		{Pragma{"optimize", ""}, "PRAGMA optimize"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String(): got %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestDefaultPragmas(t *testing.T) {
	want := []string{
		"PRAGMA busy_timeout=10000",
		"PRAGMA page_size=4096",
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=NORMAL",
		"PRAGMA foreign_keys=ON",
		"PRAGMA temp_store=MEMORY",
		"PRAGMA cache_size=-8000",
		"PRAGMA journal_size_limit=67108864",
		"PRAGMA secure_delete=FAST",
	}
	var got []string
	for _, p := range DefaultPragmas() {
		got = append(got, p.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultPragmas(): got %v, want %v", got, want)
	}
	// Every call returns a new slice.
	DefaultPragmas()[0].Value = "0"
	if v := DefaultPragmas()[0].Value; v != "10000" {
		t.Errorf("DefaultPragmas() shares its slice: got busy_timeout=%v, want 10000", v)
	}
	merged, err := MergePragmas(DefaultPragmas())
	if err != nil || !reflect.DeepEqual(merged, DefaultPragmas()) {
		t.Errorf("MergePragmas(DefaultPragmas()): got %v, %v, want them unchanged", merged, err)
	}
}

func TestMergePragmas(t *testing.T) {
	p := func(name, value string) Pragma { return Pragma{name, value} }
	tests := []struct {
		name      string
		base      []Pragma
		overrides []Pragma
		want      []Pragma
	}{
		{"empty", nil, nil, []Pragma{}},
		{"replace in place, case-insensitive",
			[]Pragma{p("busy_timeout", "1"), p("synchronous", "NORMAL"), p("foreign_keys", "ON")},
			[]Pragma{p("SYNCHRONOUS", "FULL")},
			[]Pragma{p("busy_timeout", "1"), p("SYNCHRONOUS", "FULL"), p("foreign_keys", "ON")}},
		{"append new, in order",
			[]Pragma{p("busy_timeout", "1")},
			[]Pragma{p("cache_size", "-2000"), p("mmap_size", "0")},
			[]Pragma{p("busy_timeout", "1"), p("cache_size", "-2000"), p("mmap_size", "0")}},
		{"later override wins",
			[]Pragma{p("busy_timeout", "1")},
			[]Pragma{p("cache_size", "1"), p("cache_size", "2")},
			[]Pragma{p("busy_timeout", "1"), p("cache_size", "2")}},
		{"busy_timeout moved first",
			[]Pragma{p("journal_mode", "WAL"), p("foreign_keys", "ON")},
			[]Pragma{p("busy_timeout", "5000")},
			[]Pragma{p("busy_timeout", "5000"), p("journal_mode", "WAL"), p("foreign_keys", "ON")}},
		{"locking_mode right after busy_timeout",
			DefaultPragmas(),
			[]Pragma{p("locking_mode", "EXCLUSIVE")},
			[]Pragma{p("busy_timeout", "10000"), p("locking_mode", "EXCLUSIVE"), p("page_size", "4096"),
				p("journal_mode", "WAL"), p("synchronous", "NORMAL"), p("foreign_keys", "ON"),
				p("temp_store", "MEMORY"), p("cache_size", "-8000"), p("journal_size_limit", "67108864"),
				p("secure_delete", "FAST")}},
		{"page_size moved before journal_mode",
			[]Pragma{p("foreign_keys", "ON"), p("journal_mode", "WAL"), p("synchronous", "NORMAL")},
			[]Pragma{p("page_size", "8192")},
			[]Pragma{p("foreign_keys", "ON"), p("page_size", "8192"), p("journal_mode", "WAL"), p("synchronous", "NORMAL")}},
		{"page_size already before journal_mode stays",
			[]Pragma{p("page_size", "8192"), p("foreign_keys", "ON"), p("journal_mode", "WAL")},
			nil,
			[]Pragma{p("page_size", "8192"), p("foreign_keys", "ON"), p("journal_mode", "WAL")}},
		{"schema-qualified names order by their base name",
			[]Pragma{p("main.journal_mode", "WAL"), p("main.page_size", "8192"), p("main.busy_timeout", "1")},
			nil,
			[]Pragma{p("main.busy_timeout", "1"), p("main.page_size", "8192"), p("main.journal_mode", "WAL")}},
		{"schema-qualified name is a different pragma",
			[]Pragma{p("journal_mode", "WAL")},
			[]Pragma{p("main.journal_mode", "DELETE")},
			[]Pragma{p("journal_mode", "WAL"), p("main.journal_mode", "DELETE")}},
		{"values",
			nil,
			[]Pragma{p("a", "-1"), p("b", "+2"), p("c", "0x1F"), p("d", "'text ok'"), p("e", `"x"`), p("f", "ON")},
			[]Pragma{p("a", "-1"), p("b", "+2"), p("c", "0x1F"), p("d", "'text ok'"), p("e", `"x"`), p("f", "ON")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := append([]Pragma(nil), tt.base...)
			got, err := MergePragmas(tt.base, tt.overrides...)
			if err != nil {
				t.Fatalf("MergePragmas: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MergePragmas:\ngot  %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(tt.base, base) {
				t.Errorf("MergePragmas modified base: got %v, want %v", tt.base, base)
			}
		})
	}
}

func TestMergePragmasInvalid(t *testing.T) {
	tests := []struct {
		name string
		bad  Pragma
	}{
		{"empty name", Pragma{"", "1"}},
		{"space in name", Pragma{"busy timeout", "1"}},
		{"digit first", Pragma{"1abc", "1"}},
		{"empty schema", Pragma{".journal_mode", "WAL"}},
		{"two dots", Pragma{"a.b.c", "1"}},
		{"injection in name", Pragma{"x=1; DROP TABLE t; --", "1"}},
		{"empty value", Pragma{"busy_timeout", ""}},
		{"statement in value", Pragma{"busy_timeout", "1; DROP TABLE t"}},
		{"space in value", Pragma{"journal_mode", "W AL"}},
		{"quote inside", Pragma{"x", "'a'b'"}},
		{"semicolon in quotes", Pragma{"x", "'a;b'"}},
		{"unterminated quote", Pragma{"x", "'abc"}},
		{"mixed quotes", Pragma{"x", `'abc"`}},
		{"newline in quotes", Pragma{"x", "'a\nb'"}},
		{"parentheses", Pragma{"x", "(1)"}},
		{"float", Pragma{"x", "1.5"}},
		{"bare sign", Pragma{"x", "-"}},
		{"bare hex prefix", Pragma{"x", "0x"}},
		{"non-ASCII identifier", Pragma{"x", "ünï"}},
	}
	for _, tt := range tests {
		for _, where := range []string{"base", "override"} {
			t.Run(tt.name+"/"+where, func(t *testing.T) {
				base, overrides := DefaultPragmas(), []Pragma{tt.bad}
				if where == "base" {
					base, overrides = append(base, tt.bad), nil
				}
				got, err := MergePragmas(base, overrides...)
				if !errors.Is(err, ErrInvalidPragma) {
					t.Fatalf("MergePragmas(%#v): got %v, %v, want ErrInvalidPragma", tt.bad, got, err)
				}
				var pe *PragmaError
				if !errors.As(err, &pe) || pe.Pragma != tt.bad {
					t.Errorf("MergePragmas(%#v): got %v, want a *PragmaError naming it", tt.bad, err)
				}
				if got != nil {
					t.Errorf("MergePragmas(%#v): got %v with the error, want nil", tt.bad, got)
				}
			})
		}
	}
}

// FuzzPragma checks that a pragma MergePragmas accepts is one statement.
func FuzzPragma(f *testing.F) {
	f.Add("busy_timeout", "10000")
	f.Add("main.journal_mode", "WAL")
	f.Add("cache_size", "-8000")
	f.Add("optimize", "0x10002")
	f.Add("x", "'quoted text'")
	f.Add("x", "1; DROP TABLE t")
	f.Add("x;y", "1")
	f.Add("x", "'a'';b'")
	f.Fuzz(func(t *testing.T, name, value string) {
		p := Pragma{name, value}
		if _, err := MergePragmas(nil, p); err != nil {
			if !errors.Is(err, ErrInvalidPragma) {
				t.Fatalf("MergePragmas(%#v): got %v, want ErrInvalidPragma", p, err)
			}
			return
		}
		s := p.String()
		outside := s // the statement outside a quoted value
		if isQuoted(value) {
			outside = strings.TrimSuffix(s, value)
		}
		if strings.Contains(s, ";") || strings.Contains(outside, "--") || strings.Contains(outside, "/*") {
			t.Errorf("accepted %q, which SQL could read as more than one statement", s)
		}
		if strings.Count(s, "'")%2 != 0 || strings.Count(s, `"`)%2 != 0 {
			t.Errorf("accepted %q with unbalanced quotes", s)
		}
	})
}

// TestOpenPragmas checks the pragmas on every connection of a pool.
func TestOpenPragmas(t *testing.T) {
	prof := Platform()
	want := map[string]string{
		"busy_timeout":       "10000",
		"page_size":          "4096",
		"journal_mode":       prof.JournalMode,
		"synchronous":        "1",
		"foreign_keys":       "1",
		"temp_store":         "2",
		"cache_size":         "-8000",
		"journal_size_limit": "67108864",
		"secure_delete":      "2", // FAST
		"query_only":         "0",
	}
	if prof.LockingExclusive {
		want["locking_mode"] = "exclusive"
	}
	const n = 4
	db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "p.db"), MaxConns: n})
	conns := n
	if prof.SingleConnection {
		conns = 1
	}
	if got := db.Stats().MaxOpenConnections; got != conns {
		t.Errorf("MaxOpenConnections: got %v, want %v", got, conns)
	}
	// Hold all connections at once, so that each is a distinct new one.
	for i := range conns {
		conn := mustConn(t, db)
		for name, value := range want {
			if got := mustPragma(t, conn, name); got != value {
				t.Errorf("conn %d: PRAGMA %s: got %v, want %v", i, name, got, value)
			}
		}
	}
	if got := db.Stats().OpenConnections; got != conns {
		t.Errorf("OpenConnections: got %v, want %v", got, conns)
	}
}

func TestOpenPragmaOverrides(t *testing.T) {
	pragmas, err := MergePragmas(DefaultPragmas(),
		Pragma{"synchronous", "FULL"}, Pragma{"cache_size", "-2000"}, Pragma{"busy_timeout", "1234"},
		// Runs after cache_size, so it wins: proves the order.
		Pragma{"main.cache_size", "-3000"})
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "o.db"), Pragmas: pragmas})
	conn := mustConn(t, db)
	for name, want := range map[string]string{
		"busy_timeout": "1234", "synchronous": "2", "cache_size": "-3000", "foreign_keys": "1",
	} {
		if got := mustPragma(t, conn, name); got != want {
			t.Errorf("PRAGMA %s: got %v, want %v", name, got, want)
		}
	}
}

// TestOpenCustomPragmasKeepDriverBusyTimeout checks that a pragma list
// without busy_timeout does not lose the driver's default, as a _pragma DSN
// parameter would.
func TestOpenCustomPragmasKeepDriverBusyTimeout(t *testing.T) {
	db := mustOpen(t, Config{Path: filepath.Join(testdir.New(t), "b.db"), Pragmas: []Pragma{{"foreign_keys", "ON"}}})
	if got := mustPragma(t, mustConn(t, db), "busy_timeout"); got != "60000" {
		t.Errorf("PRAGMA busy_timeout: got %v, want the driver's 60000", got)
	}
}

func TestOpenInvalidPragma(t *testing.T) {
	dir := testdir.New(t)
	path := filepath.Join(dir, "x.db")
	bad := Pragma{"journal_mode", "WAL; DROP TABLE t"}
	db, err := Open(context.Background(), Config{Path: path, Pragmas: append(DefaultPragmas(), bad)})
	if !errors.Is(err, ErrInvalidPragma) {
		t.Fatalf("Open: got %v, %v, want ErrInvalidPragma", db, err)
	}
	var pe *PragmaError
	if !errors.As(err, &pe) || pe.Pragma != bad {
		t.Errorf("Open: got %v, want a *PragmaError naming %v", err, bad)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open: got %q, want the path in the message", err)
	}
	if names := testdir.Names(t, dir); len(names) != 0 {
		t.Errorf("Open with an invalid pragma created %v", names)
	}
}

// TestOpenPragmaFails checks that a pragma SQLite rejects fails Open, with
// the pragma and SQLite's error in the chain.
func TestOpenPragmaFails(t *testing.T) {
	path := filepath.Join(testdir.New(t), "x.db")
	bad := Pragma{"nosuchschema.cache_size", "1"}
	db, err := Open(context.Background(), Config{Path: path, Pragmas: append(DefaultPragmas(), bad)})
	if err == nil {
		db.Close()
		t.Fatal("Open: got nil error, want the pragma's")
	}
	if !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), "nosuchschema") {
		t.Errorf("Open: got %q, want the pragma and SQLite's message", err)
	}
	if classify(err) != nil {
		t.Errorf("classify(%v): got %v, want nil (SQLITE_ERROR has no class)", err, classify(err))
	}
}

// TestOpenPragmasConcurrent opens one database from many goroutines.
func TestOpenPragmasConcurrent(t *testing.T) {
	needSharedAccess(t)
	path := filepath.Join(testdir.New(t), "c.db")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			db, err := Open(context.Background(), Config{Path: path, MaxConns: 2})
			if err == nil {
				_, err = db.Exec("CREATE TABLE IF NOT EXISTS t (x)")
				err = errors.Join(err, db.Close())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}
