package ncruces

import (
	"fmt"
	"reflect"

	"github.com/ncruces/go-sqlite3"
)

// ErrNoMem reports a value or a statement too large for the SQLite engine's
// memory (SQLITE_NOMEM). The Wasm engine has at most 4 GiB of linear memory,
// shared by the page cache and every value bound or read, so a single value
// of a few hundred megabytes can exhaust it where native SQLite would not.
// The connection stays usable after it.
var ErrNoMem error = sqlite3.NOMEM

// noMemPanic is the type and text of the value the driver panics with when
// the engine cannot allocate (its internal util.OOMErr): the driver has no
// exported value to compare with, so the type's package path and the value
// are checked together, against the pinned driver's source.
const (
	noMemPkg  = "github.com/ncruces/go-sqlite3/internal/util"
	noMemText = "sqlite3: out of memory"
)

// NoMemPanic returns an error matching [ErrNoMem] if p, a value recovered
// from a panic in the driver, is the driver's out-of-memory panic, and nil
// otherwise. The driver panics instead of returning SQLITE_NOMEM; callers
// that recover can turn it back into the error it stands for.
func NoMemPanic(p any) error {
	if p == nil {
		return nil
	}
	t := reflect.TypeOf(p)
	if t.PkgPath() != noMemPkg || t.Kind() != reflect.String || reflect.ValueOf(p).String() != noMemText {
		return nil
	}
	return fmt.Errorf("%w: the value or statement is too large for the engine's memory", ErrNoMem)
}
