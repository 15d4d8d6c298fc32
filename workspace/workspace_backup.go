package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
	sqlite3driver "github.com/ncruces/go-sqlite3/driver"

	"github.com/litedir/litedir/internal/fileuri"
	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/ncruces"
)

// Backup writes a consistent copy of the database to the new file dst while
// the workspace stays in use: SQLite's online backup copies one snapshot,
// read through the read pool so writers go on meanwhile, into a temporary
// file next to dst; the copy is switched to a rollback journal (so it is one
// self-contained file), fsynced, checked with quick_check and
// foreign_key_check, and only then moved to dst. dst must not exist: a
// backup never replaces a file (the error matches ErrExists and
// fs.ErrExist). On failure nothing is left at dst and the temporary files
// are removed.
//
// The temporary file is ".<base>.tmp-<16 hex digits>" beside dst, where
// <base> is dst's file name, with SQLite's -journal beside it while it is
// written, and a lock file ".<base>.lock-<16 hex digits>.lock" that the copy
// holds until it is done. A copy that was killed leaves them behind, and the
// next Backup or [Workspace.VacuumInto] into the same directory removes them:
// only files with those names, and only once it holds their lock, which
// proves that no copy, in any process, is still writing them. Other files
// are never touched, including the ".<base>.tmp-<digits>" files of litedir
// versions before the lock: they cannot be told from a running copy, so
// remove them by hand. Where the platform has no inter-process locks (see
// lock.Supported), stale files are left alone.
func (w *Workspace) Backup(ctx context.Context, dst string) error {
	return w.BackupWith(ctx, dst, nil)
}

// CopyOptions configures [Workspace.BackupWith] and
// [Workspace.VacuumIntoWith]. The zero value (or a nil *CopyOptions) is what
// Backup and VacuumInto do.
type CopyOptions struct {
	// Replace lets the copy replace an existing regular file at dst, in one
	// rename once the copy is complete, synced and verified: dst is always
	// either the old file or the whole new copy. A dst that is a directory,
	// a symbolic link or another special file is still refused. Zero means
	// an existing dst is an error matching ErrExists.
	Replace bool

	// Progress, when not nil, is called about four times a second while
	// the copy is written, from a goroutine of the copy's own, with the
	// bytes written so far and an upper bound of the total (the database
	// and its WAL); the last call comes before the copy returns. Zero means
	// no progress reports.
	Progress func(copied, total int64)

	// Key, when not nil, encrypts the copy with the key it gives instead of
	// the workspace's: a plaintext workspace gets an encrypted copy, an
	// encrypted one a copy under another key. Zero means the workspace's
	// own key: an encrypted workspace's copies are encrypted with it, a
	// plaintext workspace's are plaintext.
	Key KeySource

	// Plaintext writes the copy unencrypted, from an encrypted workspace.
	// It cannot be combined with Key. Zero means the copy is encrypted as
	// Key says.
	Plaintext bool
}

// copyKey returns the key of a copy with opts: the workspace's (which the
// copy must not close), or one of the copy's own, which done closes.
func (w *Workspace) copyKey(ctx context.Context, opts *CopyOptions) (key *ncruces.Key, done func(), err error) {
	switch {
	case opts == nil || (opts.Key == nil && !opts.Plaintext):
		return w.e.config.key, func() {}, nil
	case opts.Key != nil && opts.Plaintext:
		return nil, nil, fmt.Errorf("%w: CopyOptions with both Key and Plaintext", ErrInvalidOptions)
	case opts.Plaintext:
		return nil, func() {}, nil
	}
	key, err = openKey(ctx, opts.Key)
	if err != nil {
		return nil, nil, err
	}
	return key, key.Close, nil
}

// progressEvery is how often CopyOptions.Progress is called.
const progressEvery = 250 * time.Millisecond

// BackupWith is [Workspace.Backup] with options: replacing an existing
// destination, reporting progress.
func (w *Workspace) BackupWith(ctx context.Context, dst string, opts *CopyOptions) (err error) {
	if err := w.check("backup"); err != nil {
		return err
	}
	if dst == "" {
		return fmt.Errorf("workspace: backup %s: %w: empty destination", w.e.dbPath, ErrInvalidOptions)
	}
	dst, err = filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("workspace: backup %s: %w", w.e.dbPath, err)
	}
	key, done, err := w.copyKey(ctx, opts)
	if err != nil {
		return fmt.Errorf("workspace: backup %s to %s: %w", w.e.dbPath, dst, err)
	}
	defer done()
	return w.writeCopy(ctx, copyTo{dst: dst, op: "backup %s to %s", opts: opts, key: key, fill: func(tmp string) error {
		return copyDB(ctx, w.e.readDB(), tmp, w.e.config.profile, key)
	}})
}

