package fileuri

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("expectations are Unix paths; FuzzFormat's seeds cover Windows")
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		params url.Values
		want   string
	}{
		{"plain", "/data/app.db", nil, "file:/data/app.db"},
		{"space", "/data/a b.db", nil, "file:/data/a%20b.db"},
		{"question mark", "/data/q?x.db", nil, "file:/data/q%3Fx.db"},
		{"hash", "/data/h#x.db", nil, "file:/data/h%23x.db"},
		{"percent escape", "/data/p%20x.db", nil, "file:/data/p%2520x.db"},
		{"encoded slash", "/data/p%2Fx.db", nil, "file:/data/p%252Fx.db"},
		{"lone percent", "/data/p%x.db", nil, "file:/data/p%25x.db"},
		{"unicode", "/data/ünï.db", nil, "file:/data/%C3%BCn%C3%AF.db"},
		{"semicolon", "/data/semi;colon.db", nil, "file:/data/semi%3Bcolon.db"},
		{"query characters", "/data/a&b=c+d.db", nil, "file:/data/a%26b%3Dc%2Bd.db"},
		{"colon", "/data/a:b.db", nil, "file:/data/a:b.db"},
		{"cleaned", "/data/../data/./x.db", nil, "file:/data/x.db"},
		{"double slash", "//data//x.db", nil, "file:/data/x.db"},
		{"relative", "x.db", nil, "file:" + filepath.ToSlash(cwd) + "/x.db"},
		{"leading file:", "file:x.db", nil, "file:" + filepath.ToSlash(cwd) + "/file:x.db"},
		{"windows-looking", `C:\db\x.db`, nil, "file:" + filepath.ToSlash(cwd) + "/C:%5Cdb%5Cx.db"},
		{"params sorted", "/x.db", url.Values{"mode": {"ro"}, "_txlock": {"immediate"}, "nolock": {"1"}},
			"file:/x.db?_txlock=immediate&mode=ro&nolock=1"},
		{"param space is %20", "/x.db", url.Values{"vfs": {"my vfs+1"}}, "file:/x.db?vfs=my%20vfs%2B1"},
		{"param escapes", "/x.db", url.Values{"a&b": {"c=d#e?f"}}, "file:/x.db?a%26b=c%3Dd%23e%3Ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Format(tt.path, tt.params)
			if err != nil {
				t.Fatalf("Format(%q): %v", tt.path, err)
			}
			if got != tt.want {
				t.Errorf("Format(%q, %v): got %v, want %v", tt.path, tt.params, got, tt.want)
			}
		})
	}
}

func TestFormatInvalid(t *testing.T) {
	for _, path := range []string{"", "a\x00b.db"} {
		t.Run(strings.ReplaceAll(path, "\x00", "NUL"), func(t *testing.T) {
			got, err := Format(path, nil)
			if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("Format(%q): got %q, %v, want ErrInvalidPath", path, got, err)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != path {
				t.Errorf("Format(%q): got %v, want *fs.PathError for the path", path, err)
			}
		})
	}
}

// sqliteURI splits a "file:" URI the way SQLite's sqlite3ParseUri does in the
// driver's build (SQLITE_ALLOW_URI_AUTHORITY): it returns the file name and
// the parameters, %HH-decoded.
func sqliteURI(uri string) (path string, params url.Values, ok bool) {
	rest, ok := strings.CutPrefix(uri, "file:")
	if !ok {
		return "", nil, false
	}
	switch {
	case strings.HasPrefix(rest, "/////"):
		rest = rest[3:]
	case strings.HasPrefix(rest, "///"):
		rest = rest[2:]
	case strings.HasPrefix(rest, "//localhost/"):
		rest = rest[11:]
	}
	rest, _, _ = strings.Cut(rest, "#")
	rest, query, _ := strings.Cut(rest, "?")
	params = url.Values{}
	for kv := range strings.SplitSeq(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		params.Add(uriDecode(k), uriDecode(v))
	}
	return uriDecode(rest), params, true
}

// uriDecode decodes %HH escapes as SQLite does: anything else, a lone '%'
// and '+' included, is literal.
func uriDecode(s string) string {
	unhex := func(c byte) (byte, bool) {
		switch {
		case '0' <= c && c <= '9':
			return c - '0', true
		case 'a' <= c && c <= 'f':
			return c - 'a' + 10, true
		case 'A' <= c && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkURI checks that SQLite and the driver both read dsn as path and
// params.
func checkURI(t *testing.T, dsn, path string, params url.Values) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	gotPath, gotParams, ok := sqliteURI(dsn)
	if !ok {
		t.Fatalf("Format(%q) = %q: not a file: URI", path, dsn)
	}
	if want := filepath.ToSlash(abs); gotPath != want {
		t.Errorf("Format(%q) = %q: SQLite opens %q, want %q", path, dsn, gotPath, want)
	}
	if params == nil {
		params = url.Values{}
	}
	if !reflect.DeepEqual(gotParams, params) {
		t.Errorf("Format(%q) = %q: SQLite reads params %v, want %v", path, dsn, gotParams, params)
	}
	// The driver reads _txlock and _timefmt from after the first '?'.
	driverParams := url.Values{}
	if _, query, ok := strings.Cut(dsn, "?"); ok {
		if driverParams, err = url.ParseQuery(query); err != nil {
			t.Errorf("Format(%q) = %q: driver cannot parse the query: %v", path, dsn, err)
		}
	}
	if !reflect.DeepEqual(driverParams, params) {
		t.Errorf("Format(%q) = %q: driver reads params %v, want %v", path, dsn, driverParams, params)
	}
}

func FuzzFormat(f *testing.F) {
	for _, path := range []string{
		"a b.db", "q?x.db", "h#x.db", "p%20x.db", "p%x.db", "p%2Fx.db", "ünï.db", "semi;colon.db",
		"a&b=c.db", "file:x.db", "file:///x.db", "/abs/x.db", "//localhost/x.db", "/////x",
		`C:\Users\me\x.db`, "C:/Users/me/x.db", `\\server\share\x.db`, "%", "%%41", "+plus+",
	} {
		f.Add(path, "mode", "ro")
	}
	f.Add("x.db", "vfs", "a b+c&d=e#f?g%h")
	f.Add("x.db", "", "")
	f.Fuzz(func(t *testing.T, path, key, value string) {
		var params url.Values
		if key != "" {
			params = url.Values{key: {value}}
		}
		dsn, err := Format(path, params)
		if path == "" || strings.IndexByte(path, 0) >= 0 {
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("Format(%q): got %q, %v, want ErrInvalidPath", path, dsn, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Format(%q): %v", path, err)
		}
		checkURI(t, dsn, path, params)
	})
}
