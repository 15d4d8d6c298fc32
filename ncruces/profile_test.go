package ncruces

import (
	"errors"
	"go/build/constraint"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3/vfs"
)

// driverExprs are the build expressions behind the driver's capabilities:
// vfs/lock.go (SupportsFileLocking), vfs/shm.go (SupportsSharedMemory) and
// vfs/shm_copy.go (shared memory emulated by copying).
type driverExprs struct {
	fileLocking, sharedMemory, sharedMemoryCopy string
}

var (
	// exprsV032 are those of github.com/ncruces/go-sqlite3 v0.32.0, the
	// default build (and unchanged in v0.33.0).
	exprsV032 = driverExprs{
		fileLocking:      "linux || darwin || windows || freebsd || openbsd || netbsd || dragonfly || illumos || sqlite3_flock || sqlite3_dotlk",
		sharedMemory:     "((linux || darwin || windows || freebsd || openbsd || netbsd || dragonfly || illumos) && (386 || arm || amd64 || arm64 || riscv64 || ppc64le || loong64)) || sqlite3_flock || sqlite3_dotlk",
		sharedMemoryCopy: "(windows && (386 || arm || amd64 || arm64 || riscv64 || ppc64le || loong64)) || sqlite3_dotlk",
	}
	// exprsV035 are those of v0.35.3 to v0.36.0, built with
	// litedir_wasm2go: shared memory on every CPU, and Windows maps it.
	exprsV035 = driverExprs{
		fileLocking:      "linux || darwin || windows || freebsd || openbsd || netbsd || dragonfly || illumos || sqlite3_flock || sqlite3_dotlk",
		sharedMemory:     "linux || darwin || windows || freebsd || openbsd || netbsd || dragonfly || illumos || sqlite3_flock || sqlite3_dotlk",
		sharedMemoryCopy: "sqlite3_dotlk",
	}
)

// linkedExprs returns the expressions of the driver this test binary links,
// or skips the test, saying why, for a driver litedir has no table for.
func linkedExprs(t *testing.T) driverExprs {
	t.Helper()
	v := driverVersion()
	switch {
	case engineName == EngineWazero && v == "v0.32.0":
		return exprsV032
	case engineName == EngineWasm2go && versionAtLeast(v, 0, 35, 3):
		return exprsV035
	}
	t.Skipf("no table of build expressions for driver %q on %s", v, engineName)
	return driverExprs{}
}

// unixOS are the GOOS values that satisfy the "unix" build tag.
var unixOS = map[string]bool{
	"aix": true, "android": true, "darwin": true, "dragonfly": true, "freebsd": true, "hurd": true,
	"illumos": true, "ios": true, "linux": true, "netbsd": true, "openbsd": true, "solaris": true,
}

// buildTags returns the build-tag matcher for goos/goarch and tags, with the
// go command's implied tags (android => linux, illumos => solaris, ios =>
// darwin, unix).
func buildTags(goos, goarch string, tags ...string) func(string) bool {
	set := map[string]bool{goos: true, goarch: true, "unix": unixOS[goos]}
	switch goos {
	case "android":
		set["linux"] = true
	case "illumos":
		set["solaris"] = true
	case "ios":
		set["darwin"] = true
	}
	for _, tag := range tags {
		set[tag] = true
	}
	return func(tag string) bool { return set[tag] }
}

func evalExpr(t *testing.T, expr string, tags func(string) bool) bool {
	t.Helper()
	x, err := constraint.Parse("//go:build " + expr)
	if err != nil {
		t.Fatal(err)
	}
	return x.Eval(tags)
}

// profileFile is one of this package's per-build files.
type profileFile struct {
	name    string
	expr    constraint.Expr
	locking string // the constant it defines, "" for none
}

// profileFiles parses the //go:build line and the locking constant of every
// profile_*.go file.
func profileFiles(t *testing.T) []profileFile {
	t.Helper()
	names, err := filepath.Glob("profile_*.go")
	if err != nil {
		t.Fatal(err)
	}
	lockingConst := regexp.MustCompile(`(?m)^const locking = "([a-z]+)"$`)
	var files []profileFile
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f := profileFile{name: name}
		for line := range strings.SplitSeq(string(src), "\n") {
			if constraint.IsGoBuild(line) {
				if f.expr, err = constraint.Parse(line); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				break
			}
		}
		if f.expr == nil {
			t.Fatalf("%s: no //go:build line", name)
		}
		if strings.Contains(f.expr.String(), "litedir_wasm2go") {
			continue // profile_wazero.go, profile_wasm2go.go: the engine's, not a locking class
		}
		if m := lockingConst.FindStringSubmatch(string(src)); m != nil {
			f.locking = m[1]
		}
		files = append(files, f)
	}
	if len(files) < 6 {
		t.Fatalf("found %d profile files, want the 5 locking files and profile_flock_linux.go", len(files))
	}
	return files
}

