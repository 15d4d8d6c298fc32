// Package lock takes the lock of a litedir data directory, so that one program at a time owns the
// directory, or several cooperating readers share it.
//
// # Lock file
//
// [Acquire] locks a dedicated file, "<name>.lock" inside the directory (see [Path] and
// [DefaultName]), never the databases themselves. The file is created with mode 0600 if it does
// not exist, and it is opened without following symbolic links: a symlink in its place is refused
// with [ErrSymlink] and anything else that is not a regular file with [ErrNotRegular], so a
// planted link can never make the lock write to another file. Acquire never creates the directory.
//
// The lock file is never deleted. Advisory locks belong to the file (the inode), not to its name:
// if a holder deleted the file on release, a waiter that had already opened the old file could
// lock it while a newcomer created and locked a new file under the same name, and both would
// believe they own the directory.
//
// # Modes
//
// An [Exclusive] lock has one holder. Any number of [Shared] holders may hold the lock together;
// shared and exclusive holders exclude each other. Exclusion holds between processes and inside
// one process alike: two Acquire calls on the same directory conflict even in the same process.
//
// # Owner record
//
// The exclusive holder writes an [Owner] record (JSON: pid, host, program, start time and caller
// metadata) into the lock file once it holds the lock, and truncates the file to zero before it
// unlocks. A contender that fails gets a [*LockedError] naming the holder, and [ReadOwner] reads
// the record without locking. Shared holders write no record; the first of them clears a stale
// record left behind by an exclusive holder that was killed.
//
// The record is information, not authority: after a crash it names a process that no longer
// holds anything, and ReadOwner cannot tell. Only Acquire decides whether the directory is free.
//
// # Waiting
//
// By default Acquire fails at once with a [*LockedError] when the lock is held. With
// [Options.Wait] set it retries with exponential backoff until it gets the lock, the wait runs
// out (then it returns the *LockedError) or its context is done (then the error matches both the
// context's error and [ErrLocked]).
//
// # Platforms
//
// On Linux, the BSDs, macOS and illumos the lock is flock(2) (filelock_unix.go); on AIX and
// Solaris it is an fcntl(2) record lock (filelock_fcntl.go), kept in an in-process table because
// those locks belong to the process; on Windows it is LockFileEx on a byte far beyond the owner
// record (filelock_windows.go), so contenders can still read the record. On plan9, js and wasip1
// there are no advisory locks ([Supported] is false, filelock_other.go).
//
// # Where nothing can be locked
//
// Where the platform has no advisory locks, or the filesystem that holds the lock file refuses
// them (a FUSE filesystem that answers ENOSYS, NFS without a lock manager), Acquire fails with
// an error matching [ErrUnsupported] (and [errors.ErrUnsupported]) rather than pretend: no
// lock that excludes another process can be had there. A caller that knows no other process
// opens the directory may set [Options.AllowInProcess]: Acquire then holds a lock that excludes
// only the other Acquire calls of this process, says so ([Lock.InProcess]), and records it in
// the owner record ([Owner.InProcess]).
//
// What a lock that was granted means across machines is the filesystem's business: on a local
// filesystem it excludes every process of the host; on a network filesystem it reaches as far
// as the filesystem forwards locks (NFS forwards them to its server; FUSE filesystems such as
// sshfs that do not implement locks leave them to the local kernel, so they exclude the
// processes of this host only).
//
// # Lifetime
//
// A [*Lock] is held until [Lock.Release] is called or the process exits; the operating system
// drops the lock of a process that dies, however it dies. The package keeps every held Lock
// reachable, so a caller that drops its *Lock without releasing it keeps the directory locked for
// the rest of the process instead of losing the lock when the garbage collector closes the file.
package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Supported reports whether this platform has inter-process advisory locks. Where it is false
// (plan9, js, wasip1), Acquire fails with ErrUnsupported unless [Options.AllowInProcess] is
// set, and then excludes only other Acquire calls in the same process. Where it is true, a
// filesystem without locks can still refuse them (see ErrUnsupported).
const Supported = supported

// DefaultName is the default base name of the lock file, which is "<name>.lock".
const DefaultName = "litedir"

