package workspace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/litedir/litedir/lock"
)

// The temporary files of Backup and VacuumInto. A copy into dst, whose file
// name is base, reserves a random tag: it first takes the exclusive lock
// ".<base>.lock-<tag>.lock" (lock.Acquire adds the ".lock"), then creates
// the temporary database ".<base>.tmp-<tag>" with O_EXCL, and SQLite may add
// that file's -journal (or -wal and -shm). Removal goes the other way: the
// temporary files first, then the lock file. So every temporary file exists
// only while its lock file does, and a lock file that can be locked belongs
// to a copy that is over (the operating system releases the lock of a killed
// process): its files are stale.
//
// The temporary name keeps the ".<base>.tmp-" prefix of earlier versions,
// which the CLI's progress display looks for; the lock file's name does not
// start with it, so that it is not mistaken for the copy.
const (
	tempInfix = ".tmp-"
	lockInfix = ".lock-"
	tagLen    = 16 // hex digits
)

// staleLockRE matches the lock names (without ".lock") of temporary copies;
// the submatches are the destination's base name and the tag.
var staleLockRE = regexp.MustCompile(`^\.(.+)\.lock-([0-9a-f]{16})$`)

// tempSuffixes are the files SQLite may keep beside a temporary copy.
var tempSuffixes = []string{"", "-journal", "-wal", "-shm"}

// tempCopy is a reserved temporary file beside a copy's destination.
type tempCopy struct {
	dir      string
	path     string     // the temporary database file
	lockName string     // the lock's name, for lock.Path
	lock     *lock.Lock // held until remove
}

// reserveTemp creates an empty temporary file beside dst for a copy, under
// a lock that marks it as in use. program names the holder in the lock's
// owner record.
func reserveTemp(dst, program string) (*tempCopy, error) {
	dir, base := filepath.Split(dst)
	dir = filepath.Clean(dir)
	var err error
	for range 3 {
		b := make([]byte, tagLen/2)
		rand.Read(b)
		tag := hex.EncodeToString(b)
		t := &tempCopy{
			dir:      dir,
			path:     filepath.Join(dir, "."+base+tempInfix+tag),
			lockName: "." + base + lockInfix + tag,
		}
		// The lock first: a temporary file never exists without it. Where
		// dst's filesystem cannot lock, an in-process lock marks the copy
		// all the same: removeStaleTemps, which must take a real lock
		// before it removes anything, then leaves it alone.
		t.lock, err = lock.Acquire(context.Background(), dir, lock.Options{Name: t.lockName, Program: program, AllowInProcess: true})
		if errors.Is(err, lock.ErrLocked) {
			continue // a tag in use: draw another
		}
		if err != nil {
			return nil, err
		}
		var f *os.File
		f, err = os.OpenFile(t.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if err = f.Close(); err == nil {
				return t, nil
			}
		} else {
			t.path = "" // not created here: never ours to remove
		}
		if rerr := t.remove(); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("reserve a temporary file beside %s: %w", dst, err)
}

// remove removes the temporary files, then releases the lock and removes
// the lock file, and returns every failure joined. A file already gone is
// no failure.
func (t *tempCopy) remove() error {
	var errs []error
	if t.path != "" {
		errs = append(errs, removeTemps(t.path))
	}
	errs = append(errs, t.lock.Release(), removeFile(lock.Path(t.dir, t.lockName)))
	return errors.Join(errs...)
}

// removeTemps removes the temporary copy path and the files SQLite keeps
// beside it.
func removeTemps(path string) error {
	var errs []error
	for _, suffix := range tempSuffixes {
		errs = append(errs, removeFile(path+suffix))
	}
	return errors.Join(errs...)
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeStaleTemps removes the temporary files of copies into dir that are
// over, whose lock it can take: copies that were killed, or whose cleanup
// failed. It is best effort, and logs what it removes and what it cannot.
// Without inter-process locks (on the platform, or on dir's filesystem,
// where lock.Acquire fails with lock.ErrUnsupported) it cannot tell a stale
// copy from another process's running one, and removes nothing.
func removeStaleTemps(dir string, logger *slog.Logger) {
	if !lock.Supported {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // the copy itself will meet and report the problem
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".lock")
		m := staleLockRE.FindStringSubmatch(name)
		if !ok || m == nil || !e.Type().IsRegular() {
			continue
		}
		l, err := lock.Acquire(context.Background(), dir, lock.Options{Name: name})
		if err != nil {
			continue // in use by a running copy, or not ours to judge
		}
		t := &tempCopy{dir: dir, path: filepath.Join(dir, "."+m[1]+tempInfix+m[2]), lockName: name, lock: l}
		if err := t.remove(); err != nil {
			logger.Warn("workspace: removing the temporary files of an interrupted copy", "path", t.path, "err", err)
			continue
		}
		logger.Info("workspace: removed the temporary files of an interrupted copy", "path", t.path)
	}
}
