package ncruces

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/litedir/litedir/internal/fault"
	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/observe"
)

// vfsName is the SQLite VFS that [Open] uses: the driver's default "os" VFS,
// wrapped by fullVFS.
const vfsName = "litedir"

// The driver (v0.32.0) means to report a full disk as SQLITE_FULL: its
// osWriteAt checks for a bare unix.Errno ENOSPC. But os.File.WriteAt returns
// the errno inside an *fs.PathError, so the check never matches, and a full
// disk reaches SQLite as SQLITE_IOERR_WRITE — "disk I/O error", which
// callers cannot tell from a failing disk. fullVFS wraps every file of the
// default VFS and tags errors that are ENOSPC anywhere in their chain with
// SQLITE_FULL, so that errors.Is(err, ErrFull) holds as documented.
//
// fullVFS also decides three things about the files themselves, which the
// default VFS leaves to SQLite's flags or the process's umask:
//
//   - A database file that is a symbolic link is refused (ErrSymlink), as
//     SQLITE_OPEN_NOFOLLOW would, which the driver cannot pass: SQLite would
//     otherwise resolve the link and put the -wal and -shm beside its target.
//   - A database path that is a directory is refused (ErrIsDir); read-only,
//     the default VFS opens it and the first read fails with ErrIO.
//   - Files are created with the permissions a database deserves rather
//     than 0666 less the umask: a new database 0600, like the lock file, and
//     its -journal, -wal and -shm with the database file's permissions, as
//     SQLite's unix VFS does, so a database made group-readable on purpose
//     stays usable by the group. The -shm file is not opened through the
//     VFS but by the default VFS's shared memory, so it is created when its
//     WAL is opened, where Open says it will be a file (shmFileParam).
//
// The wrapper forwards every optional interface the default VFS's files
// implement (see the driver's vfs/file.go), so SQLite sees the same file,
// shared memory and locks; only the error codes of writes change. Tests can
// make its writes, truncations and syncs fail (internal/fault).
func init() {
	vfs.Register(vfsName, fullVFS{vfs.Find("os")})
}

// dbFileMode is the permission of a new database file.
const dbFileMode fs.FileMode = 0o600

// Errors that the VFS puts in the chain of ErrSymlink and ErrIsDir.
var (
	errSymlink = errors.New("is a symbolic link, which litedir does not follow")
	errIsDir   = errors.New("is a directory")
)

// fullVFS is the default VFS with its files wrapped in fullFile.
type fullVFS struct{ vfs.VFS }

// FullPathname refuses a database path whose last element is a symbolic
// link. SQLite asks for the full path of main and attached databases only;
// their journals are named after the result.
func (v fullVFS) FullPathname(name string) (string, error) {
	if fi, err := os.Lstat(name); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return "", vfs.SystemError(&fs.PathError{Op: "open", Path: name, Err: errSymlink}, sqlite3.CANTOPEN_SYMLINK)
	}
	return v.VFS.FullPathname(name)
}

// Open is not called: the driver calls OpenFilename when the VFS has it.
func (v fullVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := v.VFS.Open(name, flags)
	return wrapFile(f), flags, err
}

// OpenFilename opens the file as the default VFS does, after refusing a
// directory and creating a missing file with the right permissions, and
// wraps it. When the open creates a database or journal file, it also
// syncs the directory (see syncCreated).
func (v fullVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	// Before precreate makes the file exist: whether this open creates it.
	path, create := creating(name, flags)
	if path != "" && flags&vfs.OPEN_MAIN_DB != 0 {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return nil, flags, vfs.SystemError(&fs.PathError{Op: "open", Path: path, Err: errIsDir}, sqlite3.CANTOPEN_ISDIR)
		}
	}
	if path != "" && flags&vfs.OPEN_CREATE != 0 {
		mode := dbFileMode
		if flags&(vfs.OPEN_MAIN_JOURNAL|vfs.OPEN_WAL) != 0 {
			mode = dbMode(name.Database())
		}
		precreate(path, mode)
	}
	if path != "" && flags&vfs.OPEN_WAL != 0 && name.URIParameter(shmFileParam) != "" {
		// The WAL is opened before its index is first mapped; read-only
		// connections open it without OPEN_CREATE but still create the
		// -shm file.
		precreate(name.Database()+"-shm", dbMode(name.Database()))
	}
	f, flags, err := v.VFS.(vfs.VFSFilename).OpenFilename(name, flags)
	if err != nil || f == nil {
		return wrapFile(f), flags, err
	}
	if o := observe.Current(); o != nil && path != "" {
		o.Opened(path, flags, create)
	}
	if create {
		if err := syncCreated(path); err != nil {
			f.Close()
			return nil, flags, err
		}
	}
	ff := &fullFile{File: f, path: path}
	// With nolock=1 SQLite's pager takes no lock, but still asks whether
	// another connection holds one before it rolls back a hot journal;
	// SQLite's own unix VFS answers no there without asking the OS, whose
	// locks the filesystem may refuse (the reason for nolock=1).
	ff.nolock = flags&vfs.OPEN_MAIN_DB != 0 && name.URIParameter("nolock") == "1"
	return ff, flags, nil
}

