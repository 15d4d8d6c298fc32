package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// An opener is a child process that tries one Open and reports how it went,
// for the tests that need the attempt made by another process: one that runs
// as another user, with another engine configuration (which is process-wide),
// or that contends with a lock the test holds. Unlike the children of
// process_test.go it holds nothing and takes no commands: it opens, writes a
// row if the Open succeeded, closes, says its result and exits.

// openerConfig is what an opener does. A test that uses openers decodes its
// child configuration into a struct with an Opener *openerConfig field (see
// openerEnv).
type openerConfig struct {
	Dir     string
	Sharing lock.Mode
	Builtin bool // apply migrations.Builtin and, once open, write a session
}

// openerResult is an opener's report.
type openerResult struct {
	Err string   // the error of Open (or of the write or Close after it), "" for none
	Is  []string // the names of the sentinels in knownErrors that Err matches

	// From the *lock.LockedError in the chain, if any.
	LockedPID  int
	HeldShared bool

	// The engine's compilation cache, from ncruces.EngineInfo.
	CacheDir, CacheNote string
}

// knownErrors are the sentinels whose matches a result lists: errors.Is runs
// in the process that got the error, and the parent checks the names.
var knownErrors = []struct {
	name string
	err  error
}{
	{"fs.ErrPermission", fs.ErrPermission},
	{"fs.ErrNotExist", fs.ErrNotExist},
	{"lock.ErrLocked", lock.ErrLocked},
	{"lock.ErrSymlink", lock.ErrSymlink},
	{"lock.ErrNotRegular", lock.ErrNotRegular},
	{"workspace.ErrNotDir", workspace.ErrNotDir},
	{"workspace.ErrCheckFailed", workspace.ErrCheckFailed},
	{"workspace.ErrBatchAborted", workspace.ErrBatchAborted},
	{"migrations.ErrSchemaTooNew", migrations.ErrSchemaTooNew},
	{"migrations.ErrMigrationFailed", migrations.ErrMigrationFailed},
	{"ncruces.ErrBusy", ncruces.ErrBusy},
	{"ncruces.ErrNotADatabase", ncruces.ErrNotADatabase},
	{"ncruces.ErrCorrupt", ncruces.ErrCorrupt},
	{"ncruces.ErrReadOnly", ncruces.ErrReadOnly},
	{"ncruces.ErrCantOpen", ncruces.ErrCantOpen},
	{"ncruces.ErrFull", ncruces.ErrFull},
	{"ncruces.ErrIO", ncruces.ErrIO},
}

// resultOf describes err as an openerResult.
func resultOf(err error) openerResult {
	var r openerResult
	if err == nil {
		return r
	}
	r.Err = err.Error()
	for _, k := range knownErrors {
		if errors.Is(err, k.err) {
			r.Is = append(r.Is, k.name)
		}
	}
	var le *lock.LockedError
	if errors.As(err, &le) {
		r.LockedPID, r.HeldShared = le.Owner.PID, le.HeldShared
	}
	return r
}

// matches reports whether the result's error matched the sentinel name.
func (r openerResult) matches(name string) bool {
	for _, n := range r.Is {
		if n == name {
			return true
		}
	}
	return false
}

// openerLine prefixes an opener's report on stdout.
const openerLine = "opener-result "

// runOpener plays an opener child.
func runOpener(t *testing.T, cfg openerConfig) {
	ctx := t.Context()
	opts := &workspace.Options{Sharing: cfg.Sharing, Program: "e2e-opener"}
	if cfg.Builtin {
		opts.Migrations = migrations.Builtin
	}
	err := func() error {
		ws, err := workspace.Open(ctx, cfg.Dir, opts)
		if err != nil {
			return err
		}
		if cfg.Builtin {
			if _, err := newSession(ctx, ws, "opener"); err != nil {
				return errors.Join(err, ws.Close())
			}
		}
		return ws.Close()
	}()
	r := resultOf(err)
	info := ncruces.EngineInfo()
	r.CacheDir, r.CacheNote = info.CacheDir, info.CacheNote
	b, jerr := json.Marshal(r)
	if jerr != nil {
		t.Fatal(jerr)
	}
	fmt.Printf("%s%s\n", openerLine, b)
}

// openerProcess says how to start an opener beyond its configuration.
type openerProcess struct {
	binary string            // the test binary to run; "" means os.Args[0]
	uid    int               // run as this user and group id (needs root); 0 means as this process
	env    map[string]string // set in the child's environment
}

// openerEnv is the child configuration of an opener, as childConfig decodes
// it into any struct with an Opener *openerConfig field.
func openerEnv(cfg openerConfig) string {
	b, err := json.Marshal(struct{ Opener openerConfig }{cfg})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// startOpener runs an opener child of the test t to its end and returns its
// report. The child runs the same top-level test, which must hand the
// configuration to runOpener.
func startOpener(t *testing.T, ctx context.Context, cfg openerConfig, p openerProcess) openerResult {
	t.Helper()
	bin := p.binary
	if bin == "" {
		bin = os.Args[0]
	}
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+envName(t)+"$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), envName(t)+"="+openerEnv(cfg))
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if p.uid != 0 {
		setUser(cmd, p.uid)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), openerLine)
		if !ok {
			continue
		}
		var r openerResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("opener: %q: %v", line, err)
		}
		if runErr != nil {
			t.Fatalf("opener: %v\nstdout:\n%s\nstderr:\n%s", runErr, stdout.String(), stderr.String())
		}
		return r
	}
	t.Fatalf("opener: no result (%v)\nstdout:\n%s\nstderr:\n%s", runErr, stdout.String(), stderr.String())
	return openerResult{}
}
