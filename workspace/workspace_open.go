package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/litedir/litedir/internal/committer"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
)

// migrateSuffix names the migration lock of a shared workspace: the lock
// file <name>.migrate.lock. Names that end in it are reserved (see
// Options.Name), so it is never the lock file of another workspace. Older
// versions used the same file, so processes of both coordinate.
const migrateSuffix = ".migrate"

// migrateLockWait bounds how long a process of a shared workspace waits for
// another process that is applying migrations.
const migrateLockWait = 2 * time.Minute

// entry is one open database in this process, shared by every handle on its
// directory. The fields set by open are read-only afterwards.
type entry struct {
	id     dirID
	config config
	dbPath string

	// Guarded by registry.mu.
	refs int

	ready  chan struct{} // closed when open has finished
	err    error         // open's result, set before ready is closed
	closed chan struct{} // closed when close has finished

	// contended is closed when open finds the lock held by someone else
	// and starts to wait for it; heldBy, set before, says who holds it.
	// Handles that join the open meanwhile report it (see awaitOpen).
	contended chan struct{}
	heldBy    *lock.LockedError

	readOnly  bool
	lock      *lock.Lock           // nil with SkipLock and for read-only handles
	committer *committer.Committer // the database's connections; nil for read-only handles
	roDB      *sql.DB              // the read-only pool of a read-only handle

	migrateMu sync.Mutex // serializes migrations from several Opens
}

func newEntry(id dirID, c *config) *entry {
	return &entry{
		id:        id,
		config:    *c,
		dbPath:    DatabasePath(id.dir, c.name),
		ready:     make(chan struct{}),
		closed:    make(chan struct{}),
		contended: make(chan struct{}),
	}
}

// open takes the lock, opens the pools and migrates. On failure it releases
// what it acquired, in reverse order.
func (e *entry) open(ctx context.Context) (err error) {
	c := &e.config
	defer func() {
		if err != nil {
			err = errors.Join(err, e.closeResources())
		}
	}()

	switch {
	case c.skipLock:
		c.logger.Warn("workspace opened without the directory lock", "dir", e.id.dir)
	default:
		e.lock, err = e.acquire(ctx)
		if err != nil {
			return e.lockError(err)
		}
	}
	// The filesystem decides part of the profile (workspace_filesystem.go).
	if err := e.adaptProfile(); err != nil {
		return err
	}

	// openCommitter may quarantine a damaged database (Options.OnCorrupt),
	// and falls back to a safer profile where the filesystem refuses one.
	e.committer, err = e.openCommitter(ctx)
	if err != nil {
		return err
	}
	return e.migrate(ctx, c.migrations)
}

// readDB returns the pool that reads go to: the committer's read pool, or
// a read-only handle's pool.
func (e *entry) readDB() *sql.DB {
	if e.committer != nil {
		return e.committer.ReadDB()
	}
	return e.roDB
}

// testHookContended, when set by a test, is called when open finds the lock
// held and starts to wait for it.
var testHookContended func()

// acquire takes the directory lock. When another holder has it, it records
// the holder and closes e.contended before it waits for up to LockWait, so
// that the Opens that join this one meanwhile can report the holder too.
func (e *entry) acquire(ctx context.Context) (*lock.Lock, error) {
	c := &e.config
	return lock.Acquire(ctx, e.id.dir, lock.Options{
		Name:    c.name,
		Mode:    c.sharing,
		Wait:    c.lockWait,
		Program: c.program,
		Meta:    c.meta,
		// Where the platform has no locks at all (plan9, js, wasip1), its
		// profile implies the in-process lock; elsewhere the caller accepts
		// it. Status says so.
		AllowInProcess: c.inProcessLock || !lock.Supported,
		Contended: func(locked *lock.LockedError) {
			e.heldBy = locked
			close(e.contended)
			if testHookContended != nil {
				testHookContended()
			}
		},
	})
}

