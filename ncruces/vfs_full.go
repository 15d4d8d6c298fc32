package ncruces

import (
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
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
// The wrapper forwards every optional interface the default VFS's files
// implement (see the driver's vfs/file.go), so SQLite sees the same file,
// shared memory and locks; only the error codes of writes change.
func init() {
	vfs.Register(vfsName, fullVFS{vfs.Find("os")})
}

// fullVFS is the default VFS with its files wrapped in fullFile.
type fullVFS struct{ vfs.VFS }

// Open is not called: the driver calls OpenFilename when the VFS has it.
func (v fullVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := v.VFS.Open(name, flags)
	return wrapFile(f), flags, err
}

// OpenFilename opens the file as the default VFS does, and wraps it.
func (v fullVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := v.VFS.(vfs.VFSFilename).OpenFilename(name, flags)
	return wrapFile(f), flags, err
}

func wrapFile(f vfs.File) vfs.File {
	if f == nil {
		return nil
	}
	return &fullFile{f}
}

// fullFile is a file of the default VFS whose write errors say SQLITE_FULL
// when the disk is full.
type fullFile struct{ vfs.File }

// diskFull tags err with SQLITE_FULL if the operating system said the disk
// is full (see isDiskFull).
func diskFull(err error) error {
	if err != nil && isDiskFull(err) {
		return vfs.SystemError(err, sqlite3.FULL)
	}
	return err
}

func (f *fullFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(p, off)
	return n, diskFull(err)
}

func (f *fullFile) Truncate(size int64) error { return diskFull(f.File.Truncate(size)) }

func (f *fullFile) Sync(flags vfs.SyncFlag) error { return diskFull(f.File.Sync(flags)) }

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
		return diskFull(s.SizeHint(size))
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
