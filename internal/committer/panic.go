package committer

import (
	"errors"
	"fmt"
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

func (e *PanicError) Error() string        { return fmt.Sprintf("%v: %v", ErrPanicked, e.Value) }
func (e *PanicError) Is(target error) bool { return target == ErrPanicked }

// panicError turns a recovered panic into an error: the engine's
// out-of-memory panic into an error matching ncruces.ErrNoMem, anything else
// into a *PanicError.
func panicError(p any) error {
	if err := ncruces.NoMemPanic(p); err != nil {
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
