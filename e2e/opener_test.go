package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// An opener is a child process that tries one Open and reports how it went,
// for the tests that need the attempt made by another process: one that runs
// as another user, with another engine configuration (which is process-wide),
// or that contends with a lock the test holds. Unlike the other children
// (internal/testproc) it holds nothing and takes no commands: it opens, writes a
// row if the Open succeeded, closes, says its result and exits.

// openerConfig is what an opener does. A test that uses openers decodes its
// child configuration into a struct with an Opener *openerConfig field (see
// startOpener).
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
	binary string            // the test binary to run; "" means this one
	uid    int               // run as this user and group id (needs root); 0 means as this process
	env    map[string]string // set in the child's environment
}

// startOpener runs an opener child of the test t to its end and returns its
// report. The child runs the same top-level test, which must hand the
// configuration to runOpener.
func startOpener(t *testing.T, ctx context.Context, cfg openerConfig, p openerProcess) openerResult {
	t.Helper()
	cmd := testproc.Command(t, struct{ Opener openerConfig }{cfg})
	if p.binary != "" {
		cmd.Path, cmd.Args[0] = p.binary, p.binary
	}
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if p.uid != 0 {
		setUser(cmd, p.uid)
	}
	c := testproc.StartCmd(t, "opener", cmd)
	line := strings.TrimPrefix(c.WaitForPrefix(ctx, openerLine), openerLine)
	var r openerResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("opener: %q: %v", line, err)
	}
	c.Finish(ctx)
	return r
}
