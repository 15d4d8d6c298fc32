package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

const statusDoc = `
Status shows a workspace: its directory, database and WAL files, the journal
mode in force (and the one litedir wants, when they differ), its pages, the
schema version applied, the lock file and the owner record of the process that
holds the workspace, the platform profile and the SQLite engine.

It opens the database read-only and takes no lock, so it works while another
process owns the workspace. An encrypted workspace needs its key: -key-file,
or LITEDIR_KEY_FILE. The owner record is what the lock file says; after
a crash it may name a process that is gone.

With -builtin, or -migrations and a directory of goose SQL files, the schema
is compared with those migrations, and the ones not yet applied are listed.
With -json the status is printed as one JSON object (see README.md).

Examples:

	litedir status ./data
	litedir status -json -migrations ./schema ./data`

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("status", "[-json] [-builtin | -migrations PATH] [-name N] [-key-file F] DIR", statusDoc, stderr)
	asJSON := flags.Bool("json", false, "print the status as JSON")
	builtin := flags.Bool("builtin", false, "compare the schema with the builtin migrations")
	dir := flags.String("migrations", "", "compare the schema with the SQL migrations in the directory `path`")
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
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
	opts := workspace.Options{Name: *name, Key: key.source()}
	return report(stderr, "status", showStatus(ctx, stdout, stderr, pos[0], opts, src, *asJSON))
}

// readStatus opens the existing workspace in dir read-only, with opts, and
// returns its status.
func readStatus(ctx context.Context, stderr io.Writer, dir string, opts workspace.Options) (_ *workspace.Status, err error) {
	ws, err := openExisting(ctx, stderr, dir, opts, "", 0)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	return ws.Status(ctx)
}

// showStatus prints the status of the workspace in dir that opts names,
// comparing its schema with the migrations of src unless src is nil.
func showStatus(ctx context.Context, stdout, stderr io.Writer, dir string, opts workspace.Options, src *migrationSource, asJSON bool) (err error) {
	source := ""
	if src != nil {
		if opts.Migrations, source, err = src.load(); err != nil {
			return err
		}
	}
	st, err := readStatus(ctx, stderr, dir, opts)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, newStatusJSON(st, source != ""))
	}
	return writeStatus(stdout, st, source)
}

// writeStatus prints st as aligned "key: value" lines; source names the
// migrations the schema was compared with, if any.
func writeStatus(w io.Writer, st *workspace.Status, source string) error {
	var f fields
	f.add("dir", "%s", st.Dir)
	f.add("database", "%s (%d bytes)", st.Path, st.DBSize)
	f.add("wal", "%d bytes", st.WALSize)
	f.add("encrypted", "%s", yesNo(st.Encrypted, "yes", "no"))
	if st.JournalMode != st.WantJournalMode {
		// Slower, not less safe: see workspace.Status.
		f.add("journal mode", "%s (litedir wants %s)", st.JournalMode, st.WantJournalMode)
	} else {
		f.add("journal mode", "%s", st.JournalMode)
	}
	f.add("pages", "%d of %d bytes, %d free", st.PageCount, st.PageSize, st.FreePages)
	f.add("schema", "%s", schemaLine(st.Schema, source))
	f.add("lock file", "%s", st.LockPath)
	f.addOwner(st.Owner)
	if r := st.LastRecovery; r != nil {
		f.add("last recovery", "%s: %s; damaged files in %s", r.At.Format(time.RFC3339),
			yesNo(r.Report.Lossless(), "nothing lost", fmt.Sprintf("%d rows in %s", r.Report.LostAndFound, r.Report.LostAndFoundTable)), r.Quarantine)
	}
	f.addPlatform(st.Profile)
	f.addEngine(st.Engine)
	return f.write(w)
}

