// Package migrations applies versioned SQL migrations to one SQLite database.
//
// It wraps goose's [goose.Provider] (SQL migrations only) and adds the checks a
// long-lived data directory needs: a database written by a newer program is
// refused instead of silently accepted, a failing migration names its file, and
// the status of a database can be read without writing to it.
//
// # Migration files
//
// Migrations are goose SQL files at the root of an [fs.FS], named
// NNNNN_description.sql, where NNNNN is a positive version number:
//
//	00001_init.sql
//	00002_files_usage.sql
//
// Each file starts with a "-- +goose Up" section and usually ends with a
// "-- +goose Down" section. Files with other extensions and subdirectories are
// ignored; a *.sql file that goose would skip because of its name is an error
// ([ErrInvalidMigration]), so a typo cannot silently drop a migration. So is a
// root without *.sql files whose subdirectory has some ([ErrSubdirectory]):
// //go:embed migrations/*.sql puts the files under "migrations/", and the
// fs.FS to pass is fs.Sub(files, "migrations").
//
// # Applying
//
// [Migrator.Up] applies the pending migrations in version order, each in its
// own transaction (BEGIN IMMEDIATE when the pool is opened with
// _txlock=immediate), so a failing migration leaves the database exactly as it
// was before that migration. [Migrator.Status] reports the applied and pending
// versions using only a read-only transaction.
//
// # Versions
//
// Applied versions are recorded in goose's version table (goose_db_version
// unless [Options.TableName] says otherwise). The database version is the
// highest version recorded there. A database whose version is higher than the
// newest migration known to the program is "too new": [Migrator.Up] refuses it
// with a [*SchemaTooNewError] and leaves it untouched.
//
// # Builtin schema
//
// [Builtin] holds the example schema for AI-agent workspaces used by the
// litedir CLI, benchmarks and end-to-end tests.
package migrations

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
)

// Options configures a [Migrator]. The zero value is ready to use; a nil
// *Options passed to [New] means the zero value.
type Options struct {
	// Logger receives one Info record per applied migration and a Debug record
	// when there is nothing to apply. Nil discards everything.
	//
	// goose's own per-statement logging is always off: it logs the text of every
	// statement at Info level, which is too loud for a library.
	Logger *slog.Logger

	// TableName is the goose version table. Empty means goose's default,
	// "goose_db_version". It must be a plain SQL identifier (letters, digits and
	// underscores, not starting with a digit), because goose splices it into its
	// queries unquoted.
	TableName string
}

// Migration is one migration file known to a [Migrator].
type Migration struct {
	Version int64  // version from the file name prefix, > 0
	Source  string // file name within the fs.FS, e.g. "00001_init.sql"
}

// Applied is a migration applied by [Migrator.Up].
type Applied struct {
	Version  int64         // version of the migration
	Source   string        // file name within the fs.FS
	Duration time.Duration // time spent running it, including its transaction
}

// Status describes a database relative to the migrations of a [Migrator].
//
// Current > Latest means the database was migrated by a newer program; see
// [ErrSchemaTooNew].
type Status struct {
	Current int64       // highest applied version; 0 = none (or no version table)
	Latest  int64       // newest version among the migrations; 0 = no migrations
	Pending []Migration // known migrations not applied yet, in version order
}

// Migrator applies the SQL migrations of one fs.FS to one database.
//
// A Migrator is safe for concurrent use by multiple goroutines: [Migrator.Up]
// and [Migrator.Status] are serialized, so concurrent Up calls apply each
// migration exactly once. It never holds more than one connection of the pool
// at a time, so it works on a pool limited to one connection
// (sql.DB.SetMaxOpenConns(1)).
//
// Several Migrators (or processes) migrating the same database at once are not
// coordinated beyond SQLite's own locking: two of them may both decide to apply
// a migration, and the second then fails. litedir's workspace keeps one
// Migrator per database, in the one process that holds the directory lock.
//
// A Migrator never closes the *sql.DB it was given; the caller owns it. (This
// is also why it never calls goose's Provider.Close, which would close it.)
type Migrator struct {
	db         *sql.DB
	fsys       fs.FS
	table      string
	log        *slog.Logger
	migrations []Migration // sorted by version

	// sem serializes Up and Status. A one-slot channel instead of a sync.Mutex
	// so that a caller waiting for a long Up can give up when its context ends.
	sem chan struct{}
}

