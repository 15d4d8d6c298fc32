package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/workspace"
)

const recoverDoc = `
Recover salvages a damaged workspace into a new one: it reads the database in
DIR page by page, in Go (the header, the b-trees, the WAL's committed frames),
and writes every row it can verify into a new, healthy workspace in DST. Rows
it cannot verify whole (a broken overflow chain, a malformed record, a page
that fits no table) are kept in the table lost_and_found with the page they
were found on, why, and their values. Nothing in DIR is written: every file
is opened read-only and no lock is taken.

With -builtin or -migrations the recovery is schema-aware: DST gets the
migrations' schema, and pages the damaged schema no longer leads to are
attributed to their tables by the shape of their rows. Without, the damaged
file's own schema is used as far as it can be read.

DST must not exist (or be an empty directory). A DIR whose owner is running
is refused with exit status 3; -force reads a snapshot of its files instead.
An encrypted workspace is read with its key (-key-file, or $LITEDIR_KEY_FILE),
block by block, and DST is encrypted with the same key.

Exit status 0 means nothing was lost, 4 that some rows could not be recovered
(see lost_and_found and the report), 1 that the recovery could not run.
With -json the report is printed as one JSON object (see README.md).

Examples:

	litedir recover -builtin ./data ./data-recovered
	litedir recover -json -migrations ./schema ./data /tmp/rescue`

func runRecover(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("recover", "[-json] [-builtin | -migrations PATH] [-force] [-name N] [-key-file F] DIR DST", recoverDoc, stderr)
	asJSON := flags.Bool("json", false, "print the report as JSON")
	builtin := flags.Bool("builtin", false, "recover into the builtin agent schema")
	dir := flags.String("migrations", "", "recover into the schema of the SQL migrations in the directory `path`")
	force := flags.Bool("force", false, "read a snapshot of a workspace whose owner is running")
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR", "DST")
	if err == nil && *builtin && *dir != "" {
		err = usageError("give at most one of -builtin and -migrations")
	}
	if err != nil {
		return usageExit(flags, err)
	}
	var src *migrationSource
	if *builtin || *dir != "" {
		src = &migrationSource{builtin: *builtin, dir: *dir}
	}
	return report(stderr, "recover", recoverWorkspace(ctx, stdout, stderr, pos[0], pos[1], *name, key.source(), src, *force, *asJSON))
}

// recoverWorkspace recovers the workspace name in dir into dst and prints
// the report. Its error matches workspace.ErrDataLost (exit status 4) when
// rows could not be recovered.
func recoverWorkspace(ctx context.Context, stdout, stderr io.Writer, dir, dst, name string, key workspace.KeySource, src *migrationSource, force, asJSON bool) error {
	if err := needDatabase("recover", dir, name); err != nil {
		return err
	}
	opts := &workspace.RecoverOptions{
		Name:    name,
		Force:   force,
		Program: "litedir recover",
		Logger:  newLogger(stderr, slog.LevelError),
		Key:     key,
	}
	if src != nil {
		fsys, _, err := src.load()
		if err != nil {
			return err
		}
		opts.Migrations = fsys
	}
	r, err := workspace.Recover(ctx, dir, dst, opts)
	if errors.Is(err, lock.ErrLocked) {
		return fmt.Errorf("%w; litedir recover -force reads a snapshot", err)
	}
	if err != nil {
		return err
	}
	if asJSON {
		err = writeJSON(stdout, newRecoverJSON(r))
	} else {
		err = writeRecover(stdout, r)
	}
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return &fs.PathError{Op: "recover", Path: r.Source, Err: err}
	}
	return nil
}

// writeRecover prints the report as aligned lines.
func writeRecover(w io.Writer, r *workspace.RecoverReport) error {
	var f fields
	f.add("recovered", "%s", r.Source)
	f.add("into", "%s", r.Destination)
	f.add("schema", "from %s%s", r.SchemaSource, yesNo(r.SchemaComplete, "", " (the damaged schema was incomplete)"))
	for _, t := range r.Tables {
		line := plural(t.Rows, "row")
		if t.FromOrphans > 0 {
			line += fmt.Sprintf(" (%d from orphaned pages)", t.FromOrphans)
		}
		if t.Lost > 0 {
			line += fmt.Sprintf(", %d in lost_and_found", t.Lost)
		}
		if !t.Intact {
			line += ", b-tree damaged"
		}
		f.add("table "+t.Name, "%s", line)
	}
	if r.LostAndFound > 0 {
		f.add("lost_and_found", "%s in table %s", plural(r.LostAndFound, "row"), r.LostAndFoundTable)
	}
	f.add("pages", "%d of %d bytes: %d read, %d damaged, %d orphaned, %d free", r.Pages, r.PageSize, r.PagesRead, r.PagesDamaged, r.PagesOrphaned, r.PagesFree)
	if r.WALFrames > 0 || r.WALIgnored > 0 {
		f.add("wal", "%d frames applied, %d after the last commit ignored", r.WALFrames, r.WALIgnored)
	}
	if r.CellsDamaged > 0 {
		f.add("cells", "%d unreadable", r.CellsDamaged)
	}
	if r.RowsStale > 0 {
		f.add("stale", "%s: older copies, not recovered", plural(r.RowsStale, "row"))
	}
	for _, v := range r.ForeignKeys {
		f.add("foreign key", "%v (kept)", v)
	}
	for _, n := range r.Notes {
		f.add("note", "%s", n)
	}
	f.add("time", "%s", r.Duration.Round(1e6))
	if err := r.Err(); err != nil {
		f.add("result", "rows may be missing: %s", strings.TrimPrefix(err.Error(), workspace.ErrDataLost.Error()+": "))
	} else {
		f.add("result", "nothing lost")
	}
	return f.write(w)
}