// Mode says whether a lock is held by one holder or shared by many.
type Mode int

const (
	// Exclusive is the default mode: one holder, who writes the owner record.
	Exclusive Mode = iota
	// Shared lets many shared holders hold the lock at once; shared and exclusive holders
	// exclude each other.
	Shared
)

// String returns "exclusive" or "shared" (or "Mode(n)" for an invalid mode).
func (m Mode) String() string {
	switch m {
	case Exclusive:
		return "exclusive"
	case Shared:
		return "shared"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Options configures [Acquire]. The zero value takes an exclusive lock on "litedir.lock" and
// fails at once if it is held.
type Options struct {
	// Name is the base name of the lock file, which is Name + ".lock". It must be a plain file
	// name: no path separators ('/' or '\' on every platform), not "." or "..". The zero value
	// means DefaultName.
	Name string

	// Mode is the lock mode. The zero value is Exclusive.
	Mode Mode

	// Wait is how long Acquire keeps retrying while the lock is held by someone else. The zero
	// value (or a negative one) fails at once with a *LockedError.
	Wait time.Duration

	// Contended, if not nil, is called once when Acquire finds the lock held and is about to
	// wait for it (Wait > 0), with the *LockedError it would return, before the first wait: a
	// caller can then tell others who holds the lock while it waits. Nil means no call.
	Contended func(*LockedError)

	// Program identifies the holder in the owner record, e.g. "myapp/1.4.2". The zero value
	// means the base name of os.Args[0]. Shared holders write no record.
	Program string

	// Meta is caller metadata stored in the owner record, e.g. an address other processes can
	// attach to. Nil means none. Acquire copies the map.
	Meta map[string]string

	// AllowInProcess accepts, where the lock file cannot be locked at all (the platform has no
	// advisory locks, or its filesystem refuses them: the error would match ErrUnsupported), a
	// lock that excludes only the other Acquire calls of this process; [Lock.InProcess] then
	// reports true. Other processes are not kept out: set it only when nothing else opens the
	// directory. The zero value fails with ErrUnsupported instead.
	AllowInProcess bool
}

// Backoff bounds for Options.Wait: short enough that a released lock is picked up quickly,
// long enough that a long wait does not spin.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = 250 * time.Millisecond
)

// testHookWait, when set by a test, is called each time Acquire is about to wait for a held
// lock, so the test can release the holder only once a waiter really waits.
var testHookWait func()

// A Lock is a held directory lock. It is safe for concurrent use by multiple goroutines. It stays
// held until [Lock.Release] is called or the process exits.
type Lock struct {
	dir   string
	path  string
	mode  Mode
	owner Owner // zero for Shared

	mu        sync.Mutex
	h         *holder // nil once released
	inProcess bool
}

// live keeps every held Lock reachable. An *os.File that becomes unreachable is closed by the
// garbage collector, and closing the file drops its lock: a caller that holds a directory for
// the life of the process without keeping the *Lock around would otherwise lose the lock at some
// random later collection.
var live struct {
	sync.Mutex
	locks map[*Lock]struct{}
}

// Path returns the path of the lock file for dir and the base name name ("" means DefaultName).
// It does not validate name; [Acquire] does.
func Path(dir, name string) string {
	if name == "" {
		name = DefaultName
	}
	return filepath.Join(dir, name+".lock")
}

// Acquire locks the data directory dir in opts.Mode and returns the held lock.
//
// If another holder has the lock, Acquire returns a [*LockedError] (which matches [ErrLocked]),
// after waiting up to opts.Wait for the lock to become free. If ctx is done first, the error
// matches both ctx.Err() and ErrLocked. A ctx that is already done fails before any attempt.
//
// dir must exist and be a directory: otherwise the error is an [*fs.PathError] wrapping the
// reason (errors.Is(err, fs.ErrNotExist), or syscall.ENOTDIR for a file). Invalid options give an
// error matching [ErrInvalidOptions]. Errors about the lock file are *fs.PathErrors naming it,
// wrapping [ErrSymlink], [ErrNotRegular] or the system error. A failed Acquire leaves no lock
// behind and does not create dir.
func Acquire(ctx context.Context, dir string, opts Options) (*Lock, error) {
	name, err := opts.lockName()
	if err != nil {
		return nil, &fs.PathError{Op: "lock", Path: dir, Err: err}
	}
	path := Path(dir, name)
	if opts.Mode != Exclusive && opts.Mode != Shared {
		return nil, &fs.PathError{Op: "lock", Path: path, Err: fmt.Errorf("%w: unknown mode %v", ErrInvalidOptions, opts.Mode)}
	}
	a := attempt{dir: dir, path: path, mode: opts.Mode, allowInProcess: opts.AllowInProcess}
	if a.mode == Exclusive {
		// Encode once now so that bad metadata fails before anything is touched; try encodes
		// again with the time the lock was actually acquired.
		a.owner = newOwner(opts)
		if _, err := encodeOwner(a.owner); err != nil {
			return nil, &fs.PathError{Op: "lock", Path: path, Err: err}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, &fs.PathError{Op: "lock", Path: path, Err: err}
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}

	l, err := a.try()
	var locked *LockedError
	if err == nil || opts.Wait <= 0 || !errors.As(err, &locked) {
		return l, err
	}
	if opts.Contended != nil {
		opts.Contended(locked)
	}

	// Poll rather than block in the kernel: a blocking flock cannot be interrupted by ctx, and
	// LockFileEx or fcntl would need a thread parked per waiter. The backoff doubles from
	// minBackoff to maxBackoff and never sleeps past the end of the wait.
	deadline := time.Now().Add(opts.Wait)
	delay := minBackoff
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, locked
		}
		d := min(delay, remaining)
		delay = min(2*delay, maxBackoff)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		if testHookWait != nil {
			testHookWait()
		}
		select {
		case <-ctx.Done():
			return nil, &fs.PathError{Op: "lock", Path: path, Err: fmt.Errorf("%w while waiting: %w", ctx.Err(), locked)}
		case <-timer.C:
		}
		l, err = a.try()
		if err == nil {
			return l, nil
		}
		if !errors.As(err, &locked) {
			return nil, err
		}
	}
}

