//go:build unix

package lock

import (
	"errors"
	"syscall"
)

// processRunning reports whether the process pid exists, by sending it the
// null signal, which checks without delivering anything, and is not a
// zombie: a process killed, or exited, whose parent has not reaped it yet.
func processRunning(pid int) running {
	err := syscall.Kill(pid, 0)
	switch {
	case err == nil, errors.Is(err, syscall.EPERM):
		// EPERM: it exists, owned by another user.
		if zombie(pid) {
			return runFalse
		}
		return runTrue
	case errors.Is(err, syscall.ESRCH):
		return runFalse
	}
	return runUnknown
}