// identRE matches the table names we accept: goose splices the name into its
// SQL unquoted, so only names that need no quoting are safe.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New checks the migrations in fsys and returns a [Migrator] that applies them
// to db. It does not touch the database.
//
// fsys must hold goose SQL files named NNNNN_description.sql at its root (see
// the package documentation); an fsys with no *.sql file at all is valid and
// means there is nothing to apply (latest version 0), but one whose *.sql
// files are all in a subdirectory is refused with an [*fs.PathError] naming
// that subdirectory and wrapping [ErrSubdirectory]. New reports, as an
// [*fs.PathError] wrapping [ErrInvalidMigration], the first file that goose
// would skip or reject: a *.sql name without a positive version prefix, two
// files with the same version, a file without a "-- +goose Up" annotation, or a
// Go migration (not supported). The full SQL parse happens in [Migrator.Up],
// before any migration runs.
//
// A nil db or fsys is an error wrapping [fs.ErrInvalid]. fsys must not change
// while the Migrator is in use.
func New(db *sql.DB, fsys fs.FS, opts *Options) (*Migrator, error) {
	if db == nil {
		return nil, fmt.Errorf("migrations: new: nil *sql.DB: %w", fs.ErrInvalid)
	}
	if fsys == nil {
		return nil, fmt.Errorf("migrations: new: nil fs.FS: %w", fs.ErrInvalid)
	}
	if opts == nil {
		opts = &Options{}
	}
	table := opts.TableName
	if table == "" {
		table = goose.DefaultTablename
	}
	if !identRE.MatchString(table) {
		return nil, fmt.Errorf("migrations: new: table name %q is not a plain SQL identifier: %w", table, fs.ErrInvalid)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	list, err := collect(fsys)
	if err != nil {
		return nil, err
	}
	m := &Migrator{
		db:         db,
		fsys:       fsys,
		table:      table,
		log:        logger,
		migrations: list,
		sem:        make(chan struct{}, 1),
	}
	// Let goose look at fsys too, so anything it would reject is reported now
	// rather than on the first Up. An empty set is ours to allow: goose refuses
	// to build a Provider without migrations.
	if len(list) > 0 {
		if _, err := m.provider(); err != nil {
			return nil, fmt.Errorf("migrations: new: %w: %w", ErrInvalidMigration, err)
		}
	}
	return m, nil
}

// Load checks the migrations in fsys as [New] does and returns them, in
// version order, without a database: for tools that list or validate
// migration files. Its errors are New's.
func Load(fsys fs.FS) ([]Migration, error) {
	if fsys == nil {
		return nil, fmt.Errorf("migrations: load: nil fs.FS: %w", fs.ErrInvalid)
	}
	// goose's Provider wants a *sql.DB; one that cannot connect is enough
	// to check the files, which is all it does before a migration runs.
	db := sql.OpenDB(noConnector{})
	defer db.Close()
	m, err := New(db, fsys, nil)
	if err != nil {
		return nil, err
	}
	return m.Migrations(), nil
}

// errNoConnection is the error of noConnector, which never connects.
var errNoConnection = errors.New("migrations: no database: checking migration files only")

// noConnector is a driver.Connector that refuses to connect.
type noConnector struct{}

func (noConnector) Connect(context.Context) (driver.Conn, error) { return nil, errNoConnection }
func (noConnector) Driver() driver.Driver                        { return noDriver{} }

// noDriver is the driver.Driver of noConnector.
type noDriver struct{}

func (noDriver) Open(string) (driver.Conn, error) { return nil, errNoConnection }

// provider returns a fresh goose Provider for m.
//
// Up builds one per call instead of keeping one: a Provider creates the
// version table under a sync.Once and forgets a failure there (a cancelled
// context, SQLITE_BUSY), after which every later call on it fails. Building a
// Provider only globs fsys, so it is cheap.
func (m *Migrator) provider() (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, m.db, m.fsys,
		// Never pick up Go migrations registered globally by some other package.
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName(m.table),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
		goose.WithVerbose(false),
	)
}

