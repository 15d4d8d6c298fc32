//go:build unix

package lock

import (
	"errors"
	"syscall"
)

// processRunning reports whether the process pid exists, by sending it the
// null signal, which checks without delivering anything.
func processRunning(pid int) running {
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		// EPERM: it exists, owned by another user.
		return runTrue
	case errors.Is(err, syscall.ESRCH):
		return runFalse
	}
	return runUnknown
}