// lockName returns the validated base name of the lock file.
func (o Options) lockName() (string, error) {
	if o.Name == "" {
		return DefaultName, nil
	}
	return o.Name, CheckName(o.Name)
}

// CheckName returns nil if name can be [Options.Name]: "" (DefaultName) or a
// plain file name, which has no slash or backslash (on every OS, so that a
// name means the same file everywhere), no NUL byte, is not "." or "..", and
// is local by [filepath.IsLocal] (on Windows, not a reserved name such as
// "NUL"). Otherwise it returns an error matching [ErrInvalidOptions].
// [Acquire] refuses the same names.
func CheckName(name string) error {
	if name == "" {
		return nil
	}
	if name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || !filepath.IsLocal(name) {
		return fmt.Errorf("%w: name %q is not a plain file name", ErrInvalidOptions, name)
	}
	return nil
}

// checkDir reports, as an *fs.PathError naming dir, why dir is not an existing directory.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		// Rewrap the reason rather than nest a "stat" PathError in a "lock" one.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &fs.PathError{Op: "lock", Path: dir, Err: err}
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "lock", Path: dir, Err: syscall.ENOTDIR}
	}
	return nil
}

// attempt is one Acquire call: everything needed to try the lock again while waiting.
type attempt struct {
	dir, path      string
	mode           Mode
	allowInProcess bool
	owner          Owner // for Exclusive; StartedAt is set when the lock is taken
}

