package ncruces

import (
	"strconv"
	"time"
)

// defaultBusyTimeout is the driver's busy timeout, in force on a connection
// whose pragmas set none.
const defaultBusyTimeout = time.Minute

// BusyTimeout returns the busy timeout that pragmas give a connection: the
// last busy_timeout among them, or the driver's default of one minute.
func BusyTimeout(pragmas []Pragma) time.Duration {
	timeout := defaultBusyTimeout
	for _, p := range pragmas {
		if ms, err := strconv.ParseInt(p.Value, 10, 32); p.is("busy_timeout") && err == nil {
			timeout = time.Duration(max(ms, 0)) * time.Millisecond
		}
	}
	return timeout
}
