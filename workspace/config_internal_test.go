package workspace

import (
	"errors"
	"runtime"
	"strings"
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

// TestConfigFilesystem checks the Filesystem option and its environment variable, the
// InProcessLock variable, and what the profile of a filesystem does to the rest of the
// configuration.
func TestConfigFilesystem(t *testing.T) {
	full := ncruces.Profile{GOOS: "linux", GOARCH: "amd64", JournalMode: "wal", SharedMemory: true, FileLocking: true}
	nfs := ncruces.Filesystem{Type: "nfs", Kind: ncruces.NetworkFilesystem}
	ext4 := ncruces.Filesystem{Type: "ext4", Kind: ncruces.LocalFilesystem}

	for _, tt := range []struct {
		name string
		env  string
		opt  ncruces.FilesystemMode
		want ncruces.FilesystemMode
		err  error
	}{
		{"default", "", ncruces.FilesystemAuto, ncruces.FilesystemAuto, nil},
		{"environment", "network", ncruces.FilesystemAuto, ncruces.FilesystemNetwork, nil},
		{"environment, any case", " Local ", ncruces.FilesystemAuto, ncruces.FilesystemLocal, nil},
		{"the option wins", "network", ncruces.FilesystemLocal, ncruces.FilesystemLocal, nil},
		{"a bad environment", "remote", ncruces.FilesystemAuto, 0, ErrInvalidOptions},
		{"a bad option", "", ncruces.FilesystemMode(9), 0, ErrInvalidOptions},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvFilesystem, tt.env)
			c, err := (&Options{Filesystem: tt.opt}).configFor(full)
			if !errors.Is(err, tt.err) {
				t.Fatalf("configFor: got %v, want %v", err, tt.err)
			}
			if err == nil && c.fsMode != tt.want {
				t.Errorf("mode: got %v, want %v", c.fsMode, tt.want)
			}
		})
	}

	t.Run("in-process lock from the environment", func(t *testing.T) {
		t.Setenv(EnvInProcessLock, "1")
		c, err := (*Options)(nil).configFor(full)
		if err != nil || !c.inProcessLock {
			t.Errorf("inProcessLock: got %v (%v), want true", c.inProcessLock, err)
		}
	})

	t.Run("a network filesystem", func(t *testing.T) {
		t.Setenv(EnvFilesystem, "")
		c, err := (&Options{Readers: 4}).configFor(full)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.useProfile(c.profile.OnFilesystem(nfs, c.fsMode)); err != nil {
			t.Fatal(err)
		}
		if !c.profile.SingleConnection || c.readers != 0 || c.settings.JournalMode != "wal" {
			t.Errorf("profile on nfs: single %v, readers %d, journal %s; want one connection, no read pool, WAL",
				c.profile.SingleConnection, c.readers, c.settings.JournalMode)
		}
		// A second Open in the process asks for what the first asked for, and is compatible
		// with it even though the filesystem took the read pool away.
		other, err := (&Options{Readers: 4}).configFor(full)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.compatible(&other); err != nil {
			t.Errorf("compatible: %v", err)
		}
		other.fsMode = ncruces.FilesystemLocal
		if err := c.compatible(&other); !errors.Is(err, ErrIncompatible) {
			t.Errorf("compatible with another Filesystem: got %v, want ErrIncompatible", err)
		}
	})

	t.Run("shared on a network filesystem", func(t *testing.T) {
		t.Setenv(EnvFilesystem, "")
		c, err := (&Options{Sharing: lock.Shared}).configFor(full)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.useProfile(c.profile.OnFilesystem(ext4, c.fsMode)); err != nil {
			t.Errorf("shared on ext4: %v", err)
		}
		err = c.useProfile(c.profile.OnFilesystem(nfs, c.fsMode))
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "nfs") {
			t.Errorf("shared on nfs: got %v, want ErrInvalidOptions naming the filesystem", err)
		}
	})
}
