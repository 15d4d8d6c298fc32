package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// OpenChild is the hidden litedir command that measureOpen runs as its
// child process: "litedir bench-open [-name N] [-workload W] [-key-file F]
// DIR" must Open the workspace with the migrations of workload W (default
// plain: those of migrations.Builtin), answer a first query, close, and
// print the elapsed nanoseconds alone on a line (see [MeasureOpenChild]).
const OpenChild = "bench-open"

// MeasureOpenChild is the work of the child process: it opens the existing
// workspace in dir with the migrations of the named workload (none
// pending), with the key in keyFile unless it is "" (the time includes
// reading it), answers a first query, closes it, and returns the time to
// the answer. An unknown workload is an error matching ErrUsage.
func MeasureOpenChild(ctx context.Context, dir, name, workload, keyFile string) (time.Duration, error) {
	wl, ok := newWorkload(workload, 1)
	if !ok {
		return 0, usageError("-workload %q: want %s", workload, strings.Join(workloadNames, ", "))
	}
	start := time.Now()
	opts := &workspace.Options{
		Name:       name,
		Migrations: wl.schema(),
		Program:    "litedir " + OpenChild,
	}
	if keyFile != "" {
		opts.Key = workspace.KeyFile(keyFile)
	}
	ws, err := workspace.Open(ctx, dir, opts)
	if err != nil {
		return 0, err
	}
	var n int64
	err = ws.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&n)
	elapsed := time.Since(start)
	if err = errors.Join(err, ws.Close()); err != nil {
		return 0, err
	}
	return elapsed, nil
}

// measureOpen runs "litedir bench-open" on dir runs times, one process after
// the other, with the engine cache in cacheDir, which must start empty: the
// first run compiles SQLite and fills the cache (cold), the others load it
// (warm). The workspace, created by the named workload, must be closed, as
// the children take its lock. An encrypted workspace's children read the
// key from keyFile.
func measureOpen(ctx context.Context, dir, name, workload, keyFile, cacheDir string, runs int) (*OpenResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{OpenChild, "-name", name, "-workload", workload, "-key-file", keyFile, dir}

	res := &OpenResult{Runs: runs}
	for i := range runs {
		cmd := exec.CommandContext(ctx, exe, args...)
		// Keep the name the program was started as: a multi-call binary
		// (testscript's, or a busybox-style link) dispatches on it.
		cmd.Args[0] = os.Args[0]
		// exec.Cmd keeps the last of duplicate variables.
		cmd.Env = append(os.Environ(), ncruces.EnvCacheDir+"="+cacheDir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start).Nanoseconds()
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			return res, fmt.Errorf("run %d of %s: %w: %s", i+1, strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
		if err != nil {
			return res, fmt.Errorf("run %d of %s: unexpected output %q", i+1, strings.Join(cmd.Args, " "), stdout.String())
		}
		if i == 0 {
			res.ColdNs, res.ColdProcessNs = ns, wall
			continue
		}
		res.WarmNs = append(res.WarmNs, ns)
		res.WarmProcessNs = append(res.WarmProcessNs, wall)
	}
	if len(res.WarmNs) > 0 {
		res.WarmMedianNs = new(median(res.WarmNs))
		res.WarmMinNs = new(slices.Min(res.WarmNs))
		res.WarmMaxNs = new(slices.Max(res.WarmNs))
		res.WarmProcessMedianNs = new(median(res.WarmProcessNs))
	}
	return res, nil
}

// median returns the median of v, the mean of the middle two for an even
// count; v is not modified.
func median(v []int64) int64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1] + (s[n/2]-s[n/2-1])/2
}
