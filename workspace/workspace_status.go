package workspace

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
)

// Status describes a workspace: its files, the journal mode actually in
// force, its schema, its lock and the engine.
type Status struct {
	Dir      string // the workspace directory
	Path     string // the database file
	LockPath string // the lock file
	ReadOnly bool   // the handle came from OpenReadOnly

	// Encrypted reports that the workspace was opened with a key: its
	// database, WAL and journal are encrypted (its -shm index is not, and
	// holds no page contents).
	Encrypted bool

	DBSize  int64 // bytes in the database file
	WALSize int64 // bytes in the WAL file (0 when there is none)

	// JournalMode is the journal mode SQLite reports for the database,
	// such as "wal". WantJournalMode is the one litedir asked for; they
	// differ when SQLite could not use WAL (no shared memory, some network
	// filesystems), and then the workspace is slower, not less safe.
	JournalMode     string
	WantJournalMode string

	PageSize  int64 // bytes per page
	PageCount int64 // pages in the database
	FreePages int64 // pages on the freelist

	// Schema is the migration state: the version applied, the newest
	// version of the migrations given in Options, and those pending.
	Schema migrations.Status

	// Sharing is the lock mode the workspace was opened with; Locked
	// reports whether this process holds the lock (false for read-only
	// handles and with SkipLock).
	Sharing lock.Mode
	Locked  bool
	// Owner is the owner record in the lock file. It is zero when the
	// workspace is free or held in shared mode, and may be stale after the
	// owner crashed: only taking the lock tells for sure.
	Owner lock.Owner
	// LockInProcess reports that the directory lock excludes only the
	// Opens of one process, not other processes: the platform or the
	// filesystem cannot lock files (see Options.InProcessLock). For a
	// read-only handle it is what the owner record says of the owner.
	LockInProcess bool

	Readers int // connections in the read pool (0: the writer's)
	// Profile is what this platform's driver can do and what litedir does
	// about it, on this workspace's filesystem (Profile.Filesystem): its
	// Notes say why it differs from the platform's.
	Profile ncruces.Profile
	Engine  ncruces.Engine // the engine cache and versions
	Writes  WriteStats     // the group committer's counters

	// LastRecovery is the record of the latest quarantine-on-open (see
	// Options.OnCorrupt), read from <dir>/quarantine; nil when there was
	// none.
	LastRecovery *Recovery
}

// Status reports the state of the workspace.
func (w *Workspace) Status(ctx context.Context) (*Status, error) {
	if err := w.check("status"); err != nil {
		return nil, err
	}
	e := w.e
	s := &Status{
		Dir:       e.id.dir,
		Path:      e.dbPath,
		LockPath:  lock.Path(e.id.dir, e.config.name),
		ReadOnly:  e.readOnly,
		Encrypted: e.config.key != nil,
		Sharing:   e.config.sharing,
		Locked:    e.lock != nil,
		Readers:   e.config.readers,
		Profile:   e.config.profile,
		Engine:    ncruces.EngineInfo(),
		Writes:    w.WriteStats(),
	}
	s.WantJournalMode = e.config.settings.JournalMode

	var err error
	if s.DBSize, err = fileSize(e.dbPath); err != nil {
		return nil, fmt.Errorf("workspace: status %s: %w", e.dbPath, err)
	}
	if s.WALSize, err = fileSize(WALPath(e.dbPath)); err != nil {
		return nil, fmt.Errorf("workspace: status %s: %w", e.dbPath, err)
	}
	if s.Owner, err = lock.ReadOwner(e.id.dir, e.config.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("workspace: status %s: %w", e.dbPath, err)
	}
	if e.lock != nil {
		s.LockInProcess = e.lock.InProcess()
	} else {
		s.LockInProcess = s.Owner.InProcess
	}

	if s.JournalMode, err = journalMode(ctx, e.readDB()); err != nil {
		return nil, fmt.Errorf("workspace: status %s: %w", e.dbPath, err)
	}
	for _, p := range []struct {
		name string
		v    *int64
	}{{"page_size", &s.PageSize}, {"page_count", &s.PageCount}, {"freelist_count", &s.FreePages}} {
		if err := e.readDB().QueryRowContext(ctx, "PRAGMA "+p.name).Scan(p.v); err != nil {
			return nil, fmt.Errorf("workspace: status %s: %s: %w", e.dbPath, p.name, err)
		}
	}

	if s.Schema, err = e.schema(ctx, e.config.migrations); err != nil {
		return nil, fmt.Errorf("workspace: status %s: %w", e.dbPath, err)
	}
	s.LastRecovery = lastRecovery(e.id.dir, e.config.name)
	return s, nil
}

// Schema returns the migration state of the database against the
// migrations of fsys (nil: none, which still reports the version applied),
// as Status does against Options.Migrations.
func (w *Workspace) Schema(ctx context.Context, fsys fs.FS) (migrations.Status, error) {
	if err := w.check("schema"); err != nil {
		return migrations.Status{}, err
	}
	st, err := w.e.schema(ctx, fsys)
	if err != nil {
		return st, fmt.Errorf("workspace: schema %s: %w", w.e.dbPath, err)
	}
	return st, nil
}

func (e *entry) schema(ctx context.Context, fsys fs.FS) (migrations.Status, error) {
	if fsys == nil {
		fsys = embed.FS{}
	}
	m, err := migrations.New(e.readDB(), fsys, &migrations.Options{Logger: e.config.logger})
	if err != nil {
		return migrations.Status{}, err
	}
	return m.Status(ctx)
}

// fileSize returns the size of path, or 0 when it does not exist.
func fileSize(path string) (int64, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// journalMode returns the journal mode in force for db ("wal", "delete",
// ...), as PRAGMA journal_mode reports it, in lower case.
func journalMode(ctx context.Context, db *sql.DB) (string, error) {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return "", fmt.Errorf("journal mode: %w", err)
	}
	return strings.ToLower(mode), nil
}