// Delete deletes the file as the default VFS does, which syncs the
// directory when SQLite asks for it.
func (v fullVFS) Delete(name string, syncDir bool) error {
	err := v.VFS.Delete(name, syncDir)
	if o := observe.Current(); o != nil && err == nil {
		o.Deleted(name)
		if syncDir && dirSyncs {
			o.DirSynced(filepath.Dir(name))
		}
	}
	return err
}

// The driver (v0.32.0) means to sync the directory after it creates a
// journal or WAL file, as SQLite's unix VFS does, but syncs the file a second
// time instead (vfs/file.go, vfsFile.Sync). Until a directory is synced, a
// power loss can lose the name of a file created in it, with everything
// since written and synced to that file: a -wal file full of acknowledged
// commits could vanish. So fullVFS syncs the directory itself, once, right
// after the open that creates a database, journal or WAL file.

// creating returns the path of the file that an open of name with flags
// would create: a database, journal or WAL file that does not exist yet.
// path is "" for temporary files; create is false where directories are not
// synced (dirSyncs).
func creating(name *vfs.Filename, flags vfs.OpenFlag) (path string, create bool) {
	if name == nil || flags&vfs.OPEN_DELETEONCLOSE != 0 {
		return "", false
	}
	path = name.String()
	if !dirSyncs || flags&vfs.OPEN_CREATE == 0 ||
		flags&(vfs.OPEN_MAIN_DB|vfs.OPEN_MAIN_JOURNAL|vfs.OPEN_SUPER_JOURNAL|vfs.OPEN_WAL) == 0 {
		return path, false
	}
	// Another process may create the file between this look and the open;
	// then both sync the directory, which does no harm.
	_, err := os.Lstat(path)
	return path, errors.Is(err, fs.ErrNotExist)
}

// syncDir syncs the directory dir (see fsync.Dir). A directory that cannot
// be opened is no error, as in SQLite's unixSync.
func syncDir(dir string) error {
	err := fsync.Dir(dir)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Op == "open" {
		return nil
	}
	return err
}

// syncCreated syncs the directory of path, which was just created, so that
// its name survives a power loss. A file system that cannot sync
// directories is not an error, as in SQLite; any other failure fails the
// open with SQLITE_IOERR_DIR_FSYNC.
func syncCreated(path string) error {
	dir := filepath.Dir(path)
	if err := syncDir(dir); err != nil {
		return vfs.SystemError(&fs.PathError{Op: "sync directory", Path: dir, Err: err}, sqlite3.IOERR_DIR_FSYNC)
	}
	if o := observe.Current(); o != nil {
		o.DirSynced(dir)
	}
	return nil
}

// shmFileParam is the URI parameter with which [Open] tells the VFS that
// SQLite will keep the WAL index in the file <database>-shm, which the
// default VFS creates with 0666 less the umask when SQLite first maps it.
// Only Open knows: with locking_mode=EXCLUSIVE SQLite keeps the index in
// heap memory and must be left without a -shm file, and the shared memory of
// the dot-file locking build is no file at all.
const shmFileParam = "litedir_shm"

// shmIsFile reports whether connections with profile prof and pragmas
// keep the WAL index in a -shm file (see shmFileParam).
func shmIsFile(prof Profile, pragmas []Pragma) bool {
	if !prof.SharedMemory || locking == "dotlk" {
		return false
	}
	for _, p := range pragmas {
		if p.is("locking_mode") && strings.EqualFold(p.Value, "EXCLUSIVE") {
			return false
		}
	}
	return true
}

// readOnlyFSError returns err, which opening the database path failed with,
// wrapped with ErrReadOnlyFS when the cause is that path's directory is on a
// read-only file system. SQLite's own error is then misleading: "unable to
// open database file" from whichever statement first read the database,
// since a read-only connection needs to create the -wal and -shm files of a
// WAL database and cannot.
func readOnlyFSError(path string, err error) error {
	if !errors.Is(err, ErrCantOpen) && !errors.Is(err, ErrReadOnly) {
		return err
	}
	dir := filepath.Dir(path)
	rofs := readOnlyFS(dir)
	if rofs == nil {
		return err
	}
	return fmt.Errorf("%w: %s cannot hold the files SQLite needs beside the database, such as the -wal and -shm of a WAL database (%w): %w",
		ErrReadOnlyFS, dir, rofs, err)
}

// dbMode returns the permissions of the database file db, or dbFileMode if
// it cannot tell.
func dbMode(db string) fs.FileMode {
	if fi, err := os.Stat(db); db != "" && err == nil {
		return fi.Mode().Perm()
	}
	return dbFileMode
}

// precreate creates path with permissions mode if it does not exist, so
// that the default VFS, which creates with 0666 less the umask, opens it
// instead. O_EXCL makes it a no-op for a file (or a link) that exists; any
// other failure is left for the default VFS to meet and report. The mode is
// set again after creation because the umask may have cleared bits of it
// (a group-readable database's journal under umask 077), as SQLite's unix
// VFS does for journals.
func precreate(path string, mode fs.FileMode) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return
	}
	f.Chmod(mode)
	f.Close()
}

