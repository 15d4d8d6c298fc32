package workspace

import (
	"errors"
	"runtime"
	"testing"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
)

func TestConfigProfile(t *testing.T) {
	single := ncruces.Profile{GOOS: "windows", GOARCH: "amd64", SingleConnection: true, LockingExclusive: true, JournalMode: "wal"}
	full := ncruces.Profile{GOOS: "linux", GOARCH: "amd64", JournalMode: "wal"}

	for _, tt := range []struct {
		name    string
		opts    *Options
		profile ncruces.Profile
		readers int
		err     error
	}{
		{"default readers", nil, full, max(2, runtime.GOMAXPROCS(0)), nil},
		{"explicit readers", &Options{Readers: 7}, full, 7, nil},
		{"single connection has no read pool", &Options{Readers: 7}, single, 0, nil},
		{"shared where SQLite cannot arbitrate", &Options{Sharing: lock.Shared}, single, 0, ErrInvalidOptions},
		{"shared", &Options{Sharing: lock.Shared}, full, max(2, runtime.GOMAXPROCS(0)), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.opts.configFor(tt.profile)
			if !errors.Is(err, tt.err) {
				t.Fatalf("configFor = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if c.readers != tt.readers {
				t.Errorf("readers = %d, want %d", c.readers, tt.readers)
			}
		})
	}
}