// testHookCopied, when set by a test, is called by writeCopy once the
// temporary file is filled; an error fails the copy there.
var testHookCopied func(tmp string) error

// copyTo is a copy that writeCopy makes.
type copyTo struct {
	dst  string       // the new file, an absolute path
	op   string       // for errors: a format with the database path and dst, such as "backup %s to %s"
	opts *CopyOptions // nil: the defaults
	key  *ncruces.Key // the copy's key, to verify it; nil: plaintext

	// fill writes a database into the empty temporary file it is given.
	fill func(tmp string) error
	// place, if not nil, runs once the copy is verified, right before it
	// is moved to dst; its error fails the copy.
	place func() error
}

// writeCopy makes the new file c.dst with c.fill, which writes a database
// into an empty temporary file that is then fsynced, verified and moved to
// c.dst.
//
// The temporary file is reserved with a lock (see reserveTemp), and first
// the stale temporary files of killed copies into dst's directory are
// removed. On failure every temporary file is removed.
func (w *Workspace) writeCopy(ctx context.Context, c copyTo) (err error) {
	dst, op, opts, fill := c.dst, c.op, c.opts, c.fill
	if opts == nil {
		opts = &CopyOptions{}
	}
	fail := func(err error) error {
		return fmt.Errorf("workspace: "+op+": %w", w.e.dbPath, dst, err)
	}
	if opts.Replace {
		if err := regularOrNone(dst); err != nil {
			return fail(err)
		}
	} else if err := noFile(dst); err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	removeStaleTemps(dir, w.e.config.logger)
	tmp, err := reserveTemp(dst, w.e.config.program)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if rerr := tmp.remove(); rerr != nil {
			if err != nil {
				err = errors.Join(err, rerr)
			} else {
				// The copy is in place; only a lock file is left over.
				w.e.config.logger.Warn("workspace: removing a temporary file", "err", rerr)
			}
		}
	}()

	// The empty temporary file keeps its name reserved; SQLite fills it.
	stop := w.reportProgress(tmp.path, opts.Progress)
	err = fill(tmp.path)
	stop()
	if err != nil {
		return fail(err)
	}
	if testHookCopied != nil {
		if err := testHookCopied(tmp.path); err != nil {
			return fail(err)
		}
	}
	if err := fsync.File(tmp.path); err != nil {
		return fail(err)
	}
	if err := verifyBackup(ctx, tmp.path, &w.e.config, c.key); err != nil {
		return fail(err)
	}
	if c.place != nil {
		if err := c.place(); err != nil {
			return fail(err)
		}
	}
	if opts.Replace {
		// Checked again: something may have appeared at dst meanwhile.
		if err := regularOrNone(dst); err != nil {
			return fail(err)
		}
		if err := fsync.Rename(tmp.path, dst); err != nil {
			return fail(err)
		}
	} else if err := placeNoClobber(tmp.path, dst); err != nil {
		return err
	}
	if err := fsync.Dir(dir); err != nil {
		return fail(err)
	}
	return nil
}