func wrapFile(f vfs.File) vfs.File {
	if f == nil {
		return nil
	}
	return &fullFile{File: f}
}

// fullFile is a file of the default VFS whose write errors say SQLITE_FULL
// when the disk is full.
type fullFile struct {
	vfs.File
	path   string // as SQLite named it; "" for temporary files
	nolock bool   // a main database opened with nolock=1
}

// CheckReservedLock reports whether another connection holds a RESERVED
// lock: for a database opened with nolock=1, none, as in SQLite's unix VFS.
func (f *fullFile) CheckReservedLock() (bool, error) {
	if f.nolock {
		return false, nil
	}
	return f.File.CheckReservedLock()
}

// diskFull tags err with SQLITE_FULL if the operating system said the disk
// is full (see isDiskFull).
func diskFull(err error) error {
	if err != nil && isDiskFull(err) {
		return vfs.SystemError(err, sqlite3.FULL)
	}
	return err
}

func (f *fullFile) WriteAt(p []byte, off int64) (int, error) {
	if err := fault.Check(fault.Write, f.path, off); err != nil {
		return 0, diskFull(err) // a test's fault (internal/fault)
	}
	n, err := f.File.WriteAt(p, off)
	if o := observe.Current(); o != nil && f.path != "" && n > 0 {
		o.Wrote(f.path, p[:n], off)
	}
	return n, diskFull(err)
}

func (f *fullFile) Truncate(size int64) error {
	if err := fault.Check(fault.Truncate, f.path, size); err != nil {
		return diskFull(err)
	}
	err := f.File.Truncate(size)
	if o := observe.Current(); o != nil && f.path != "" && err == nil {
		o.Truncated(f.path, size)
	}
	return diskFull(err)
}

func (f *fullFile) Sync(flags vfs.SyncFlag) error {
	if err := fault.Check(fault.Sync, f.path, 0); err != nil {
		return diskFull(err)
	}
	var done func(error)
	if o := observe.Current(); o != nil && f.path != "" {
		done = o.Syncing(f.path, flags)
	}
	err := f.File.Sync(flags)
	if done != nil {
		done(err)
	}
	return diskFull(err)
}

// Unwrap returns the default VFS's file.
func (f *fullFile) Unwrap() vfs.File { return f.File }

// The optional interfaces of the default VFS's files, forwarded.

func (f *fullFile) SharedMemory() vfs.SharedMemory {
	if s, ok := f.File.(vfs.FileSharedMemory); ok {
		return s.SharedMemory()
	}
	return nil
}

func (f *fullFile) LockState() vfs.LockLevel {
	if s, ok := f.File.(vfs.FileLockState); ok {
		return s.LockState()
	}
	return vfs.LOCK_EXCLUSIVE + 1 // SQLite's "unknown"
}

func (f *fullFile) SizeHint(size int64) error {
	if s, ok := f.File.(vfs.FileSizeHint); ok {
		err := s.SizeHint(size)
		if o := observe.Current(); o != nil && f.path != "" && err == nil {
			o.Allocated(f.path, size)
		}
		return diskFull(err)
	}
	return nil
}

func (f *fullFile) HasMoved() (bool, error) {
	if s, ok := f.File.(vfs.FileHasMoved); ok {
		return s.HasMoved()
	}
	return false, nil
}

func (f *fullFile) PersistWAL() bool {
	if s, ok := f.File.(vfs.FilePersistWAL); ok {
		return s.PersistWAL()
	}
	return false
}

func (f *fullFile) SetPersistWAL(keep bool) {
	if s, ok := f.File.(vfs.FilePersistWAL); ok {
		s.SetPersistWAL(keep)
	}
}

func (f *fullFile) PowersafeOverwrite() bool {
	if s, ok := f.File.(vfs.FilePowersafeOverwrite); ok {
		return s.PowersafeOverwrite()
	}
	return false
}

func (f *fullFile) SetPowersafeOverwrite(psow bool) {
	if s, ok := f.File.(vfs.FilePowersafeOverwrite); ok {
		s.SetPowersafeOverwrite(psow)
	}
}

// SQLite asks for atomic batch writes only when DeviceCharacteristics
// reports IOCAP_BATCH_ATOMIC, which only a file that implements them does.

func (f *fullFile) BeginAtomicWrite() error {
	if s, ok := f.File.(vfs.FileBatchAtomicWrite); ok {
		return s.BeginAtomicWrite()
	}
	return sqlite3.IOERR_BEGIN_ATOMIC
}

func (f *fullFile) CommitAtomicWrite() error {
	if s, ok := f.File.(vfs.FileBatchAtomicWrite); ok {
		return diskFull(s.CommitAtomicWrite())
	}
	return sqlite3.IOERR_COMMIT_ATOMIC
}

func (f *fullFile) RollbackAtomicWrite() error {
	if s, ok := f.File.(vfs.FileBatchAtomicWrite); ok {
		return s.RollbackAtomicWrite()
	}
	return sqlite3.IOERR_ROLLBACK_ATOMIC
}
