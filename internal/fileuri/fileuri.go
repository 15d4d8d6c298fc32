// Package fileuri writes the "file:" URIs through which litedir opens
// SQLite database files, so that any path reaches the file system exactly as
// given.
//
// The package is internal: the ncruces and workspace packages share it, and
// it is no API.
package fileuri

import (
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
)

// ErrInvalidPath is what [Format] refuses: an empty path, or one with a NUL
// byte, which no URI can carry to the file system.
var ErrInvalidPath = errors.New("empty path or NUL byte in path")

// Format returns the "file:" URI that opens the database file at path with the
// URI parameters params (such as mode=ro or nolock=1; the driver also reads
// _txlock and _timefmt). path is made absolute first.
//
// The driver parses parameters only after a "file:" prefix, and SQLite
// decodes %HH escapes in the whole URI and ends the path at the first '?' or
// '#'. So Format percent-encodes every byte of the path except ASCII letters,
// digits, "-._~", '/' and ':' (which keeps Windows drive letters readable:
// "file:C:/Users/..."); spaces, '?', '#', '%', ';', '&', '=' and non-ASCII
// bytes all reach the file system exactly as given. Windows paths use forward
// slashes and no leading slash ("file:C:/x.db"): SQLite passes them on
// unchanged and the driver's VFS resolves them with filepath.Abs. A UNC path
// (\\server\share\x.db) is written with five slashes,
// "file://///server/share/x.db", the form from which SQLite keeps
// "//server/share/x.db": with two, SQLite would read the server as the URI's
// authority and drop it when it is "localhost", opening \share\x.db on the
// current drive instead. Parameters are sorted by key and
// encode spaces as %20, because SQLite, unlike net/url, does not read '+' as
// a space.
//
// An empty path, or one containing a NUL byte, is refused with an
// [*fs.PathError] wrapping [ErrInvalidPath].
func Format(path string, params url.Values) (string, error) {
	if path == "" || strings.IndexByte(path, 0) >= 0 {
		return "", &fs.PathError{Op: "file uri", Path: path, Err: ErrInvalidPath}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", &fs.PathError{Op: "file uri", Path: path, Err: err}
	}

	var b strings.Builder
	b.WriteString("file:")
	path = filepath.ToSlash(abs)
	if strings.HasPrefix(path, "//") {
		// Only Windows has absolute paths that start with two slashes (UNC,
		// and the \\?\ and \\.\ forms); Abs cleans them away elsewhere.
		// SQLite (built with SQLITE_ALLOW_URI_AUTHORITY) drops the first
		// three of five or more slashes, and keeps the rest of the path.
		b.WriteString("///")
	}
	escapePath(&b, path)
	if len(params) > 0 {
		b.WriteByte('?')
		// Encode escapes '+' as %2B, so every '+' left is a space.
		b.WriteString(strings.ReplaceAll(params.Encode(), "+", "%20"))
	}
	return b.String(), nil
}

func escapePath(b *strings.Builder, path string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/', c == ':':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}
