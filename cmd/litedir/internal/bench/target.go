package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// litedirTarget is the phase that measures litedir: every write is one
// Workspace.Write running the workload's statements, which the group
// committer batches with other goroutines' writes; reads go to the
// workspace's read pool.
type litedirTarget struct {
	ws *workspace.Workspace
	wl workload
}

func (t *litedirTarget) addSessions(ctx context.Context, n int) ([]any, error) {
	var ids []any
	err := t.ws.Write(ctx, func(q workspace.Querier) (err error) {
		ids, err = t.wl.addSessions(ctx, q, n)
		return err
	})
	return ids, err
}

func (t *litedirTarget) write(ctx context.Context, m *message) error {
	return t.ws.Write(ctx, func(q workspace.Querier) error { return t.wl.store(ctx, q, m) })
}

// frontTarget is the phase that measures litedir's front, Workspace.SQL:
// the same statements as the baseline's code, unchanged, each statement
// outside a transaction joining a group-commit batch of its own; reads go
// through the front too, which sends them to the read pool.
type frontTarget struct {
	litedirTarget
}

func (t *frontTarget) write(ctx context.Context, m *message) error {
	return t.wl.store(ctx, t.ws.SQL(), m)
}

func (t *frontTarget) readDB() *sql.DB { return t.ws.SQL() }

func (t *litedirTarget) readDB() *sql.DB  { return t.ws.ReadDB() }
func (t *litedirTarget) countDB() *sql.DB { return t.ws.DB() }
func (t *litedirTarget) dbPath() string   { return t.ws.Path() }

func (t *litedirTarget) writeStats() (writes, txs, walRestarts uint64, ok bool) {
	s := t.ws.WriteStats()
	return s.Writes, s.Batches, s.WALRestarts, true
}

func (t *litedirTarget) check(ctx context.Context) (*workspace.CheckReport, error) {
	return t.ws.Check(ctx, true)
}

// baselineTarget is the phase that measures what agents ship today: one
// pooled connection whose transactions begin IMMEDIATE, one transaction per
// write, and the reads queued on that same connection.
type baselineTarget struct {
	db   *sql.DB
	path string // the database file, <dir>/<name>.db
	wl   workload

	keySource workspace.KeySource // the key, for check's read-only handle; nil: plaintext
}

// openBaseline opens (creating it) the baseline database at path with
// litedir's default pragmas and the given synchronous mode, encrypted with
// key (which keySource gives too) unless it is nil, and migrates it with the
// workload's schema, so all phases run on the same schema and settings and
// differ only in how writes reach SQLite.
func openBaseline(ctx context.Context, path, sync string, wl workload, key *ncruces.Key, keySource workspace.KeySource) (_ *baselineTarget, err error) {
	pragmas, err := ncruces.MergePragmas(ncruces.DefaultPragmas(), ncruces.Pragma{Name: "synchronous", Value: sync})
	if err != nil {
		return nil, err
	}
	db, err := ncruces.Open(ctx, ncruces.Config{
		Path:      path,
		Immediate: true,
		MaxConns:  1,
		Pragmas:   pragmas,
		Key:       key,
	})
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	m, err := migrations.New(db, wl.schema(), nil)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if _, err := m.Up(ctx); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return &baselineTarget{db: db, path: path, wl: wl, keySource: keySource}, nil
}

func (t *baselineTarget) addSessions(ctx context.Context, n int) (_ []any, err error) {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	ids, err := t.wl.addSessions(ctx, tx, n)
	if err != nil {
		return nil, errors.Join(err, tx.Rollback())
	}
	return ids, tx.Commit()
}

// write is the pattern of the programs litedir compares itself with: BEGIN
// IMMEDIATE, the statements, COMMIT, each write waiting for the one
// connection. In the autocommit workloads (sqlc, client) it is what
// sqlc-generated code over a *sql.DB does: each statement on its own, an
// IMMEDIATE transaction of one statement on the one connection.
func (t *baselineTarget) write(ctx context.Context, m *message) error {
	if t.wl.autocommit() {
		return t.wl.store(ctx, t.db, m)
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := t.wl.store(ctx, tx, m); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func (t *baselineTarget) readDB() *sql.DB  { return t.db }
func (t *baselineTarget) countDB() *sql.DB { return t.db }
func (t *baselineTarget) dbPath() string   { return t.path }

func (t *baselineTarget) writeStats() (writes, txs, walRestarts uint64, ok bool) {
	return 0, 0, 0, false
}

// check runs the workspace's own check on the baseline database, through a
// read-only handle, so that both phases are judged by the same code.
func (t *baselineTarget) check(ctx context.Context) (*workspace.CheckReport, error) {
	dir, file := filepath.Split(t.path)
	ws, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Name: strings.TrimSuffix(file, ".db"), Key: t.keySource})
	if err != nil {
		return nil, err
	}
	rep, err := ws.Check(ctx, true)
	return rep, errors.Join(err, ws.Close())
}

func (t *baselineTarget) close() error { return t.db.Close() }

// readerRenewEvery is how long the -hold-reader reader keeps each read
// transaction open.
const readerRenewEvery = time.Second

// runHoldReader runs the litedir phase again beside a reader that holds a
// read transaction on its own connection, as a WAL replicator does, and
// renews it every readerRenewEvery.
func runHoldReader(ctx context.Context, c *Config, t *litedirTarget, stderr io.Writer) (*PhaseResult, error) {
	db, err := ncruces.Open(ctx, ncruces.Config{Path: t.ws.Path(), QueryOnly: true, NoCreate: true, Key: c.key})
	if err != nil {
		return nil, fmt.Errorf("hold-reader phase: %w", err)
	}
	defer db.Close()
	stop := make(chan struct{})
	held := make(chan struct{}) // closed once the first read transaction is open
	var wg sync.WaitGroup
	var readerErr error
	readerDone := make(chan struct{})
	wg.Go(func() {
		defer close(readerDone)
		readerErr = holdReads(db, stop, held)
	})
	select {
	case <-held:
	case <-readerDone: // failed before its first read: runs the phase alone, and reports the error
	case <-ctx.Done():
	}
	ph, err := runPhase(ctx, c, "hold_reader", t, stderr)
	close(stop)
	wg.Wait()
	if readerErr != nil {
		err = errors.Join(err, fmt.Errorf("hold-reader phase: the reader: %w", readerErr))
	}
	return ph, err
}

// holdReads opens a read transaction, reads in it, keeps it open for
// readerRenewEvery, ends it and starts the next, until stop is closed.
func holdReads(db *sql.DB, stop <-chan struct{}, held chan<- struct{}) error {
	ctx := context.Background()
	first := true
	for {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		var n int64
		// A read is what pins the snapshot: BEGIN alone takes no lock.
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&n); err != nil {
			tx.Rollback()
			return err
		}
		if first {
			close(held)
			first = false
		}
		timer := time.NewTimer(readerRenewEvery)
		select {
		case <-stop:
			timer.Stop()
			return tx.Rollback()
		case <-timer.C:
		}
		if err := tx.Rollback(); err != nil {
			return err
		}
	}
}
