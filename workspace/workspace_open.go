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
	lock      *lock.Lock // nil with SkipLock and for read-only handles
	writeDB   *sql.DB    // the writer pool; the committer pins its connection
	readDB    *sql.DB    // the read pool; the committer's DB on single-connection platforms
	hooks     *committer.Hooks
	committer *committer.Committer // nil for read-only handles

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
		if !lock.Supported {
			c.logger.Warn("this platform has no inter-process file locks; the lock excludes this process only", "dir", e.id.dir)
		}
		e.lock, err = e.acquire(ctx)
		if err != nil {
			return err
		}
	}

	e.hooks = committer.NewHooks(committer.HooksConfig{
		PassivePages: c.settings.AutoCheckpoint,
		External:     c.externalCheckpoints,
		BusyTimeout:  c.settings.BusyTimeout,
		Log:          c.logger,
	})
	e.writeDB, err = ncruces.Open(ctx, ncruces.Config{
		Path:      e.dbPath,
		Immediate: true,
		Pragmas:   c.pragmas,
		MaxConns:  1,
		Profile:   &c.profile,
		Key:       c.key,
		Logger:    c.logger,
		Init:      e.hooks.Init,
	})
	if err != nil {
		return err
	}
	if !c.profile.SingleConnection {
		e.readDB, err = ncruces.Open(ctx, ncruces.Config{
			Path:      e.dbPath,
			QueryOnly: true,
			NoCreate:  true,
			Pragmas:   c.pragmas,
			MaxConns:  c.readers,
			Profile:   &c.profile,
			Key:       c.key,
			Logger:    c.logger,
			Term:      e.hooks.ReaderTerm,
		})
		if err != nil {
			return err
		}
	}
	if err := e.migrate(ctx, c.migrations); err != nil {
		return err
	}
	mode, err := journalMode(ctx, e.writeDB)
	if err != nil {
		return err
	}
	level := deferredSync(c.settings, mode, c.key != nil)
	e.committer, err = committer.Start(ctx, e.writeDB, e.hooks, committer.Options{
		Path:      e.dbPath,
		SyncLevel: level,
		WALPath:   WALPath(e.dbPath),
		ReadDB:    e.readDB,
		CloseWait: c.closeWait,
		Log:       c.logger,
	})
	if err != nil {
		return err
	}
	if c.profile.SingleConnection {
		// One connection: reads take it between batches, as DB does.
		e.readDB = e.committer.DB()
	}
	return nil
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
	e.writeDB, err = ncruces.Open(ctx, ncruces.Config{
		Path:     e.dbPath,
		ReadOnly: true,
		NoCreate: true,
		Pragmas:  c.pragmas,
		MaxConns: max(1, c.readers),
		Profile:  &c.profile,
		Key:      c.key,
		Logger:   c.logger,
	})
	if err != nil {
		return err
	}
	e.readDB = e.writeDB
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

	// Before the committer starts, the writer pool is free; after, its
	// connection is the committer's, lent between batches through DB.
	db := e.writeDB
	if e.committer != nil {
		db = e.committer.DB()
	}
	m, err := migrations.New(db, fsys, &migrations.Options{Logger: e.config.logger})
	if err != nil {
		return nil, err
	}
	if e.config.sharing == lock.Shared && !e.config.skipLock {
		l, err := lock.Acquire(ctx, e.id.dir, lock.Options{
			Name:    e.config.name + migrateSuffix,
			Wait:    max(e.config.lockWait, migrateLockWait),
			Program: e.config.program,
			Meta:    e.config.meta,
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

// close shuts the entry down after its last handle: the group committer
// first, so no new transaction starts, then optimize and checkpoint, the
// pools and the lock.
func (e *entry) close() error {
	var errs []error
	if e.committer != nil {
		// Waits for a transaction of DB or SQL at most CloseWait.
		if err := e.committer.Stop(); err != nil {
			errs = append(errs, err)
		}
		if e.readDB == e.committer.DB() {
			e.readDB = nil
		}
	}
	if !e.readOnly {
		// Close must finish whatever the caller's contexts say; the busy
		// timeout bounds each statement.
		ctx := context.Background()
		if _, err := e.writeDB.ExecContext(ctx, "PRAGMA optimize"); err != nil {
			errs = append(errs, fmt.Errorf("optimize: %w", err))
		}
		if e.config.settings.JournalMode == "wal" && !e.config.externalCheckpoints {
			if err := e.closeCheckpoint(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := e.closeResources(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close workspace %s: %w", e.dbPath, err)
	}
	return nil
}

// closeResources closes the pools and releases the lock, in reverse order of
// acquisition, and returns every failure joined.
func (e *entry) closeResources() error {
	var errs []error
	// close has cleared readDB if it was the committer's lease pool.
	if e.readDB != nil && e.readDB != e.writeDB {
		errs = append(errs, e.readDB.Close())
	}
	if e.writeDB != nil {
		errs = append(errs, e.writeDB.Close())
	}
	if e.lock != nil {
		errs = append(errs, e.lock.Release())
	}
	e.config.key.Close() // no connection can open with it any more
	return errors.Join(errs...)
}
