package ncruces

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

// The driver's darwin sync, from github.com/ncruces/go-sqlite3@v0.32.0:
// vfs/os_darwin.go issues F_FULLFSYNC only for SQLITE_SYNC_FULL; the builds
// of vfs/os_std_sync.go use Go's File.Sync, which is F_FULLFSYNC on darwin
// for every sync.
const vfsDarwinSync = "darwin && !sqlite3_flock"

// TestProfileFullFsync builds the profile of each platform, as
// TestProfileFor does, and checks the sync pragmas Open runs with it: on
// darwin checkpoint_fullfsync=ON and fullfsync=ON before journal_mode,
// unless the pragmas set them; elsewhere neither.
func TestProfileFullFsync(t *testing.T) {
	files := profileFiles(t)
	tests := []struct {
		goos, goarch string
		tags         []string
		want         bool
	}{
		{"darwin", "arm64", nil, true},
		{"darwin", "amd64", nil, true},
		{"ios", "arm64", nil, true},
		{"darwin", "arm64", []string{"sqlite3_dotlk"}, true},
		// Every sync is F_FULLFSYNC already there; the pragmas do no harm.
		{"darwin", "arm64", []string{"sqlite3_flock"}, true},
		{"linux", "amd64", nil, false},
		{"linux", "s390x", nil, false},
		{"windows", "amd64", nil, false},
		{"freebsd", "amd64", nil, false},
		{"wasip1", "wasm", nil, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{tt.goos, tt.goarch}, tt.tags...), "/"), func(t *testing.T) {
			p, _ := buildProfile(t, files, tt.goos, tt.goarch, tt.tags...)
			if p.FullFsync != tt.want {
				t.Fatalf("FullFsync: got %v, want %v", p.FullFsync, tt.want)
			}
			if evalExpr(t, vfsDarwinSync, buildTags(tt.goos, tt.goarch, tt.tags...)) && !p.FullFsync {
				t.Errorf("the driver syncs with F_FULLFSYNC only on request here, but FullFsync is off")
			}
			for _, c := range []struct {
				pragmas                    []Pragma
				wantCheckpoint, wantCommit string // "" for absent
			}{
				{nil, "ON", "ON"}, // the defaults: NORMAL
				{[]Pragma{{"synchronous", "FULL"}}, "ON", "ON"},
				{[]Pragma{{"synchronous", "extra"}}, "ON", "ON"},
				{[]Pragma{{"synchronous", "FULL"}, {"fullfsync", "OFF"}}, "ON", "OFF"},
				{[]Pragma{{"checkpoint_fullfsync", "OFF"}}, "OFF", "ON"},
				{[]Pragma{{"main.checkpoint_fullfsync", "0"}, {"synchronous", "FULL"}}, "0", "ON"},
			} {
				base, err := MergePragmas(DefaultPragmas(), c.pragmas...)
				if err != nil {
					t.Fatal(err)
				}
				got, err := connPragmas(Config{Pragmas: base}, p)
				if err != nil {
					t.Fatal(err)
				}
				wantCkpt, wantCommit := c.wantCheckpoint, c.wantCommit
				if !tt.want {
					wantCkpt, wantCommit = pragmaValue(base, "checkpoint_fullfsync"), pragmaValue(base, "fullfsync")
				}
				if v := pragmaValue(got, "checkpoint_fullfsync"); v != wantCkpt {
					t.Errorf("%v: checkpoint_fullfsync: got %q, want %q", c.pragmas, v, wantCkpt)
				}
				if v := pragmaValue(got, "fullfsync"); v != wantCommit {
					t.Errorf("%v: fullfsync: got %q, want %q", c.pragmas, v, wantCommit)
				}
				if j := indexBase(got, "journal_mode"); tt.want && j >= 0 {
					for _, name := range []string{"checkpoint_fullfsync", "fullfsync"} {
						if i := indexBase(got, name); i > j {
							t.Errorf("%v: %s after journal_mode: %v", c.pragmas, name, got)
						}
					}
				}
				for _, p := range base {
					// The profile may replace the journal mode (no locks).
					if !p.is("journal_mode") && !slices.Contains(got, p) {
						t.Errorf("%v: pragma %v lost", c.pragmas, p)
					}
				}
			}
		})
	}
}

// pragmaValue returns the value of the last pragma of ps named name,
// ignoring schema, or "".
func pragmaValue(ps []Pragma, name string) string {
	if i := lastBase(ps, name); i >= 0 {
		return ps[i].Value
	}
	return ""
}

// TestOpenFullFsync opens a database with a FullFsync profile and checks
// that SQLite took the pragmas: the connection's flags read back ON.
func TestOpenFullFsync(t *testing.T) {
	prof := Platform()
	prof.FullFsync = true
	for _, tt := range []struct {
		sync                     string
		wantCheckpoint, wantFull int
	}{
		{"NORMAL", 1, 1},
		{"FULL", 1, 1},
	} {
		t.Run(tt.sync, func(t *testing.T) {
			db := mustOpen(t, Config{
				Path:    filepath.Join(testdir.New(t), "x.db"),
				Profile: &prof,
				Pragmas: []Pragma{{"synchronous", tt.sync}},
			})
			var ckpt, full int
			if err := db.QueryRow("PRAGMA checkpoint_fullfsync").Scan(&ckpt); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow("PRAGMA fullfsync").Scan(&full); err != nil {
				t.Fatal(err)
			}
			if ckpt != tt.wantCheckpoint || full != tt.wantFull {
				t.Errorf("checkpoint_fullfsync, fullfsync: got %d, %d, want %d, %d", ckpt, full, tt.wantCheckpoint, tt.wantFull)
			}
		})
	}
}

// lastBase returns the index of the last pragma of ps named name, ignoring
// case and schema, or -1: the one in force after all of them ran.
func lastBase(ps []Pragma, name string) int {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].is(name) {
			return i
		}
	}
	return -1
}

// TestMergePragmasFullFsyncBeforeJournalMode checks that fullfsync and
// checkpoint_fullfsync, given anywhere, run before journal_mode, and
// that nothing else moves.
func TestMergePragmasFullFsyncBeforeJournalMode(t *testing.T) {
	got, err := MergePragmas(DefaultPragmas(), Pragma{"fullfsync", "ON"}, Pragma{"secure_delete", "ON"}, Pragma{"main.checkpoint_fullfsync", "1"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	want := []string{"busy_timeout", "page_size", "fullfsync", "main.checkpoint_fullfsync", "journal_mode", "synchronous",
		"foreign_keys", "temp_store", "cache_size", "journal_size_limit", "secure_delete"}
	if !slices.Equal(names, want) {
		t.Errorf("order:\ngot  %q\nwant %q", names, want)
	}
}
