package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
)

// The filesystem of a workspace decides part of its profile. SQLite's WAL shares its index
// through a -shm file that every process maps, and coordinates through locks on it; on a
// network or FUSE filesystem neither is coherent between processes (between hosts, at
// least), and two ordinary processes can corrupt the database. So Open:
//
//  1. detects the filesystem of the directory and of the database file (adaptProfile), and
//     on a filesystem that is not local uses the single-connection profile: EXCLUSIVE
//     locking mode, the WAL index in heap memory, no -shm (ncruces.Profile.OnFilesystem;
//     Options.Filesystem forces either profile);
//  2. falls back, when SQLite refuses a profile for the filesystem's sake, to the next safer
//     one and logs why (openPool): shared memory or locks that fail at open
//     (SQLITE_PROTOCOL, SQLITE_IOERR_SHM*, SQLITE_IOERR_LOCK...) lead to the
//     single-connection profile; SQLite's locks failing even there lead to nolock=1 with a
//     rollback journal, where the directory lock alone keeps other processes out; a
//     sandbox that denies creating the -shm leads to the single-connection profile, which
//     needs none;
//  3. names the filesystem and the fix when nothing works (lockError, filesystemError).

// adaptProfile gives the entry the profile of its filesystem under its Filesystem mode, and
// notes a directory lock that excludes only this process.
func (e *entry) adaptProfile() error {
	c := &e.config
	f := e.detectFilesystem()
	p := c.profile.OnFilesystem(f, c.fsMode)
	switch {
	case c.fsMode == ncruces.FilesystemLocal && !f.Local():
		c.logger.Warn("workspace: Filesystem local on a filesystem that is not: WAL shares its index and locks through it, and processes on two hosts, or a filesystem that keeps no host's mappings coherent, can corrupt the database",
			"dir", e.id.dir, "filesystem", f.String())
	case p.LockingExclusive && !c.profile.LockingExclusive:
		c.logger.Info("workspace: one connection in EXCLUSIVE locking mode, so that no WAL index is shared through the filesystem; other processes cannot read while it is open",
			"dir", e.id.dir, "filesystem", f.String(), "mode", c.fsMode.String())
	}
	if e.lock != nil && e.lock.InProcess() {
		why := "this platform has no file locks"
		if lock.Supported {
			why = fmt.Sprintf("the filesystem %s cannot lock files, and Options.InProcessLock accepted that", f)
		}
		p.Notes = append(p.Notes, "the directory lock excludes only this process's Opens ("+why+"): another process is not kept out")
		c.logger.Warn("workspace: the directory lock excludes only this process; another process is not kept out", "dir", e.id.dir, "why", why)
	}
	return c.useProfile(p)
}

// detectFilesystem returns the filesystem of the workspace: its directory's, or its
// database file's where that one is not local (a file mounted from elsewhere). One that
// cannot be told counts as local, and is logged.
func (e *entry) detectFilesystem() ncruces.Filesystem {
	f, err := ncruces.DetectFilesystem(e.id.dir)
	if err != nil {
		e.config.logger.Warn("workspace: the filesystem of the directory cannot be told; treated as local", "dir", e.id.dir, "err", err)
	}
	if db, err := ncruces.DetectFilesystem(e.dbPath); err == nil && !db.Local() {
		f = db
	}
	return f
}

// openPool opens the pool cfg describes on the entry's profile (see
// onProfile).
func (e *entry) openPool(ctx context.Context, cfg ncruces.Config) (db *sql.DB, err error) {
	err = e.onProfile(func(p *ncruces.Profile) (err error) {
		cfg.Profile = p // Open copies it
		db, err = ncruces.Open(ctx, cfg)
		return err
	})
	return db, err
}

// onProfile runs open, which opens the database on the entry's profile p.
// When SQLite refuses the profile for the filesystem's sake, it falls back to
// the next safer profile (see fallback), logs why, and runs open again; the
// entry keeps the profile that worked.
func (e *entry) onProfile(open func(p *ncruces.Profile) error) error {
	c := &e.config
	for {
		err := open(&c.profile)
		if err == nil {
			return nil
		}
		next, ok := e.fallback(err)
		if !ok {
			return e.filesystemError(err)
		}
		c.logger.Warn("workspace: SQLite refused the profile on this filesystem; falling back to a safer one",
			"dir", e.id.dir, "filesystem", c.profile.Filesystem.String(), "to", next.Notes[len(next.Notes)-1], "cause", err)
		if uerr := c.useProfile(next); uerr != nil {
			return fmt.Errorf("%w (after: %w)", uerr, err)
		}
	}
}