// recoverJSON is the -json output of recover.
type recoverJSON struct {
	Source            string           `json:"source"`
	Destination       string           `json:"destination"`
	SchemaSource      string           `json:"schema_source"`
	SchemaComplete    bool             `json:"schema_complete"`
	Snapshot          bool             `json:"snapshot"`
	Lossless          bool             `json:"lossless"`
	Tables            []recoverTable   `json:"tables"`
	LostAndFound      int              `json:"lost_and_found"`
	LostAndFoundTable string           `json:"lost_and_found_table"`
	Skipped           int              `json:"skipped"`
	PageSize          int              `json:"page_size"`
	Pages             uint32           `json:"pages"`
	PagesRead         int              `json:"pages_read"`
	PagesDamaged      int              `json:"pages_damaged"`
	PagesOrphaned     int              `json:"pages_orphaned"`
	PagesFree         int              `json:"pages_free"`
	CellsDamaged      int              `json:"cells_damaged"`
	RowsStale         int              `json:"rows_stale"`
	WALFrames         int              `json:"wal_frames"`
	WALIgnored        int              `json:"wal_ignored"`
	ForeignKeys       []foreignKeyJSON `json:"foreign_keys"`
	Notes             []string         `json:"notes"`
	DurationNS        int64            `json:"duration_ns"`
}

// recoverTable is one table of recoverJSON.
type recoverTable struct {
	Name        string `json:"name"`
	Rows        int    `json:"rows"`
	FromOrphans int    `json:"from_orphans"`
	Lost        int    `json:"lost"`
	Intact      bool   `json:"intact"`
}

func newRecoverJSON(r *workspace.RecoverReport) recoverJSON {
	j := recoverJSON{
		Source: r.Source, Destination: r.Destination, SchemaSource: r.SchemaSource, SchemaComplete: r.SchemaComplete,
		Snapshot: r.Snapshot, Lossless: r.Lossless(), Tables: []recoverTable{}, LostAndFound: r.LostAndFound,
		LostAndFoundTable: r.LostAndFoundTable, Skipped: r.Skipped, PageSize: r.PageSize, Pages: r.Pages,
		PagesRead: r.PagesRead, PagesDamaged: r.PagesDamaged, PagesOrphaned: r.PagesOrphaned, PagesFree: r.PagesFree,
		CellsDamaged: r.CellsDamaged, RowsStale: r.RowsStale, WALFrames: r.WALFrames, WALIgnored: r.WALIgnored,
		ForeignKeys: []foreignKeyJSON{}, Notes: append([]string{}, r.Notes...), DurationNS: r.Duration.Nanoseconds(),
	}
	for _, t := range r.Tables {
		j.Tables = append(j.Tables, recoverTable{Name: t.Name, Rows: t.Rows, FromOrphans: t.FromOrphans, Lost: t.Lost, Intact: t.Intact})
	}
	for _, v := range r.ForeignKeys {
		j.ForeignKeys = append(j.ForeignKeys, foreignKeyJSON{Table: v.Table, RowID: v.RowID, Parent: v.Parent, Index: v.Index})
	}
	return j
}

// recoverCommand returns the litedir recover command that salvages the
// workspace name in dir into a new directory beside it, for check to
// suggest. The schema flag is left to the user, who knows the migrations.
func recoverCommand(dir, name string) string {
	dst := filepath.Clean(dir) + "-recovered"
	args := []string{"litedir", "recover", "[-builtin | -migrations PATH]"}
	if name != workspace.DefaultName {
		args = append(args, "-name", shellQuote(name))
	}
	return strings.Join(append(args, shellQuote(dir), shellQuote(dst)), " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
