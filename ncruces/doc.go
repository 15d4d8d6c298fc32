// Package ncruces is litedir's SQLite engine: the CGO-free
// [github.com/ncruces/go-sqlite3] driver (SQLite compiled to Wasm, run by
// wazero), configured so that every database litedir opens behaves the same
// way on every connection and on every platform it can be built for.
//
// # Engine
//
// By default (driver v0.32, [EngineWazero]) SQLite is a Wasm module that
// wazero compiles to machine code once per process. Cold, that takes
// seconds; with wazero's on-disk compilation cache it takes tens of
// milliseconds. [Initialize] sets up that cache (in [EnvCacheDir], or
// os.UserCacheDir()/litedir/wazero), the memory limit and the Wasm features,
// and compiles SQLite. [Warmup] does the same in the background so the
// compile overlaps other start-up work. A cache that cannot be used never
// makes SQLite unusable: Initialize validates it before the driver sees it,
// rebuilds it once, and otherwise runs without it; a cache that can only be
// read is used for loading. [EngineInfo] reports what happened.
//
// Built with -tags litedir_wasm2go against driver v0.33 or later
// ([EngineWasm2go]), SQLite is Go code compiled into the program: there is
// nothing to compile at start-up and no cache, and Initialize only starts
// SQLite. The rest of this package behaves the same on both engines; the
// platform profile follows the driver linked.
//
// # Opening a database
//
// [Open] returns a [database/sql.DB] for one database file. It builds a
// "file:" URI that names exactly the path given, whatever characters it
// holds (spaces, '?', '#', '%', non-ASCII), applies the [Pragma] list in
// order on every new connection (driver.Open's init callback), runs PRAGMA
// optimize before a connection closes, and opens one connection right away
// so that a missing file, a file that is not a database, or a bad pragma
// fails Open instead of the first query.
//
// # Pragmas
//
// [DefaultPragmas] is litedir's connection setup: a 10 s busy timeout, WAL,
// synchronous=NORMAL, foreign keys, a bounded cache and journal, and
// secure_delete=FAST.
// [MergePragmas] applies overrides and keeps the order SQLite needs:
// busy_timeout first, then locking_mode, and page_size, fullfsync and
// checkpoint_fullfsync before journal_mode.
//
// # Platform profile
//
// What the driver can do depends on the build: OFD locks on Linux and macOS,
// BSD flock on the BSDs and illumos, LockFileEx on Windows, and no file
// locking at all elsewhere; shared memory for the WAL index only on some
// architectures. [Platform] describes this build and what litedir does about
// it (one connection, EXCLUSIVE locking mode, or no locking and a rollback
// journal; on darwin, F_FULLFSYNC for SQLite's syncs); [Open] applies it.
// Building with the sqlite3_flock tag on Linux is refused at compile time.
//
// # Filesystems
//
// The filesystem counts too: WAL's shared memory and locks are not coherent
// between processes on a network or FUSE filesystem. [DetectFilesystem] tells
// local, network and FUSE filesystems apart (statfs on Linux, f_fstypename
// and MNT_LOCAL on macOS and the BSDs, the drive type on Windows), and
// [Profile.OnFilesystem] gives a database on one that is not local the
// single-connection profile, unless a [FilesystemMode] says otherwise.
// [IsSharedMemoryError] and [IsLockingError] recognize SQLite's refusals of a
// filesystem, and [Profile.Exclusive] and [Profile.NoLocking] are the safer
// profiles to fall back to; a companion file that a sandbox keeps SQLite
// from creating is a [*DeniedError].
//
// # Files on disk
//
// Databases are opened through the "litedir" VFS, the driver's default VFS
// with these changes: a full disk is reported as SQLITE_FULL ([ErrFull]);
// the directory is synced right after a database, journal or WAL file is
// created in it, so that a power loss cannot take the file's name with it;
// new files are created with mode 0600 (the -wal and -shm files follow the
// database's mode); and a database path that is a symbolic link or a
// directory is refused ([ErrSymlink], [ErrIsDir]).
//
// # Encryption at rest
//
// With a [Key] in [Config].Key, the database, its WAL and journal are
// encrypted by the driver's Adiantum VFS stacked on the litedir VFS (see
// crypt.go). Open first checks, from the files' first blocks and without
// changing a byte, that the key (or none) suits the database, and refuses
// otherwise with [ErrWrongKey], [ErrEncrypted] or [ErrNotEncrypted]. The key
// never appears in a URI, SQL or an error.
//
// # Errors
//
// [ErrBusy], [ErrNotADatabase] and the other error classes are SQLite result
// codes, so errors.Is classifies any error chain that contains a driver error,
// extended codes included, with no wrapping on the way. Invalid input is reported with [ErrInvalidPragma] (as a
// [*PragmaError]) and [ErrInvalidConfig].
//
// # Concurrency
//
// Every function in this package is safe for concurrent use by multiple
// goroutines. The [database/sql.DB] returned by [Open] is, too; each of its
// connections is used by one goroutine at a time, as database/sql ensures.
package ncruces
