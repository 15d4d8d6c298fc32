package workspace_test

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestFilesystemMode checks the override of the filesystem's profile on the local test
// directory: Filesystem network (the option, and LITEDIR_FILESYSTEM) gives the
// single-connection profile, which SQLite confirms (EXCLUSIVE locking mode, no -shm) and which
// keeps a second connection out; Filesystem local and auto keep the platform's profile. Status
// names the filesystem and the mode. The detection itself is e2e's business, on real network
// and FUSE mounts (TestNetworkFilesystem, TestFUSEWithoutLocks).
func TestFilesystemMode(t *testing.T) {
	platform := ncruces.Platform()
	for _, tt := range []struct {
		name     string
		opt      ncruces.FilesystemMode
		env      string
		want     ncruces.FilesystemMode
		isolated bool // one connection in EXCLUSIVE locking mode
	}{
		{"auto", ncruces.FilesystemAuto, "", ncruces.FilesystemAuto, platform.LockingExclusive},
		{"local", ncruces.FilesystemLocal, "", ncruces.FilesystemLocal, platform.LockingExclusive},
		{"network", ncruces.FilesystemNetwork, "", ncruces.FilesystemNetwork, !platform.NoLock},
		{"network from the environment", ncruces.FilesystemAuto, "network", ncruces.FilesystemNetwork, !platform.NoLock},
		{"the option over the environment", ncruces.FilesystemLocal, "network", ncruces.FilesystemLocal, platform.LockingExclusive},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(workspace.EnvFilesystem, tt.env)
			ctx := testdir.Context(t)
			dir := testdir.New(t)
			ws := mustOpen(t, dir, &workspace.Options{Filesystem: tt.opt})
			mustExec(t, ws, "CREATE TABLE t (x); INSERT INTO t VALUES (1)")
			st, err := ws.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p := st.Profile
			if p.FilesystemMode != tt.want {
				t.Errorf("Status.Profile.FilesystemMode: got %v, want %v", p.FilesystemMode, tt.want)
			}
			if !p.Filesystem.Local() {
				t.Errorf("Status.Profile.Filesystem: got %v, want the test directory's, which is local", p.Filesystem)
			}
			switch runtime.GOOS {
			case "linux", "darwin", "windows", "freebsd", "openbsd", "netbsd", "dragonfly":
				if p.Filesystem.Type == "" {
					t.Errorf("Status.Profile.Filesystem: got %+v, want a type", p.Filesystem)
				}
			}
			if p.LockingExclusive != tt.isolated || (tt.isolated && (!p.SingleConnection || st.Readers != 0)) {
				t.Errorf("profile: LockingExclusive %v, SingleConnection %v, Readers %d; want isolated %v", p.LockingExclusive, p.SingleConnection, st.Readers, tt.isolated)
			}
			if tt.isolated && !platform.LockingExclusive && !slicesContain(p.Notes, "filesystem mode network") {
				t.Errorf("Notes: got %q, want one naming the filesystem mode", p.Notes)
			}
			var locking string
			if err := ws.DB().QueryRowContext(ctx, "PRAGMA locking_mode").Scan(&locking); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: "exclusive", false: "normal"}[tt.isolated]; locking != want {
				t.Errorf("PRAGMA locking_mode: got %q, want %q", locking, want)
			}
			if tt.isolated && exists(t, st.Path+"-shm") {
				t.Error("a -shm file exists in EXCLUSIVE locking mode")
			}
			// Reads go on: through the writer's connection when there is one connection.
			if n := count(t, ws, "SELECT count(*) FROM t"); n != 1 {
				t.Errorf("count: got %d, want 1", n)
			}
			if !tt.isolated {
				return
			}
			// Another connection, as another process would open the database, is kept out.
			_, err = ncruces.Open(ctx, ncruces.Config{
				Path: filepath.Join(dir, "litedir.db"), ReadOnly: true,
				Pragmas: []ncruces.Pragma{{Name: "busy_timeout", Value: "0"}},
			})
			if !errors.Is(err, ncruces.ErrBusy) {
				t.Errorf("a second connection beside the isolated workspace: got %v, want ErrBusy", err)
			}
			// OpenReadOnly tells at once, from the owner record, instead of waiting out the
			// busy timeout.
			ro, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Filesystem: tt.opt})
			if err == nil {
				ro.Close()
			}
			if !errors.Is(err, ncruces.ErrBusy) || !strings.Contains(err.Error(), "holds") || !strings.Contains(err.Error(), "EXCLUSIVE locking mode") {
				t.Errorf("OpenReadOnly beside the isolated workspace: got %v, want ErrBusy naming the holder", err)
			}
		})
	}
}

// slicesContain reports whether some note contains want.
func slicesContain(notes []string, want string) bool {
	for _, n := range notes {
		if strings.Contains(n, want) {
			return true
		}
	}
	return false
}