// schemaLine describes the schema version and, unless source is "",
// compares it with the migrations from source ("builtin", or a directory).
func schemaLine(s migrations.Status, source string) string {
	switch {
	case source == "":
		return fmt.Sprintf("version %d", s.Current)
	case s.Current > s.Latest:
		return fmt.Sprintf("version %d, newer than the newest migration in %s (%d)", s.Current, source, s.Latest)
	case len(s.Pending) == 0:
		return fmt.Sprintf("version %d of %d (%s), up to date", s.Current, s.Latest, source)
	}
	names := make([]string, len(s.Pending))
	for i, m := range s.Pending {
		names[i] = m.Source
	}
	return fmt.Sprintf("version %d of %d (%s), pending: %s", s.Current, s.Latest, source, strings.Join(names, ", "))
}

// statusJSON is the -json output of status.
type statusJSON struct {
	Dir             string       `json:"dir"`
	Database        string       `json:"database"`
	DatabaseSize    int64        `json:"database_size"`
	WALSize         int64        `json:"wal_size"`
	Encrypted       bool         `json:"encrypted"`
	JournalMode     string       `json:"journal_mode"`
	WantJournalMode string       `json:"want_journal_mode"`
	PageSize        int64        `json:"page_size"`
	PageCount       int64        `json:"page_count"`
	FreePages       int64        `json:"free_pages"`
	Schema          schemaJSON   `json:"schema"`
	LockFile        string       `json:"lock_file"`
	Owner           *ownerJSON   `json:"owner"`           // null: no owner record
	LockState       string       `json:"lock_state"`      // see lock.Owner.State
	LockInProcess   bool         `json:"lock_in_process"` // the lock excludes one process's Opens only
	Platform        platformJSON `json:"platform"`
	Engine          engineJSON   `json:"engine"`
	// LastRecovery is the latest quarantine-on-open; null when none.
	LastRecovery *lastRecoveryJSON `json:"last_recovery"`
}

// lastRecoveryJSON is a quarantine-on-open: when, why, where the damaged
// files are, and the recovery's report.
type lastRecoveryJSON struct {
	At         time.Time   `json:"at"`
	Cause      string      `json:"cause"`
	Quarantine string      `json:"quarantine"`
	Report     recoverJSON `json:"report"`
}

// schemaJSON is the schema state. Latest and Pending are there only with
// -builtin or -migrations; Pending is then [] when nothing is pending.
type schemaJSON struct {
	Current int64    `json:"current"`
	Latest  *int64   `json:"latest,omitzero"`
	Pending []string `json:"pending,omitzero"`
}

func newStatusJSON(st *workspace.Status, compared bool) statusJSON {
	s := schemaJSON{Current: st.Schema.Current}
	if compared {
		latest := st.Schema.Latest
		s.Latest = &latest
		s.Pending = []string{}
		for _, m := range st.Schema.Pending {
			s.Pending = append(s.Pending, m.Source)
		}
	}
	return statusJSON{
		Dir:             st.Dir,
		Database:        st.Path,
		DatabaseSize:    st.DBSize,
		WALSize:         st.WALSize,
		Encrypted:       st.Encrypted,
		JournalMode:     st.JournalMode,
		WantJournalMode: st.WantJournalMode,
		PageSize:        st.PageSize,
		PageCount:       st.PageCount,
		FreePages:       st.FreePages,
		Schema:          s,
		LockFile:        st.LockPath,
		Owner:           newOwnerJSON(st.Owner),
		LockState:       string(st.Owner.State()),
		LockInProcess:   st.LockInProcess,
		Platform:        newPlatformJSON(st.Profile),
		Engine:          newEngineJSON(st.Engine),
		LastRecovery:    newLastRecoveryJSON(st.LastRecovery),
	}
}

func newLastRecoveryJSON(r *workspace.Recovery) *lastRecoveryJSON {
	if r == nil || r.Report == nil {
		return nil
	}
	return &lastRecoveryJSON{At: r.At, Cause: r.Cause, Quarantine: r.Quarantine, Report: newRecoverJSON(r.Report)}
}
