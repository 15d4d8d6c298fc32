package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

const migrateDoc = `
Migrate applies migrations to a workspace, creating the directory and the
database if they do not exist, and prints the schema version after. The
migrations are either the builtin agent schema (-builtin) or the goose SQL
files NNNNN_name.sql in a directory (-migrations); give exactly one of them.
Each migration runs in its own transaction and is logged on stderr as it is
applied; a failing migration is rolled back and named, and those before it
stay applied. With -to only the migrations up to version N are applied.

It opens the workspace like a program does, taking its lock, so it fails with
exit status 3, naming the owner, while another process holds the workspace
(unless -wait outlasts it). A database whose schema is newer than the
migrations (or than -to) is left untouched, with exit status 1: migrations
only go up.

With -status nothing is applied: the migrations are listed as applied or
pending. Like status, it reads without the lock and never creates a
workspace.

Examples:

	litedir migrate -migrations ./schema ./data
	litedir migrate -status -migrations ./schema ./data
	litedir migrate -builtin -to 1 ./data`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("migrate", "-builtin | -migrations PATH [-status | -to N] [-wait D] [-name N] [-key-file F] DIR", migrateDoc, stderr)
	builtin := flags.Bool("builtin", false, "apply the builtin agent schema")
	dir := flags.String("migrations", "", "apply the SQL migrations in the directory `path`")
	status := flags.Bool("status", false, "list the migrations as applied or pending; apply nothing")
	to := flags.Int64("to", 0, "apply the migrations up to `version` N only (default: all)")
	wait := waitFlag(flags, "a workspace")
	name := nameFlag(flags)
	key := keyFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	toSet := false
	flags.Visit(func(f *flag.Flag) { toSet = toSet || f.Name == "to" })
	switch {
	case err != nil:
	case *builtin == (*dir != ""):
		err = usageError("give exactly one of -builtin and -migrations")
	case *status && (toSet || *wait != 0):
		err = usageError("-status applies nothing: it takes neither -to nor -wait")
	case toSet && *to <= 0:
		err = usageError("-to wants a migration version, > 0")
	}
	if err != nil {
		return usageExit(flags, err)
	}
	src := migrationSource{builtin: *builtin, dir: *dir}
	opts := workspace.Options{Name: *name, Key: key.source()}
	if *status {
		return report(stderr, "migrate", listMigrations(ctx, stdout, stderr, pos[0], opts, src))
	}
	return report(stderr, "migrate", migrateWorkspace(ctx, stdout, stderr, pos[0], opts, src, *to, *wait))
}

// migrationSource is where the migrations of migrate (and status) come
// from: the builtin schema, or a directory.
type migrationSource struct {
	builtin bool
	dir     string
}

// load returns the migrations and the name to show for their source.
func (s migrationSource) load() (fs.FS, string, error) {
	if s.builtin {
		return migrations.Builtin, "builtin", nil
	}
	fsys, err := migrationDir(s.dir)
	return fsys, s.dir, err
}

// migrateWorkspace opens (or creates: encrypted, with a key) the workspace
// in dir that opts names (its Name and Key) with the migrations of src,
// applies them (those up to version to, if it is not 0), and prints its
// schema.
func migrateWorkspace(ctx context.Context, stdout, stderr io.Writer, dir string, opts workspace.Options, src migrationSource, to int64, wait time.Duration) (err error) {
	fsys, source, err := src.load()
	if err != nil {
		return err
	}
	if to != 0 {
		if err := knownVersion(fsys, source, to); err != nil {
			return err
		}
	}
	// Info: the migrator logs each migration it applies.
	logger := newLogger(stderr, slog.LevelInfo)
	opts.Migrations, opts.Program, opts.LockWait, opts.Logger = fsys, "litedir migrate", wait, logger
	if to != 0 {
		// Open would apply them all; the migrator below applies the part.
		opts.Migrations = nil
	}
	ws, err := workspace.Open(ctx, dir, &opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	if to != 0 {
		// Through the workspace: serialized with its other migrations, and
		// under the migration lock in a shared workspace.
		if _, err := ws.MigrateTo(ctx, fsys, to); err != nil {
			return err
		}
	}
	st, err := ws.Schema(ctx, fsys)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: schema %s\n", ws.Path(), schemaLine(st, source))
	return err
}

// knownVersion checks, before the workspace is touched, that version is
// the version of one of the migrations in fsys.
func knownVersion(fsys fs.FS, source string, version int64) error {
	list, err := migrations.Load(fsys)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(mig migrations.Migration) bool { return mig.Version == version }) {
		return fmt.Errorf("-to %d: %w (in %s)", version, migrations.ErrUnknownVersion, source)
	}
	return nil
}

// listMigrations prints the migrations of src and whether the database of
// the workspace in dir that opts names has them applied.
func listMigrations(ctx context.Context, stdout, stderr io.Writer, dir string, opts workspace.Options, src migrationSource) (err error) {
	fsys, source, err := src.load()
	if err != nil {
		return err
	}
	opts.Migrations = fsys
	st, err := readStatus(ctx, stderr, dir, opts)
	if err != nil {
		return err
	}
	pending := map[int64]bool{}
	for _, m := range st.Schema.Pending {
		pending[m.Version] = true
	}
	list, err := migrations.Load(fsys)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: schema %s\n", st.Path, schemaLine(st.Schema, source))
	for _, mig := range list {
		state := "applied"
		if pending[mig.Version] {
			state = "pending"
		}
		fmt.Fprintf(&b, "%-8s %5d  %s\n", state, mig.Version, mig.Source)
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// migrationDir returns the migrations in the directory path, checked before
// anything touches the workspace: a mistake in a migration file must not
// leave a new, empty workspace behind.
func migrationDir(path string) (fs.FS, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, &fs.PathError{Op: "migrate", Path: path, Err: syscall.ENOTDIR}
	}
	fsys := os.DirFS(path)
	if _, err := migrations.Load(fsys); err != nil {
		return nil, fmt.Errorf("migrations in %s: %w", path, err)
	}
	return fsys, nil
}
