package lock

import (
	"errors"

	"golang.org/x/sys/windows"
)

// processRunning reports whether the process pid is running: it can be
// opened and has not exited.
func processRunning(pid int) running {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	switch {
	case errors.Is(err, windows.ERROR_INVALID_PARAMETER):
		// No process has this id.
		return runFalse
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return runTrue
	case err != nil:
		return runUnknown
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return runUnknown
	}
	// STILL_ACTIVE (259): a handle to an exited process stays valid while
	// someone holds one.
	if code == 259 {
		return runTrue
	}
	return runFalse
}