// awaitOpen waits for the open of e, which another Open runs, on behalf of
// an Open with config c. While that open waits for a lock that someone else
// holds, this one waits no longer than its own LockWait, and then, or when
// ctx ends first, returns the *lock.LockedError naming the holder, as if it
// had waited for the lock itself (with ctx's error too, in that case).
func (e *entry) awaitOpen(ctx context.Context, c *config) error {
	contended := e.contended
	var timeout <-chan time.Time
	for {
		select {
		case <-e.ready:
			return nil
		case <-contended:
			contended = nil
			if c.lockWait <= 0 {
				return e.lockedError(nil)
			}
			t := time.NewTimer(c.lockWait)
			defer t.Stop()
			timeout = t.C
		case <-timeout:
			return e.lockedError(nil)
		case <-ctx.Done():
			return e.lockedError(ctx.Err())
		}
	}
}

// lockedError returns what awaitOpen reports when it stops waiting: nil if
// the open has finished after all (its outcome decides), a copy of the
// holder's *lock.LockedError once the open has found the lock held (wrapped
// with ctxErr, as lock.Acquire does, if a context ended), and else ctxErr.
func (e *entry) lockedError(ctxErr error) error {
	select {
	case <-e.ready:
		return nil
	default:
	}
	select {
	case <-e.contended:
	default:
		return ctxErr
	}
	locked := *e.heldBy
	if ctxErr == nil {
		return &locked
	}
	return &fs.PathError{Op: "lock", Path: locked.Path, Err: fmt.Errorf("%w while waiting: %w", ctxErr, &locked)}
}

// openReadOnly opens the read-only pool of [OpenReadOnly].
func (e *entry) openReadOnly(ctx context.Context) (err error) {
	c := &e.config
	if err := e.adaptProfile(); err != nil {
		return err
	}
	if err := e.heldExclusively(); err != nil {
		return err
	}
	e.roDB, err = e.openPool(ctx, ncruces.Config{
		Path:     e.dbPath,
		ReadOnly: true,
		NoCreate: true,
		Pragmas:  c.pragmas,
		MaxConns: max(1, c.readers),
		Key:      c.key,
		Logger:   c.logger,
	})
	if err != nil {
		return err
	}
	close(e.ready)
	return nil
}

// migrate applies fsys's migrations. In a shared workspace it first takes a
// second, exclusive lock so that exactly one process applies them; the
// others then find nothing pending.
func (e *entry) migrate(ctx context.Context, fsys fs.FS) error {
	if fsys == nil {
		return nil
	}
	_, err := e.migrateTo(ctx, fsys, 0)
	return err
}

// migrateTo applies fsys's migrations up to version to (0: all of them),
// as migrate does.
func (e *entry) migrateTo(ctx context.Context, fsys fs.FS, to int64) ([]migrations.Applied, error) {
	e.migrateMu.Lock()
	defer e.migrateMu.Unlock()

	// The writer connection is the committer's, lent between batches
	// through DB.
	m, err := migrations.New(e.committer.DB(), fsys, &migrations.Options{Logger: e.config.logger})
	if err != nil {
		return nil, err
	}
	if e.config.sharing == lock.Shared && !e.config.skipLock {
		l, err := lock.Acquire(ctx, e.id.dir, lock.Options{
			Name:           e.config.name + migrateSuffix,
			Wait:           max(e.config.lockWait, migrateLockWait),
			Program:        e.config.program,
			Meta:           e.config.meta,
			AllowInProcess: e.config.inProcessLock || !lock.Supported,
		})
		if err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		defer l.Release()
	}
	// The migrator logs each migration it applies.
	if to == 0 {
		return m.Up(ctx)
	}
	return m.UpTo(ctx, to)
}

// close shuts the entry down after its last handle: the committer (which
// stops taking writes, runs optimize and the last checkpoint, and closes
// the connections), then the lock.
func (e *entry) close() error {
	if err := e.closeResources(); err != nil {
		return fmt.Errorf("close workspace %s: %w", e.dbPath, err)
	}
	return nil
}

// closeResources closes the database and releases the lock, in reverse
// order of acquisition, and returns every failure joined.
func (e *entry) closeResources() error {
	var errs []error
	if e.committer != nil {
		// Waits for a transaction of DB or SQL at most CloseWait.
		errs = append(errs, e.committer.Close())
	}
	if e.roDB != nil {
		errs = append(errs, e.roDB.Close())
	}
	if e.lock != nil {
		errs = append(errs, e.lock.Release())
	}
	e.config.key.Close() // no connection can open with it any more
	return errors.Join(errs...)
}
