package ncruces

import (
	"strconv"
	"strings"
	"time"
)

// defaultBusyTimeout is the driver's busy timeout, in force on a connection
// whose pragmas set none.
const defaultBusyTimeout = time.Minute

// defaultAutoCheckpoint is SQLite's default wal_autocheckpoint, in pages.
const defaultAutoCheckpoint = 1000

// busyTimeout returns the busy timeout that pragmas give a connection: the
// last busy_timeout among them, or the driver's default of one minute.
func busyTimeout(pragmas []Pragma) time.Duration {
	timeout := defaultBusyTimeout
	for _, p := range pragmas {
		if ms, err := strconv.ParseInt(p.Value, 10, 32); p.is("busy_timeout") && err == nil {
			timeout = time.Duration(max(ms, 0)) * time.Millisecond
		}
	}
	return timeout
}

// Settings are what a list of pragmas comes to on a connection of a
// platform profile: the values litedir itself acts on. [Resolve] makes them;
// nothing outside this package parses pragma names or values.
type Settings struct {
	// BusyTimeout is the connection's busy timeout.
	BusyTimeout time.Duration

	// JournalMode is the journal mode asked for, in lower case, after the
	// profile's requirements ("wal", "delete", ...): what a connection gets
	// where SQLite grants it (PRAGMA journal_mode tells what it granted).
	JournalMode string

	// Synchronous is PRAGMA synchronous by name: "OFF", "NORMAL", "FULL" or
	// "EXTRA" (SQLite's default, FULL, when the pragmas set none).
	Synchronous string

	// AutoCheckpoint is wal_autocheckpoint in pages: SQLite's 1000 when the
	// pragmas set none; 0 or less turns automatic checkpoints off.
	AutoCheckpoint int
}

// CheckpointsOff reports whether wal_autocheckpoint turns automatic
// checkpoints off: SQLite reads 0 or less as off, and litedir then runs
// none of its own either.
func (s Settings) CheckpointsOff() bool { return s.AutoCheckpoint <= 0 }

// synchronousNames are PRAGMA synchronous's levels by number.
var synchronousNames = [...]string{"OFF", "NORMAL", "FULL", "EXTRA"}

// Resolve returns the settings that pragmas (nil: DefaultPragmas) give a
// read-write connection on profile prof, as [Open] would apply them. The
// pragmas must have passed [MergePragmas].
func Resolve(pragmas []Pragma, prof Profile) Settings {
	merged, err := connPragmas(Config{Pragmas: pragmas}, prof)
	if err != nil {
		// MergePragmas refuses nothing it accepted before; keep the list
		// as given.
		merged = pragmas
	}
	s := Settings{
		BusyTimeout:    busyTimeout(merged),
		JournalMode:    "delete",
		Synchronous:    "FULL",
		AutoCheckpoint: defaultAutoCheckpoint,
	}
	for _, p := range merged {
		switch {
		case p.is("synchronous"):
			v := strings.ToUpper(p.Value)
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < len(synchronousNames) {
				v = synchronousNames[n]
			}
			s.Synchronous = v
		case p.is("wal_autocheckpoint"):
			if n, err := strconv.Atoi(p.Value); err == nil {
				s.AutoCheckpoint = n
			}
		}
	}
	if m := wantJournalMode(merged); m != "" {
		s.JournalMode = m
	}
	return s
}
