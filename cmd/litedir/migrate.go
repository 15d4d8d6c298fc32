package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

const migrateDoc = `
Migrate applies migrations to a workspace, creating the directory and the
database if they do not exist, and prints the schema version after. The
migrations are either the builtin agent schema (-builtin) or the goose SQL
files NNNNN_name.sql in a directory (-dir); give exactly one of them. Each
migration runs in its own transaction and is logged on stderr as it is
applied; a failing migration is rolled back and named.

It opens the workspace like a program does, taking its lock, so it fails with
exit status 3, naming the owner, while another process holds the workspace
(unless -wait outlasts it). A database whose schema is newer than the
migrations is left untouched, with exit status 1.`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("migrate", "-builtin | -dir PATH [-wait D] [-name N] DIR", migrateDoc, stderr)
	builtin := flags.Bool("builtin", false, "apply the builtin agent schema")
	dir := flags.String("dir", "", "apply the SQL migrations in the directory `path`")
	wait := waitFlag(flags, "a workspace")
	name := nameFlag(flags)
	pos, err := parseArgs(flags, args, "DIR")
	if err == nil && *builtin == (*dir != "") {
		err = usageError("give exactly one of -builtin and -dir")
	}
	if err != nil {
		return usageExit(flags, err)
	}
	return report(stderr, "migrate", migrateWorkspace(ctx, stdout, stderr, pos[0], *name, *builtin, *dir, *wait))
}

// migrateWorkspace opens (or creates) the workspace name in dir with the
// builtin migrations or those in the directory from, and prints its schema.
func migrateWorkspace(ctx context.Context, stdout, stderr io.Writer, dir, name string, builtin bool, from string, wait time.Duration) (err error) {
	source := "builtin"
	fsys := migrations.Builtin
	if !builtin {
		source = from
		if fsys, err = migrationDir(from); err != nil {
			return err
		}
	}
	ws, err := workspace.Open(ctx, dir, &workspace.Options{
		Name:       name,
		Migrations: fsys,
		Program:    "litedir migrate",
		LockWait:   wait,
		// Info: the migrator logs each migration it applies.
		Logger: newLogger(stderr, slog.LevelInfo),
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ws.Close()) }()
	st, err := ws.Status(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: schema %s\n", st.Path, schemaLine(st.Schema, source))
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
	// migrations.New reads only the files; the database it is given is
	// never used, so it gets one that cannot connect.
	db := sql.OpenDB(noConnector{})
	defer db.Close()
	if _, err := migrations.New(db, fsys, nil); err != nil {
		return nil, fmt.Errorf("migrations in %s: %w", path, err)
	}
	return fsys, nil
}

// errNoConnection is the error of noConnector, which never connects.
var errNoConnection = errors.New("no database: checking migration files only")

// noConnector is a driver.Connector that refuses to connect.
type noConnector struct{}

func (noConnector) Connect(context.Context) (driver.Conn, error) { return nil, errNoConnection }

func (noConnector) Driver() driver.Driver { return noDriver{} }

// noDriver is the driver.Driver of noConnector.
type noDriver struct{}

func (noDriver) Open(string) (driver.Conn, error) { return nil, errNoConnection }
