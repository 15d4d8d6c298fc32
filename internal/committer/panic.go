package committer

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"

	"github.com/litedir/litedir/ncruces"
)

// ErrPanicked is matched by every *PanicError.
var ErrPanicked = errors.New("workspace: panic in a statement")

// PanicError is a panic recovered inside a statement — in a driver.Valuer,
// in a sql.Scanner the driver called, or in the engine — returned as an
// error because it could not be re-raised safely: database/sql holds locks
// while it calls the driver, and releases them only on a normal return.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the goroutine that panicked, where it panicked
}

// Error returns ErrPanicked's text and the panic's value.
func (e *PanicError) Error() string { return fmt.Sprintf("%v: %v", ErrPanicked, e.Value) }

// Is reports whether target is ErrPanicked.
func (e *PanicError) Is(target error) bool { return target == ErrPanicked }

// panicError turns a recovered panic into an error: the engine's
// out-of-memory panic into an error matching ncruces.ErrNoMem, anything else
// into a *PanicError.
func panicError(p any) error {
	if err := noMemError(p); err != nil {
		return err
	}
	return &PanicError{Value: p, Stack: debug.Stack()}
}

// recoverErr, deferred, turns a panic into *errp (see panicError).
func recoverErr(errp *error) {
	if p := recover(); p != nil {
		*errp = panicError(p)
	}
}

// noMemPkg and noMemText are the type and text of the value the driver
// panics with when the engine cannot allocate (its internal util.OOMErr):
// the driver has no exported value to compare with, so the type's package
// path and the value are checked together, against the pinned driver's
// source.
const (
	noMemPkg  = "github.com/ncruces/go-sqlite3/internal/util"
	noMemText = "sqlite3: out of memory"
)

// noMemError returns an error matching ncruces.ErrNoMem if p, a value
// recovered from a panic in the driver, is the driver's out-of-memory panic,
// and nil otherwise. The driver panics instead of returning SQLITE_NOMEM;
// this turns the panic back into the error it stands for.
func noMemError(p any) error {
	if p == nil {
		return nil
	}
	t := reflect.TypeOf(p)
	if t.PkgPath() != noMemPkg || t.Kind() != reflect.String || reflect.ValueOf(p).String() != noMemText {
		return nil
	}
	return fmt.Errorf("%w: the value or statement is too large for the engine's memory", ncruces.ErrNoMem)
}
