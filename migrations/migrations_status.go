package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Status reports the database version, the newest known version and the
// pending migrations.
//
// Status never writes: it reads in a read-only transaction, so it works on a
// read-only connection (mode=ro, PRAGMA query_only=1) and on a database that
// has never been migrated, which reports Current = 0 with every migration
// pending. (goose's own Status creates the version table, so it is not used.)
//
// Status waits for a running [Migrator.Up] of m to finish, or for ctx to end.
func (m *Migrator) Status(ctx context.Context) (Status, error) {
	if err := m.lock(ctx); err != nil {
		return Status{}, fmt.Errorf("migrations: status: %w", err)
	}
	defer m.unlock()
	st, err := m.status(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("migrations: status: %w", err)
	}
	return st, nil
}

// status reads the applied versions from goose's version table and compares
// them with m.migrations. The caller holds m.sem.
func (m *Migrator) status(ctx context.Context) (Status, error) {
	applied, err := m.appliedVersions(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{Latest: m.latest()}
	for v := range applied {
		st.Current = max(st.Current, v)
	}
	for _, mig := range m.migrations {
		if !applied[mig.Version] {
			st.Pending = append(st.Pending, mig)
		}
	}
	return st, nil
}

// appliedVersions returns the versions recorded in the version table; none
// if the table does not exist.
//
// Every row counts as applied, whatever its is_applied column says, because
// that is how goose's Provider reads the table (it deletes rows on the way
// down); agreeing with it matters, since it decides what Up applies.
func (m *Migrator) appliedVersions(ctx context.Context) (_ map[int64]bool, err error) {
	// One read-only transaction holds a single connection and gives both
	// queries the same snapshot; with the ncruces driver it is a deferred
	// BEGIN plus PRAGMA query_only, so nothing here can write even by mistake.
	tx, err := m.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = errors.Join(err, rerr)
		}
	}()

	// SQLite table names are case-insensitive, hence NOCASE.
	var n int
	err = tx.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE`,
		m.table).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("look up version table %s: %w", m.table, err)
	}
	applied := make(map[int64]bool)
	if n == 0 {
		return applied, nil
	}
	// m.table is a checked plain identifier (see New); quoting is belt and braces.
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT version_id FROM "`+m.table+`" WHERE version_id > 0`)
	if err != nil {
		return nil, fmt.Errorf("read version table %s: %w", m.table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read version table %s: %w", m.table, err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read version table %s: %w", m.table, err)
	}
	return applied, nil
}
