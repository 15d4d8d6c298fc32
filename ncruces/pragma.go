package ncruces

import (
	"fmt"
	"strings"
)

// Pragma is one PRAGMA statement that sets a connection or database option.
// Name may be schema-qualified ("main.journal_mode"); Value is an integer, an
// identifier or keyword (WAL, NORMAL, ON), or a simple quoted string.
type Pragma struct{ Name, Value string }

// String returns the pragma as SQL, such as "PRAGMA busy_timeout=10000", or
// "PRAGMA name" when Value is empty. It does not validate; [MergePragmas]
// does.
func (p Pragma) String() string {
	if p.Value == "" {
		return "PRAGMA " + p.Name
	}
	return "PRAGMA " + p.Name + "=" + p.Value
}

// base returns the pragma name without its schema, for the ordering rules.
func (p Pragma) base() string {
	if _, name, ok := strings.Cut(p.Name, "."); ok {
		return name
	}
	return p.Name
}

// is reports whether the pragma is name, ignoring case and schema.
func (p Pragma) is(name string) bool { return strings.EqualFold(p.base(), name) }

// DefaultPragmas returns litedir's per-connection pragmas, in the order they
// must run:
//
//   - busy_timeout=10000: wait up to 10 s for a lock instead of failing at
//     once. It comes first so that the pragmas after it wait too.
//   - page_size=4096: only takes effect on a new database, and only before
//     the switch to WAL, hence before journal_mode.
//   - journal_mode=WAL: readers do not block the writer and vice versa.
//   - synchronous=NORMAL: durable across application crashes; in WAL mode a
//     power loss can only lose the latest commits, never corrupt.
//   - foreign_keys=ON, temp_store=MEMORY.
//   - cache_size=-8000: an 8 MB page cache per connection.
//   - journal_size_limit=67108864: truncate the WAL back to 64 MB after a
//     checkpoint instead of keeping its high-water mark.
//   - secure_delete=FAST: overwrite deleted content with zeros on the pages
//     SQLite writes anyway, so a deleted message does not linger readable in
//     the b-tree pages it leaves. It costs no extra I/O (the measured
//     difference from OFF, BenchmarkSecureDelete, is within the noise); ON
//     would also overwrite whole pages put on the freelist, with extra
//     writes: those keep their content until reused or VACUUM, and the WAL
//     keeps old page images until it is overwritten.
//
// The result is a new slice on every call.
func DefaultPragmas() []Pragma {
	return []Pragma{
		{"busy_timeout", "10000"},
		{"page_size", "4096"},
		{"journal_mode", "WAL"},
		{"synchronous", "NORMAL"},
		{"foreign_keys", "ON"},
		{"temp_store", "MEMORY"},
		{"cache_size", "-8000"},
		{"journal_size_limit", "67108864"},
		{"secure_delete", "FAST"},
	}
}

// PragmaError reports a pragma whose name or value [MergePragmas] refuses to
// put into SQL. It matches [ErrInvalidPragma].
type PragmaError struct {
	Pragma Pragma // the pragma as given
	Reason string // what is wrong with it
}

// Error implements the error interface.
func (e *PragmaError) Error() string {
	return fmt.Sprintf("%v %q=%q: %s", ErrInvalidPragma, e.Pragma.Name, e.Pragma.Value, e.Reason)
}

// Unwrap returns [ErrInvalidPragma].
func (e *PragmaError) Unwrap() error { return ErrInvalidPragma }

// MergePragmas returns base with overrides applied, then put into the order
// SQLite needs. base and overrides are not modified.
//
// An override replaces the first pragma of base with the same name (compared
// without regard to case) in place; an override with a new name is appended.
// Then busy_timeout moves first (so every later pragma waits for locks),
// locking_mode next (EXCLUSIVE must be set before WAL is entered for WAL to
// run without shared memory), and any page_size that follows a journal_mode
// moves right before it (the page size of a WAL database cannot change), as
// do fullfsync and checkpoint_fullfsync (so that the rollback-journal
// transaction in which journal_mode=WAL creates a new database syncs as
// they say).
// Everything else keeps its order.
//
// Each name must be an identifier, optionally schema-qualified ("main.x");
// each value an integer (decimal or 0x hex, optionally signed), an identifier
// or keyword, or a quoted string with no quotes, semicolons or control
// characters inside. Anything else is refused with a [*PragmaError] naming
// the pragma, because the pragmas are pasted into SQL.
func MergePragmas(base []Pragma, overrides ...Pragma) ([]Pragma, error) {
	merged := make([]Pragma, 0, len(base)+len(overrides))
	for _, p := range base {
		if err := checkPragma(p); err != nil {
			return nil, err
		}
		merged = append(merged, p)
	}
	for _, o := range overrides {
		if err := checkPragma(o); err != nil {
			return nil, err
		}
		i := indexPragma(merged, o.Name)
		if i < 0 {
			merged = append(merged, o)
		} else {
			merged[i] = o
		}
	}
	return orderPragmas(merged), nil
}

