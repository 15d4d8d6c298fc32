package migrations

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/pressly/goose/v3"
)

// Up applies every pending migration, each in its own transaction, in version
// order, and returns the migrations it applied (none when the database is up
// to date).
//
// Before applying anything Up reads the database version, read-only, and
// refuses:
//   - a database newer than the newest known migration, with a
//     [*SchemaTooNewError] (goose's own Up silently does nothing in that case,
//     letting an old program run against a schema it does not know);
//   - a known migration older than the database version that is not applied,
//     with an error wrapping [ErrOutOfOrder].
//
// In both cases the database is untouched. An up-to-date database is not
// written to either.
//
// When a migration fails, its transaction is rolled back, so the database is
// exactly as it was before that migration, and Up returns a [*MigrationError]
// naming it together with the migrations applied before it, which stay applied.
// A file marked "-- +goose NO TRANSACTION" runs outside a transaction by
// request and can be left half-applied.
//
// goose parses every pending file before running any, so a file it cannot
// parse (an unterminated statement, say) fails Up with an error naming the
// file, and nothing is applied; goose's version table may have been created.
// Other failures (the database cannot be read or locked, ctx ends) are
// returned wrapped, keeping the *sqlite3.Error or context error in the chain.
//
// Up applies nothing while another Up or [Migrator.Status] of m runs; it waits
// for them or for ctx to end.
func (m *Migrator) Up(ctx context.Context) ([]Applied, error) {
	return m.up(ctx, m.latest())
}

// UpTo is [Migrator.Up] for the migrations up to and including version
// only, which must be the version of one of them (otherwise the error wraps
// [ErrUnknownVersion]). It applies nothing and returns an error wrapping
// [ErrTargetBehind] when the database is already at a higher version:
// migrations only go up. A database newer than every known migration is
// refused with a [*SchemaTooNewError], as by Up.
func (m *Migrator) UpTo(ctx context.Context, version int64) ([]Applied, error) {
	if !slices.ContainsFunc(m.migrations, func(mig Migration) bool { return mig.Version == version }) {
		return nil, fmt.Errorf("%w: %d", ErrUnknownVersion, version)
	}
	return m.up(ctx, version)
}

// up applies the pending migrations with versions up to target.
func (m *Migrator) up(ctx context.Context, target int64) ([]Applied, error) {
	if err := m.lock(ctx); err != nil {
		return nil, fmt.Errorf("migrations: up: %w", err)
	}
	defer m.unlock()

	st, err := m.status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: up: %w", err)
	}
	if st.Current > st.Latest {
		return nil, &SchemaTooNewError{Current: st.Current, Latest: st.Latest}
	}
	if st.Current > target {
		return nil, fmt.Errorf("%w: database at version %d, target %d", ErrTargetBehind, st.Current, target)
	}
	st.Pending = slices.DeleteFunc(st.Pending, func(mig Migration) bool { return mig.Version > target })
	if len(st.Pending) == 0 {
		m.log.DebugContext(ctx, "migrations: database is up to date", "version", st.Current)
		return nil, nil
	}
	if first := st.Pending[0]; first.Version < st.Current {
		// goose would refuse too, but only after creating its version table;
		// checking here keeps the database untouched and the error typed.
		return nil, fmt.Errorf("migrations: up: database is at version %d but %s (version %d) is not applied: %w",
			st.Current, first.Source, first.Version, ErrOutOfOrder)
	}

	p, err := m.provider()
	if err != nil {
		return nil, fmt.Errorf("migrations: up: %w", err)
	}
	// Note: p.Close would close m.db, which belongs to the caller; a Provider
	// holds nothing else, so it is simply dropped.
	//
	// goose holds one *sql.Conn from the pool for the whole run and runs each
	// SQL migration in a transaction on it (BEGIN IMMEDIATE with
	// _txlock=immediate, so the write lock is taken up front and a concurrent
	// writer makes BEGIN wait rather than failing mid-migration). It re-reads
	// the applied versions on that connection, so what it applies is exactly
	// what is pending at that moment.
	results, err := p.UpTo(ctx, target)
	var applied []Applied
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = partial.Applied
	}
	for _, r := range results {
		a := Applied{Version: r.Source.Version, Source: path.Base(r.Source.Path), Duration: r.Duration}
		applied = append(applied, a)
		m.log.InfoContext(ctx, "migrations: applied", "version", a.Version, "source", a.Source, "duration", a.Duration)
	}
	switch {
	case partial != nil:
		return applied, &MigrationError{
			Version: partial.Failed.Source.Version,
			Source:  path.Base(partial.Failed.Source.Path),
			Err:     partial.Err,
		}
	case err != nil:
		return applied, fmt.Errorf("migrations: up: %w", err)
	}
	return applied, nil
}