// try takes the lock once without blocking, returning a *LockedError on contention.
func (a *attempt) try() (*Lock, error) {
	h, err := tryLock(a.path, a.mode, a.allowInProcess)
	if err != nil {
		var b *busy
		if errors.As(err, &b) {
			owner := b.owner
			if owner.IsZero() && !b.shared {
				owner = awaitRecord(a.path)
			}
			return nil, &LockedError{Dir: a.dir, Path: a.path, Mode: a.mode, Owner: owner, HeldShared: b.shared}
		}
		return nil, err
	}
	var owner Owner
	if a.mode == Exclusive {
		owner = a.owner.clone()
		owner.StartedAt = time.Now().UTC() // UTC drops the monotonic reading: the record reads back equal
		owner.InProcess = h.inProcess()
	}
	if err := a.prepare(h.file(), owner); err != nil {
		return nil, errors.Join(err, h.unlock())
	}
	l := &Lock{dir: a.dir, path: a.path, mode: a.mode, owner: owner, h: h, inProcess: h.inProcess()}
	live.Lock()
	if live.locks == nil {
		live.locks = make(map[*Lock]struct{})
	}
	live.locks[l] = struct{}{}
	live.Unlock()
	return l, nil
}

// testHookRecord, when set by a test, is called each time awaitRecord is about to re-read the
// owner record, so the test can write the record only once a contender really waits for it.
var testHookRecord func()

// recordWait bounds how long a contender that finds the lock held exclusively, but no owner
// record in the file, waits for the record to appear.
const recordWait = 250 * time.Millisecond

// awaitRecord re-reads the owner record of the lock file at path until it names an owner, for
// at most recordWait, and returns the zero Owner if it never does. An exclusive holder writes
// its record right after it takes the lock, so a contender that loses a race by microseconds
// finds the lock held and the file still empty; without this wait it would report "an unknown
// process" where a moment later it could have named the winner. A holder killed between the
// two steps leaves no lock behind, so an empty file on a held lock is almost always a record on
// its way; the wait costs a contender something only when the record never comes (a holder
// that is not litedir, or a record unreadable for good).
func awaitRecord(path string) Owner {
	deadline := time.Now().Add(recordWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return Owner{}
		}
		time.Sleep(min(delay, remaining))
		if testHookRecord != nil {
			testHookRecord()
		}
		b, err := readRecordFile(path)
		if err != nil {
			return Owner{}
		}
		if o := parseOwner(b); !o.IsZero() {
			return o
		}
	}
}

// prepare puts the owner record in place once the lock is held: the exclusive holder writes
// owner, a shared holder clears a stale record.
func (a *attempt) prepare(f *os.File, owner Owner) error {
	if a.mode == Shared {
		// Holding the lock shared proves no exclusive holder is alive, so any record is stale
		// (its writer was killed before it could truncate). Other shared holders may have
		// cleared it already.
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() == 0 {
			return nil
		}
		return f.Truncate(0)
	}
	record, err := encodeOwner(owner)
	if err != nil {
		return &fs.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	// Write at offset 0, then cut off whatever a longer stale record left behind, then make
	// the record durable so that it survives a machine crash along with the holder's data.
	if _, err := f.WriteAt(record, 0); err != nil {
		return errors.Join(err, f.Truncate(0))
	}
	if err := f.Truncate(int64(len(record))); err != nil {
		return errors.Join(err, f.Truncate(0))
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Truncate(0))
	}
	return nil
}

// Release releases the lock. The exclusive holder first truncates the lock file, clearing its
// owner record, and then unlocks; the file is closed after it is unlocked and is never deleted.
//
// Release is idempotent: calls after the first return nil. The error of the first call joins
// every failure; the lock is gone even then, since closing the file drops it.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.h
	if h == nil {
		return nil
	}
	l.h = nil
	live.Lock()
	delete(live.locks, l)
	live.Unlock()

	var errs []error
	if l.mode == Exclusive {
		// Truncate while still holding the lock: once unlocked, a new holder may already be
		// writing its own record.
		if err := h.file().Truncate(0); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.unlock(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Path returns the path of the lock file.
func (l *Lock) Path() string { return l.path }

// Mode returns the mode the lock is held in.
func (l *Lock) Mode() Mode { return l.mode }

// Owner returns the owner record this holder wrote, or the zero Owner for a Shared lock.
func (l *Lock) Owner() Owner { return l.owner.clone() }

// InProcess reports whether the lock excludes only the other Acquire calls of this process:
// the lock file could not be locked, and [Options.AllowInProcess] accepted that.
func (l *Lock) InProcess() bool { return l.inProcess }
