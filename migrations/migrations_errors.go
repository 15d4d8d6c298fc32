package migrations

import (
	"errors"
	"fmt"
)

var (
	// ErrSchemaTooNew means the database has a higher version than the newest
	// migration this program knows: it was migrated by a newer program, and this
	// one may not understand its schema. Returned as a [*SchemaTooNewError].
	ErrSchemaTooNew = errors.New("migrations: database schema is newer than this program")

	// ErrMigrationFailed means a migration's SQL failed and its transaction was
	// rolled back. Returned as a [*MigrationError].
	ErrMigrationFailed = errors.New("migrations: migration failed")

	// ErrInvalidMigration means a migration file cannot be used: a *.sql name
	// without a version prefix, a duplicate version, a missing
	// "-- +goose Up" annotation or a Go migration. [New] returns it wrapped in an
	// [*fs.PathError] naming the file.
	ErrInvalidMigration = errors.New("migrations: invalid migration file")

	// ErrSubdirectory means the root of the fs.FS holds no *.sql file but a
	// subdirectory does: the layout that //go:embed migrations/*.sql gives,
	// whose files sit under "migrations/". [New] returns it in an
	// [*fs.PathError] naming the subdirectory, instead of a Migrator that
	// silently applies nothing; pass fs.Sub(fsys, "migrations") instead.
	ErrSubdirectory = errors.New("migrations: migration files are in a subdirectory, not at the root")

	// ErrOutOfOrder means a known migration is not applied although the database
	// already has a higher version (for example two branches each added a
	// migration). [Migrator.Up] refuses to apply it out of order and leaves the
	// database untouched; [Migrator.Status] lists it as pending.
	ErrOutOfOrder = errors.New("migrations: unapplied migration older than the database version")

	// ErrUnknownVersion means [Migrator.UpTo] was given a version that no
	// migration has.
	ErrUnknownVersion = errors.New("migrations: no migration has this version")

	// ErrTargetBehind means [Migrator.UpTo] was given a version lower than the
	// database's: migrations only go up, so nothing was applied.
	ErrTargetBehind = errors.New("migrations: database is past the target version")
)

// SchemaTooNewError is returned by [Migrator.Up] when the database version is
// higher than the newest known migration. It matches [ErrSchemaTooNew] with
// errors.Is.
type SchemaTooNewError struct {
	Current int64 // version recorded in the database
	Latest  int64 // newest version this program knows (0 = none)
}

// Error names both versions.
func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("migrations: database schema version %d is newer than this program's newest migration %d", e.Current, e.Latest)
}

// Is reports whether target is [ErrSchemaTooNew].
func (e *SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// MigrationError is returned by [Migrator.Up] when a migration fails. The
// migration's transaction has been rolled back; migrations applied before it
// in the same Up stay applied. It matches [ErrMigrationFailed] with errors.Is
// and unwraps to the underlying error, usually a *sqlite3.Error that can be
// classified with errors.Is(err, sqlite3.CONSTRAINT) and the like.
type MigrationError struct {
	Version int64  // version of the failed migration
	Source  string // its file name within the fs.FS
	Err     error  // what went wrong
}

// Error names the file, its version and the cause.
func (e *MigrationError) Error() string {
	return fmt.Sprintf("migrations: migration %s (version %d) failed: %v", e.Source, e.Version, e.Err)
}

// Is reports whether target is [ErrMigrationFailed].
func (e *MigrationError) Is(target error) bool { return target == ErrMigrationFailed }

// Unwrap returns the underlying error.
func (e *MigrationError) Unwrap() error { return e.Err }