// buildProfile returns the profile a build for goos/goarch with tags would
// have: the locking constant of this package's matching file and the
// driver's capabilities. refused reports that the build is refused.
func buildProfile(t *testing.T, files []profileFile, goos, goarch string, tags ...string) (p Profile, refused bool) {
	t.Helper()
	exprs := linkedExprs(t)
	match := buildTags(goos, goarch, tags...)
	var locking []string
	for _, f := range files {
		// Files named *_GOOS.go also carry an implicit GOOS constraint;
		// ours state it in the expression too, which this checks.
		for _, goos := range []string{"linux", "windows"} {
			if strings.HasSuffix(f.name, "_"+goos+".go") && !strings.Contains(f.expr.String(), goos) {
				t.Errorf("%s: the //go:build line must name %s", f.name, goos)
			}
		}
		if !f.expr.Eval(match) {
			continue
		}
		if f.locking == "" {
			refused = true
		} else {
			locking = append(locking, f.locking)
		}
	}
	if len(locking) != 1 {
		t.Fatalf("%s/%s %v: files defining locking: got %v, want exactly one", goos, goarch, tags, locking)
	}
	return profileFor(goos, goarch, locking[0], evalExpr(t, exprs.fileLocking, match), evalExpr(t, exprs.sharedMemory, match),
		evalExpr(t, exprs.sharedMemoryCopy, match)), refused
}

func TestProfileFor(t *testing.T) {
	type want struct {
		locking                                               string
		fileLocking, sharedMemory, copy, immediateIsExclusive bool
		single, lockingExclusive, noLock                      bool
		journalMode                                           string
	}
	var (
		full      = want{"ofd", true, true, false, false, false, false, false, "wal"}
		noShm     = want{"ofd", true, false, false, false, true, true, false, "wal"}
		flock     = want{"flock", true, true, false, true, false, false, false, "wal"}
		windows   = want{"lockfileex", true, true, true, false, true, true, false, "wal"}
		noLocking = want{"none", false, false, false, false, true, false, true, "delete"}
		dotlk     = want{"dotlk", true, true, true, false, true, true, false, "wal"}
		// Windows with the -shm file mapped (driver v0.35.3 and later).
		windowsMapped = want{"lockfileex", true, true, false, false, false, false, false, "wal"}
	)
	// The rows that differ on the wasm2go engine (driver v0.35.3 and later):
	// shared memory on every CPU, and mapped on Windows.
	wasm2go := map[string]want{
		"linux/s390x": full, "linux/ppc64": full, "linux/mips": full, "linux/mips64le": full,
		"windows/amd64": windowsMapped, "windows/arm64": windowsMapped, "windows/386": windowsMapped,
	}
	tests := []struct {
		goos, goarch string
		tags         []string
		want         want
	}{
		{"linux", "amd64", nil, full},
		{"linux", "arm64", nil, full},
		{"linux", "386", nil, full},
		{"linux", "arm", nil, full},
		{"linux", "riscv64", nil, full},
		{"linux", "ppc64le", nil, full},
		{"linux", "loong64", nil, full},
		{"linux", "s390x", nil, noShm},
		{"linux", "ppc64", nil, noShm},
		{"linux", "mips", nil, noShm},
		{"linux", "mips64le", nil, noShm},
		{"android", "arm64", nil, full},
		{"darwin", "arm64", nil, full},
		{"darwin", "amd64", nil, full},
		{"ios", "arm64", nil, full},
		{"windows", "amd64", nil, windows},
		{"windows", "arm64", nil, windows},
		{"windows", "386", nil, windows},
		{"freebsd", "amd64", nil, flock},
		{"openbsd", "arm64", nil, flock},
		{"netbsd", "amd64", nil, flock},
		{"dragonfly", "amd64", nil, flock},
		{"illumos", "amd64", nil, flock},
		{"freebsd", "riscv64", nil, flock},
		{"solaris", "amd64", nil, noLocking},
		{"aix", "ppc64", nil, noLocking},
		{"plan9", "amd64", nil, noLocking},
		{"wasip1", "wasm", nil, noLocking},
		{"js", "wasm", nil, noLocking},
		{"darwin", "arm64", []string{"sqlite3_flock"}, flock},
		{"freebsd", "amd64", []string{"sqlite3_dotlk"}, dotlk},
		{"linux", "amd64", []string{"sqlite3_dotlk"}, dotlk},
		{"windows", "amd64", []string{"sqlite3_dotlk"}, dotlk},
		{"plan9", "amd64", []string{"sqlite3_dotlk"}, dotlk},
	}
	files := profileFiles(t)
	for _, tt := range tests {
		name := strings.Join(append([]string{tt.goos, tt.goarch}, tt.tags...), "/")
		if w, ok := wasm2go[name]; ok && engineName == EngineWasm2go {
			tt.want = w
		}
		t.Run(name, func(t *testing.T) {
			p, refused := buildProfile(t, files, tt.goos, tt.goarch, tt.tags...)
			if refused {
				t.Errorf("build refused, want it allowed")
			}
			got := want{p.Locking, p.FileLocking, p.SharedMemory, p.SharedMemoryCopy, p.ImmediateIsExclusive,
				p.SingleConnection, p.LockingExclusive, p.NoLock, p.JournalMode}
			if got != tt.want {
				t.Errorf("profile:\ngot  %+v\nwant %+v", got, tt.want)
			}
			if p.GOOS != tt.goos || p.GOARCH != tt.goarch {
				t.Errorf("GOOS/GOARCH: got %v/%v, want %v/%v", p.GOOS, p.GOARCH, tt.goos, tt.goarch)
			}
			adjusted := tt.want.single || tt.want.lockingExclusive || tt.want.noLock || tt.want.immediateIsExclusive
			if adjusted != (len(p.Notes) > 0) {
				t.Errorf("Notes: got %q, want notes exactly when something is adjusted", p.Notes)
			}
		})
	}
}

