package lock

import (
	"bytes"
	"os"
	"strconv"
)

// zombie reports whether the process pid has exited and waits for its
// parent to reap it (state Z, or X as it goes, in /proc/PID/stat). The
// null signal still finds such a process, but it runs no more: its
// descriptors were closed when it exited, and its kernel locks released
// with them, so it holds no lock. A pid that cannot be read is no zombie.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses, so the
	// state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	switch b[i+2] {
	case 'Z', 'X':
		return true
	}
	return false
}