// collect lists the migrations at the root of fsys, sorted by version, and
// rejects what goose would skip or refuse.
//
// goose globs "*.sql" and "*.go" at the root and silently skips names whose
// prefix is not a positive number; for a data directory that means a migration
// lost to a typo, so those are errors here.
func collect(fsys fs.FS) ([]Migration, error) {
	// fs.ReadDir rather than fs.Glob: Glob swallows I/O errors, so a missing
	// directory (os.DirFS("migratons")) would look like "no migrations".
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: new: %w", err)
	}
	byVersion := make(map[int64]string)
	var list []Migration
	for _, e := range entries {
		name := e.Name()
		ext := path.Ext(name)
		if ext != ".sql" && ext != ".go" {
			continue
		}
		version, verr := goose.NumericComponent(name)
		if ext == ".go" {
			// goose would demand these be registered as Go migrations, which
			// this package does not support. Other Go files are skipped by
			// goose and by us alike.
			if verr == nil && !strings.HasSuffix(name, "_test.go") {
				return nil, invalid(name, "Go migrations are not supported, only SQL files")
			}
			continue
		}
		if e.IsDir() {
			return nil, invalid(name, "is a directory")
		}
		if verr != nil {
			return nil, invalid(name, "name must start with a positive version number and an underscore, like 00001_init.sql (goose would skip it)")
		}
		if other, ok := byVersion[version]; ok {
			return nil, invalid(name, fmt.Sprintf("version %d is also used by %s", version, other))
		}
		byVersion[version] = name
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migrations: new: %w", err)
		}
		if !hasUpAnnotation(string(body)) {
			return nil, invalid(name, `no "-- +goose Up" annotation`)
		}
		list = append(list, Migration{Version: version, Source: name})
	}
	if len(list) == 0 {
		if dir := sqlSubdir(fsys); dir != "" {
			return nil, &fs.PathError{
				Op:   "load migrations",
				Path: dir,
				Err:  fmt.Errorf("%w: no *.sql file at the root, but %s has some; pass fs.Sub(fsys, %q)", ErrSubdirectory, dir, dir),
			}
		}
	}
	sortMigrations(list)
	return list, nil
}

// maxSubdirDepth bounds the search of sqlSubdir: an embed pattern such as
// db/migrations/*.sql nests the files two levels down; an fs.FS over a large
// tree passed by mistake must not be walked whole.
const maxSubdirDepth = 4

// sqlSubdir returns the first directory below the root of fsys, in lexical
// order and at most maxSubdirDepth levels down, that holds a *.sql file, or
// "" if none does. Errors while looking end the search: it only improves the
// message for an fsys that is otherwise valid and empty.
func sqlSubdir(fsys fs.FS) string {
	found := ""
	_ = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return fs.SkipAll
		case d.IsDir() && name != "." && strings.Count(name, "/") >= maxSubdirDepth:
			return fs.SkipDir
		case !d.IsDir() && path.Ext(name) == ".sql" && path.Dir(name) != ".":
			found = path.Dir(name)
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// hasUpAnnotation reports whether body has a line goose could read as the
// "-- +goose Up" annotation. It is deliberately looser than goose's parser
// (which also rejects, for example, an indented annotation): it only catches
// a file that is plainly not a goose migration, and must never reject a file
// goose would accept.
func hasUpAnnotation(body string) bool {
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") || !strings.Contains(line, "+goose") {
			continue
		}
		// The same normalization goose applies before matching the command.
		cmd := strings.ReplaceAll(line, "--", "")
		cmd = strings.Replace(cmd, "+goose", "", 1)
		if strings.EqualFold(strings.TrimSpace(cmd), "Up") {
			return true
		}
	}
	return false
}

func invalid(name, reason string) error {
	return &fs.PathError{
		Op:   "load migration",
		Path: name,
		Err:  fmt.Errorf("%w: %s", ErrInvalidMigration, reason),
	}
}

// lock acquires m.sem or gives up when ctx ends.
func (m *Migrator) lock(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (m *Migrator) unlock() { <-m.sem }

// Migrations returns the migrations of m, in version order. The slice is a
// copy.
func (m *Migrator) Migrations() []Migration {
	return slices.Clone(m.migrations)
}

// latest returns the newest known version, 0 if there are no migrations.
func (m *Migrator) latest() int64 {
	if len(m.migrations) == 0 {
		return 0
	}
	return m.migrations[len(m.migrations)-1].Version
}

func sortMigrations(list []Migration) {
	slices.SortFunc(list, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
}