func indexPragma(ps []Pragma, name string) int {
	for i, p := range ps {
		if strings.EqualFold(p.Name, name) {
			return i
		}
	}
	return -1
}

// orderPragmas applies the ordering rules of MergePragmas; it is stable.
func orderPragmas(ps []Pragma) []Pragma {
	out := make([]Pragma, 0, len(ps))
	var rest []Pragma
	for _, p := range ps {
		if p.is("busy_timeout") {
			out = append(out, p)
		}
	}
	for _, p := range ps {
		if p.is("locking_mode") {
			out = append(out, p)
		}
	}
	for _, p := range ps {
		if !p.is("busy_timeout") && !p.is("locking_mode") {
			rest = append(rest, p)
		}
	}

	// page_size, fullfsync and checkpoint_fullfsync after the first
	// journal_mode move right before it.
	j := -1
	for i, p := range rest {
		if p.is("journal_mode") {
			j = i
			break
		}
	}
	if j < 0 {
		return append(out, rest...)
	}
	out = append(out, rest[:j]...)
	for _, p := range rest[j:] {
		if beforeJournalMode(p) {
			out = append(out, p)
		}
	}
	for _, p := range rest[j:] {
		if !beforeJournalMode(p) {
			out = append(out, p)
		}
	}
	return out
}

// beforeJournalMode reports whether p must run before journal_mode.
func beforeJournalMode(p Pragma) bool {
	return p.is("page_size") || p.is("fullfsync") || p.is("checkpoint_fullfsync")
}

func checkPragma(p Pragma) error {
	schema, name, qualified := strings.Cut(p.Name, ".")
	switch {
	case !qualified && !isIdent(p.Name), qualified && !(isIdent(schema) && isIdent(name)):
		return &PragmaError{Pragma: p, Reason: "name is not an identifier or schema.identifier"}
	case p.Value == "":
		return &PragmaError{Pragma: p, Reason: "missing value"}
	case !isInteger(p.Value) && !isIdent(p.Value) && !isQuoted(p.Value):
		return &PragmaError{Pragma: p, Reason: "value is not an integer, identifier or simple quoted string"}
	}
	return nil
}

// isIdent reports whether s is an ASCII SQL identifier: a letter or
// underscore, then letters, digits and underscores.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// isInteger reports whether s is an optionally signed decimal or 0x
// hexadecimal integer literal.
func isInteger(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	digits := "0123456789"
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, digits = s[2:], "0123456789abcdefABCDEF"
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(digits, rune(s[i])) {
			return false
		}
	}
	return true
}

// isQuoted reports whether s is a string in single or double quotes with no
// quote, semicolon or control character inside, which SQL cannot
// misinterpret.
func isQuoted(s string) bool {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		switch c := s[i]; {
		case c == '\'', c == '"', c == ';', c < 0x20, c == 0x7f:
			return false
		}
	}
	return true
}

// fullFsyncPragmas returns the pragmas a profile with FullFsync adds to ps
// (see [Profile].FullFsync): checkpoint_fullfsync=ON and fullfsync=ON, each
// unless ps sets it already, to any value. MergePragmas puts them before
// journal_mode.
//
// With checkpoint_fullfsync the syncs that order the WAL before the database
// (the WAL before a checkpoint copies it, the database before the WAL starts
// over, and the header of a restarted WAL) are F_FULLFSYNC; without it a
// restarted WAL can reach the disk before the pages it was copied into, and
// a power loss then loses committed transactions or corrupts the database.
// fullfsync makes a commit's own syncs F_FULLFSYNC too. At synchronous FULL
// or EXTRA that is what makes FULL durable on a Mac; in WAL mode at NORMAL
// commits do not sync, so it costs nothing there, but it still covers the
// rollback-journal transaction that creates a database, which runs before
// journal_mode=WAL takes effect (a torn first page would make the new
// database "not a database" after a power loss), and any other
// rollback-journal commit.
func fullFsyncPragmas(ps []Pragma) []Pragma {
	var add []Pragma
	for _, name := range []string{"checkpoint_fullfsync", "fullfsync"} {
		if indexBase(ps, name) < 0 {
			add = append(add, Pragma{name, "ON"})
		}
	}
	return add
}

// indexBase returns the index of the first pragma of ps named name, ignoring
// case and schema, or -1.
func indexBase(ps []Pragma, name string) int {
	for i, p := range ps {
		if p.is(name) {
			return i
		}
	}
	return -1
}