// copyDB copies the database of db into the empty file path, encrypted
// with key unless it is nil, in one backup step: a step-by-step copy would
// start over whenever a writer commits, and might never end under load.
func copyDB(ctx context.Context, db *sql.DB, path string, p ncruces.Profile, key *ncruces.Key) error {
	err := fillCopy(ctx, db, path, p, key, func(c *sqlite3.Conn, uri string) error {
		return c.Backup("main", uri)
	})
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// fillCopy runs fill on a connection of db with the URI of the empty file
// path, for fill to write a copy of the database there, and then switches
// the copy to a rollback journal: it keeps the source's WAL flag, and a copy
// is better as one file that needs no -wal or -shm beside it. The URI names
// exactly path, whatever characters it holds, and carries nolock=1 where the
// profile says the driver has no file locking (wasip1: without it every
// access to the copy is a disk I/O error), and the VFS: the litedir VFS,
// encrypting with key unless key is nil (see ncruces.Key.URIParams).
func fillCopy(ctx context.Context, db *sql.DB, path string, p ncruces.Profile, key *ncruces.Key, fill func(c *sqlite3.Conn, uri string) error) error {
	var params url.Values
	if p.NoLock {
		params = url.Values{"nolock": {"1"}}
	}
	params = key.URIParams(params)
	uri, err := fileuri.Format(path, params)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	err = conn.Raw(func(dc any) error {
		return fill(dc.(sqlite3driver.Conn).Raw(), uri)
	})
	if err = errors.Join(err, conn.Close()); err != nil {
		return err
	}
	// EXCLUSIVE locking mode first: where the driver has no WAL shared
	// memory (linux/s390x), SQLite can open a WAL database only in that
	// mode, and fails with "unable to open database file" otherwise. The
	// copy is ours alone until it is placed, so the mode costs nothing
	// elsewhere.
	dst, err := sqlite3.Open(uri)
	if err != nil {
		return err
	}
	return errors.Join(dst.Exec("PRAGMA locking_mode=EXCLUSIVE"), dst.Exec("PRAGMA journal_mode=DELETE"), dst.Close())
}

// noFile returns a *fs.PathError matching ErrExists and fs.ErrExist when
// something exists at path.
func noFile(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return &fs.PathError{Op: "backup", Path: path, Err: existsError{}}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return err
	}
}

// regularOrNone returns nil if nothing is at path or a regular file is,
// which CopyOptions.Replace may replace, and an error matching
// ErrNotRegular otherwise.
func regularOrNone(path string) error {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !info.Mode().IsRegular():
		return &fs.PathError{Op: "replace", Path: path, Err: ErrNotRegular}
	}
	return nil
}

// reportProgress calls progress (if not nil) every progressEvery with the
// size of the file tmp, which the copy fills, until the returned stop is
// called, which reports once more and waits for the goroutine.
func (w *Workspace) reportProgress(tmp string, progress func(copied, total int64)) (stop func()) {
	if progress == nil {
		return func() {}
	}
	// Sizes that cannot be read count as 0: they only scale the report.
	dbSize, _ := fileSize(w.e.dbPath)
	walSize, _ := fileSize(WALPath(w.e.dbPath))
	total := dbSize + walSize
	size := func() int64 {
		n, _ := fileSize(tmp)
		return n
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				progress(size(), total)
				return
			case <-t.C:
				progress(size(), total)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// existsError matches both ErrExists and fs.ErrExist.
type existsError struct{}

func (existsError) Error() string { return ErrExists.Error() }

func (existsError) Is(target error) bool { return target == ErrExists || target == fs.ErrExist }

// placeNoClobber moves tmp to dst unless dst exists. A hard link fails
// atomically if dst exists; where the filesystem has no hard links, a rename
// after a last check is the best there is.
func placeNoClobber(tmp, dst string) error {
	err := fsync.Link(tmp, dst)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return &fs.PathError{Op: "backup", Path: dst, Err: existsError{}}
	}
	if err := noFile(dst); err != nil {
		return err
	}
	return fsync.Rename(tmp, dst)
}

// verifyBackup opens the copy read-only, with key (nil: plaintext), and
// runs PRAGMA quick_check and PRAGMA foreign_key_check on it.
func verifyBackup(ctx context.Context, path string, c *config, key *ncruces.Key) (err error) {
	db, err := openAsIs(ctx, path, c, key)
	if err != nil {
		return fmt.Errorf("verify copy: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	r, err := check(ctx, db, false)
	if err != nil {
		return fmt.Errorf("verify copy: %w", err)
	}
	return r.Err()
}

// openAsIs opens the database file path read-only, one connection, with
// only the busy timeout: the file is read as it is, not converted.
func openAsIs(ctx context.Context, path string, c *config, key *ncruces.Key) (*sql.DB, error) {
	return ncruces.Open(ctx, ncruces.Config{
		Path:     path,
		ReadOnly: true,
		NoCreate: true,
		Pragmas:  busyTimeoutOnly(c.settings),
		MaxConns: 1,
		Profile:  &c.profile,
		Logger:   c.logger,
		Key:      key,
	})
}

// busyTimeoutOnly returns the one pragma that sets the workspace's busy
// timeout.
func busyTimeoutOnly(s ncruces.Settings) []ncruces.Pragma {
	return []ncruces.Pragma{{Name: "busy_timeout", Value: strconv.FormatInt(s.BusyTimeout.Milliseconds(), 10)}}
}
