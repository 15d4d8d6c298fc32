package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

const checkDoc = `
Check verifies a workspace's database: PRAGMA quick_check, or with -full the
slower PRAGMA integrity_check (which also checks that every index matches its
table), and PRAGMA foreign_key_check. It prints "ok", or each problem and each
row whose foreign key points nowhere.

It opens the database read-only and takes no lock, so it works while another
process owns the workspace.

Exit status 4 means the check found problems; 1 means it could not run.
When the database is damaged, check prints the litedir recover command that
salvages its rows into a new workspace.
With -json the findings are printed as one JSON object (see README.md).

Example:

	litedir check -full ./data || echo "damaged: restore a backup"`

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("check", "[-full] [-json] [-name N] [-key-file F] DIR", checkDoc, stderr)
	full := flags.Bool("full", false, "run integrity_check instead of quick_check")
	asJSON := flags.Bool("json", false, "print the findings as JSON")
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	if err != nil {
		return usageExit(flags, err)
	}
	opts := workspace.Options{Name: *name, Key: key.source()}
	err = checkWorkspace(ctx, stdout, stderr, pos[0], opts, *full, *asJSON)
	code := report(stderr, "check", err)
	if errors.Is(err, ncruces.ErrNotADatabase) || errors.Is(err, ncruces.ErrCorrupt) {
		// A database SQLite cannot even check: say how to salvage it.
		fmt.Fprintf(stderr, "litedir check: to salvage its rows: %s\n", recoverCommand(pos[0], *name))
	}
	return code
}

// checkWorkspace checks the workspace in dir that opts names and prints the
// findings.
func checkWorkspace(ctx context.Context, stdout, stderr io.Writer, dir string, opts workspace.Options, full, asJSON bool) (err error) {
	ws, err := openExisting(ctx, stderr, dir, opts, "", 0)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	r, err := ws.Check(ctx, full)
	if err != nil {
		return err
	}

	if asJSON {
		c := newCheckJSON(ws.Path(), r)
		if len(r.Problems) > 0 {
			c.Recover = recoverCommand(dir, opts.Name)
		}
		err = writeJSON(stdout, c)
	} else {
		err = writeCheck(stdout, r)
	}
	if err != nil || r.OK() {
		return err
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(stderr, "litedir check: to salvage its rows: %s\n", recoverCommand(dir, opts.Name))
	}
	// The findings are on stdout; stderr gets the summary, and the error
	// matches workspace.ErrCheckFailed for exit status 4.
	return &fs.PathError{Op: "check", Path: ws.Path(), Err: fmt.Errorf("%w: %s, %s",
		workspace.ErrCheckFailed, plural(len(r.Problems), "problem"), plural(len(r.ForeignKeys), "foreign key violation"))}
}

// writeCheck prints "ok", or one line per finding.
func writeCheck(w io.Writer, r *workspace.CheckReport) error {
	if r.OK() {
		_, err := fmt.Fprintln(w, "ok")
		return err
	}
	var f fields
	for _, p := range r.Problems {
		f.add("problem", "%s", p)
	}
	for _, v := range r.ForeignKeys {
		f.add("foreign key", "%v", v)
	}
	return f.write(w)
}

// checkJSON is the -json output of check.
type checkJSON struct {
	Database    string           `json:"database"`
	Full        bool             `json:"full"`
	OK          bool             `json:"ok"`
	Problems    []string         `json:"problems"`
	ForeignKeys []foreignKeyJSON `json:"foreign_keys"`
	// Recover is the litedir recover command to run, when the database is
	// damaged (not for foreign keys alone).
	Recover string `json:"recover,omitempty"`
}

// foreignKeyJSON is a row of PRAGMA foreign_key_check.
type foreignKeyJSON struct {
	Table  string `json:"table"`
	RowID  int64  `json:"rowid"`
	Parent string `json:"parent"`
	Index  int    `json:"index"`
}

func newCheckJSON(path string, r *workspace.CheckReport) checkJSON {
	c := checkJSON{
		Database:    path,
		Full:        r.Full,
		OK:          r.OK(),
		Problems:    append([]string{}, r.Problems...),
		ForeignKeys: []foreignKeyJSON{},
	}
	for _, v := range r.ForeignKeys {
		c.ForeignKeys = append(c.ForeignKeys, foreignKeyJSON{Table: v.Table, RowID: v.RowID, Parent: v.Parent, Index: v.Index})
	}
	return c
}