// fallback returns the profile to try after the current one failed to open with err, and
// false where there is none: the next step must need less of the filesystem, and must keep
// other processes out as well as the one it replaces.
func (e *entry) fallback(err error) (ncruces.Profile, bool) {
	c := &e.config
	p := c.profile
	if c.sharing == lock.Shared {
		// Other processes share the database by design: only SQLite's own shared memory and
		// locks can arbitrate between them, and no profile without them will do.
		return p, false
	}
	if denied, ok := errors.AsType[*ncruces.DeniedError](err); ok {
		// A sandbox. Only the -shm can be done without: EXCLUSIVE locking mode keeps the WAL
		// index in heap memory; the -wal and -journal hold the data.
		if strings.HasSuffix(denied.Path, "-shm") && !p.LockingExclusive && !p.NoLock {
			return p.Exclusive(fmt.Sprintf("%s %s was denied (a sandbox policy): one connection in EXCLUSIVE locking mode, which needs no -shm", denied.Op, denied.Path)), true
		}
		return p, false
	}
	switch {
	case !p.LockingExclusive && !p.NoLock && (ncruces.IsSharedMemoryError(err) || ncruces.IsLockingError(err)):
		return p.Exclusive(fmt.Sprintf("SQLite could not share the WAL index through the filesystem %s: one connection in EXCLUSIVE locking mode, which shares none", p.Filesystem)), true
	case !p.NoLock && ncruces.IsLockingError(err) && e.lock != nil:
		// SQLite's locks are refused outright; the directory lock, taken already, is what
		// keeps other processes out, as on the platforms without SQLite locks.
		who := "only the directory lock keeps other processes out"
		if e.lock.InProcess() {
			who = "and the directory lock excludes only this process: nothing keeps other processes out"
		}
		return p.NoLocking(fmt.Sprintf("the filesystem %s refuses SQLite's locks: nolock=1, a rollback journal and one connection; %s", p.Filesystem, who)), true
	}
	return p, false
}

// filesystemError returns err, with which the pool failed to open on the last profile
// fallback allowed, as an error matching ErrFilesystem that names the filesystem and the fix
// when the filesystem is the cause.
func (e *entry) filesystemError(err error) error {
	p := e.config.profile
	switch {
	case ncruces.IsSharedMemoryError(err) || ncruces.IsLockingError(err):
		return fmt.Errorf("%w: SQLite cannot take its locks on %s (filesystem %s) and %s: %w",
			ErrFilesystem, e.dbPath, p.Filesystem, e.noLockFix(), err)
	case p.NoLock && lock.Supported && errors.Is(err, ncruces.ErrCantOpen) && walFormat(e.dbPath):
		return fmt.Errorf("%w: the filesystem %s refuses SQLite's locks, and %s is in WAL format, which SQLite cannot open without them: convert it to a rollback journal (PRAGMA journal_mode=DELETE) on a filesystem with locks, or move the workspace to one: %w",
			ErrFilesystem, p.Filesystem, e.dbPath, err)
	}
	return err
}

// noLockFix says why this entry cannot run without SQLite's locks, and what to do.
func (e *entry) noLockFix() string {
	c := &e.config
	switch {
	case c.sharing == lock.Shared:
		return "a shared workspace needs them to arbitrate between its processes: open it exclusive (lock.Exclusive), or move it to a local filesystem"
	case e.readOnly:
		return "a read-only handle takes no directory lock that could stand in for them: open it with Open, or from a local filesystem"
	case c.skipLock:
		return "without the directory lock (SkipLock, " + EnvSkipLock + ") nothing else would keep other processes out: open it with the lock, or move it to a local filesystem"
	}
	return "nothing else would keep other processes out: move the workspace to a local filesystem"
}

// lockError returns err, with which the directory lock failed, naming the filesystem and the
// fix where the lock file cannot be locked (ErrFilesystem), and as an *ncruces.DeniedError
// where locking it was denied although its filesystem has locks (a sandbox).
func (e *entry) lockError(err error) error {
	if errors.Is(err, lock.ErrUnsupported) {
		f, _ := ncruces.DetectFilesystem(e.id.dir)
		return fmt.Errorf("%w: its lock file cannot be locked on the filesystem %s, so nothing would keep another process from opening the workspace beside this one: move it to a local filesystem, or, if no other process ever opens it, set Options.InProcessLock (%s=1): %w",
			ErrFilesystem, f, EnvInProcessLock, err)
	}
	if pe, ok := errors.AsType[*fs.PathError](err); ok && pe.Op == "lock" && errors.Is(err, fs.ErrPermission) {
		return &ncruces.DeniedError{Op: "lock", Path: pe.Path, Err: err}
	}
	return err
}

// heldExclusively returns an error matching ncruces.ErrBusy, at once, when a read-only
// handle with a single-connection profile (a network filesystem's, Windows') could only wait
// out the busy timeout: the owner record names a process of this host that runs, and such an
// owner's connection holds the database for as long as it is open. A stale record, or one of
// another host, is left for SQLite to judge.
func (e *entry) heldExclusively() error {
	c := &e.config
	if !c.profile.LockingExclusive {
		return nil
	}
	o, err := lock.ReadOwner(e.id.dir, c.name)
	if err != nil || o.State() != lock.StateHeld {
		return nil
	}
	return fmt.Errorf("%s holds %s in EXCLUSIVE locking mode, the profile of %s: other processes can read it once that one closes it: %w",
		o, e.dbPath, profilePlace(c.profile), ncruces.ErrBusy)
}

// profilePlace names what made p a single-connection profile: the filesystem, or the
// platform.
func profilePlace(p ncruces.Profile) string {
	if !p.Filesystem.Local() || p.FilesystemMode == ncruces.FilesystemNetwork {
		return "the filesystem " + p.Filesystem.String()
	}
	return p.GOOS + "/" + p.GOARCH
}

// walFormat reports whether the database file at path is in WAL format: bytes 18 and 19 of
// its header, the file format versions, are 2.
func walFormat(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var header [20]byte
	if _, err := io.ReadFull(f, header[:]); err != nil {
		return false
	}
	return header[18] == 2 || header[19] == 2
}