// TestProfileFlockLinuxRefused checks that exactly the Linux builds with
// sqlite3_flock are refused.
func TestProfileFlockLinuxRefused(t *testing.T) {
	files := profileFiles(t)
	for _, tt := range []struct {
		goos string
		tags []string
		want bool
	}{
		{"linux", []string{"sqlite3_flock"}, true},
		{"android", []string{"sqlite3_flock"}, true},
		{"linux", nil, false},
		{"linux", []string{"sqlite3_dotlk"}, false},
		{"darwin", []string{"sqlite3_flock"}, false},
		{"freebsd", []string{"sqlite3_flock"}, false},
	} {
		if _, refused := buildProfile(t, files, tt.goos, "amd64", tt.tags...); refused != tt.want {
			t.Errorf("%s %v: refused %v, want %v", tt.goos, tt.tags, refused, tt.want)
		}
	}
}

// TestPlatform checks the running build against the driver's constants.
func TestPlatform(t *testing.T) {
	p := Platform()
	if p.GOOS != runtime.GOOS || p.GOARCH != runtime.GOARCH {
		t.Errorf("GOOS/GOARCH: got %v/%v, want %v/%v", p.GOOS, p.GOARCH, runtime.GOOS, runtime.GOARCH)
	}
	if p.FileLocking != vfs.SupportsFileLocking || p.SharedMemory != vfs.SupportsSharedMemory {
		t.Errorf("capabilities: got %v, %v, want vfs's %v, %v",
			p.FileLocking, p.SharedMemory, vfs.SupportsFileLocking, vfs.SupportsSharedMemory)
	}
	// Evaluating the files for a build without tags must agree with what the
	// compiler chose, unless this test binary was built with tags.
	want, _ := buildProfile(t, profileFiles(t), runtime.GOOS, runtime.GOARCH)
	if want.Locking != locking && p.FileLocking {
		t.Skipf("built with tags: locking %q, %q without", locking, want.Locking)
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Platform():\ngot  %+v\nwant %+v", p, want)
	}
}

// TestDriverBuildExpressions checks the expressions the table above is
// evaluated with against the //go:build lines of the driver this test
// binary links, read from its source: the module cache for v0.32.0 by
// default, and whichever version the compatibility job requires with
// -tags litedir_wasm2go.
func TestDriverBuildExpressions(t *testing.T) {
	want := linkedExprs(t)
	pc := reflect.ValueOf(vfs.Find).Pointer()
	file, _ := runtime.FuncForPC(pc).FileLine(pc)
	dir := filepath.Dir(file)
	for name, expr := range map[string]string{
		"lock.go":     want.fileLocking,
		"shm.go":      want.sharedMemory,
		"shm_copy.go": want.sharedMemoryCopy,
	} {
		src, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			// The wasip1 sandbox and Wine do not see the module cache.
			t.Skipf("the driver's source is not readable here: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for line := range strings.SplitSeq(string(src), "\n") {
			if constraint.IsGoBuild(line) {
				got = strings.TrimSpace(strings.TrimPrefix(line, "//go:build"))
				break
			}
		}
		if got != expr {
			t.Errorf("driver %s vfs/%s: //go:build %s\nthe table uses          %s", driverVersion(), name, got, expr)
		}
	}
}
