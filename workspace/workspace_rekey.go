package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
)

// testHookRekey, when set by a test, is called at each stage of Rekey (see
// rekeyStages), so that a test can kill the process there.
var testHookRekey func(stage string)

// The stages of Rekey, in order, and what a kill there leaves (see Rekey).
var rekeyStages = []string{
	"locked",       // the old database, as it was
	"checkpointed", // the old database, its WAL copied into it and emptied
	"copied",       // the same, and the new copy in a temporary file
	"verified",     // the same, the copy synced and checked
	"unlinked",     // the old database without its (empty) -wal and -shm
	"replaced",     // the new database, under the new key
}

func rekeyStage(stage string) {
	if testHookRekey != nil {
		testHookRekey(stage)
	}
}

// Rekey re-encrypts the workspace in dir with the key that newKey gives,
// in place: opts.Key gives its present key (nil: the workspace is plaintext,
// and Rekey encrypts it), and a nil newKey decrypts it. The workspace must
// exist and be open nowhere: Rekey takes its lock, exclusively (waiting up
// to opts.LockWait), and fails while another process, or this one, has it
// open. Of opts it uses Name, Program, Meta, LockWait, SkipLock, Pragmas,
// Logger and Key.
//
// It works by a copy and an atomic replace, never by rewriting the database
// in place, so that a crash at any point leaves a database that opens with
// the old key or with the new one, never one that opens with neither:
//
//  1. Under the lock, it opens the database with the old key, and copies
//     its WAL into it and empties it (a TRUNCATE checkpoint); a process
//     that reads the workspace without the lock and holds the WAL makes it
//     fail with ncruces.ErrBusy here, before anything changed.
//  2. SQLite's online backup copies the database, page for page, into a
//     temporary file beside it (".<name>.db.tmp-<16 hex digits>", as
//     Backup's), written through the new key; the copy is synced and
//     checked with quick_check and foreign_key_check.
//  3. The old database is closed, and its -wal (empty) and -shm removed.
//  4. The copy is renamed over the database, and the directory synced.
//
// Killed before step 4, the old database stands, complete (step 1), under
// the old key; the temporary files are removed by the next Rekey, Backup or
// VacuumInto into the directory. Killed after it, the new one stands under
// the new key. Which key opens a workspace after a crash, Open tells:
// the other fails with ErrWrongKey (or ErrEncrypted, ErrNotEncrypted), and
// changes nothing. The copy is in rollback-journal mode; the next Open puts
// it back in WAL.
//
// Copies made before keep what they were: backups their old key, or their
// plaintext, as does a Litestream replica of a plaintext workspace (stop
// Litestream before encrypting: it cannot replicate an encrypted one).
func Rekey(ctx context.Context, dir string, opts *Options, newKey KeySource) (err error) {
	fail := func(err error) error { return fmt.Errorf("rekey workspace %s: %w", dir, err) }
	if opts == nil {
		opts = &Options{}
	}
	c, err := opts.config()
	if err != nil {
		return fail(err)
	}
	if opts.Key == nil && newKey == nil {
		return fail(fmt.Errorf("%w: neither Options.Key nor a new key: nothing to do", ErrInvalidOptions))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	id, err := statDir(dir)
	if err != nil {
		return fail(err)
	}
	id.name = c.name
	if registry.holds(id) {
		return fail(fmt.Errorf("%w: the workspace is open in this process; close it first", lock.ErrLocked))
	}
	dbPath := DatabasePath(id.dir, c.name)
	if _, err := os.Stat(dbPath); err != nil {
		return fail(err)
	}
	if c.key, err = openKey(ctx, opts.Key); err != nil {
		return fail(err)
	}
	defer c.key.Close()
	key, err := openKey(ctx, newKey)
	if err != nil {
		return fail(fmt.Errorf("new %w", err))
	}
	defer key.Close()

	if !c.skipLock {
		l, err := lock.Acquire(ctx, id.dir, lock.Options{
			Name:    c.name,
			Wait:    c.lockWait,
			Program: c.program,
			Meta:    c.meta,
			// As Open takes it (see entry.acquire).
			AllowInProcess: c.inProcessLock || !lock.Supported,
		})
		if err != nil {
			return fail(err)
		}
		defer func() {
			if rerr := l.Release(); rerr != nil {
				err = errors.Join(err, fail(rerr))
			}
		}()
	}
	rekeyStage("locked")

	db, err := ncruces.Open(ctx, ncruces.Config{
		Path:     dbPath,
		NoCreate: true,
		Pragmas:  c.pragmas,
		MaxConns: 1,
		Profile:  &c.profile,
		Logger:   c.logger,
		Key:      c.key,
	})
	if err != nil {
		return fail(err)
	}
	closed := false
	defer func() {
		if !closed {
			err = errors.Join(err, db.Close())
		}
	}()
	mode, err := journalMode(ctx, db)
	if err != nil {
		return fail(err)
	}
	if mode == "wal" {
		// Everything into the database file, so that the old database
		// stands alone until the copy replaces it.
		var busy, frames, copied int64
		if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
			return fail(fmt.Errorf("checkpoint: %w", err))
		}
		if busy != 0 || frames != 0 {
			return fail(fmt.Errorf("checkpoint: %w: another process reads the workspace and holds its WAL (%d frames)", ncruces.ErrBusy, frames))
		}
	}
	rekeyStage("checkpointed")

	e := newEntry(id, &c)
	w := &Workspace{e: e}
	err = w.writeCopy(ctx, copyTo{
		dst:  dbPath,
		op:   "re-encrypt %s into %s",
		opts: &CopyOptions{Replace: true},
		key:  key,
		fill: func(tmp string) error {
			err := copyDB(ctx, db, tmp, c.profile, key)
			rekeyStage("copied")
			return err
		},
		place: func() error {
			rekeyStage("verified")
			closed = true
			if err := db.Close(); err != nil {
				return err
			}
			if err := removeOldWAL(dbPath); err != nil {
				return err
			}
			rekeyStage("unlinked")
			return nil
		},
	})
	if err != nil {
		return err
	}
	rekeyStage("replaced")
	return nil
}

// removeOldWAL removes the -wal and -shm of the database at dbPath, closed
// after a TRUNCATE checkpoint, before a copy replaces it: the -wal must be
// empty (a non-empty one holds frames the copy may lack, and Rekey stops),
// and neither belongs to the new database.
func removeOldWAL(dbPath string) error {
	wal := WALPath(dbPath)
	if fi, err := os.Lstat(wal); err == nil && fi.Size() > 0 {
		return fmt.Errorf("%w: %s holds %d bytes after the checkpoint: another process writes the workspace", ncruces.ErrBusy, wal, fi.Size())
	}
	return errors.Join(removeFile(wal), removeFile(dbPath+"-shm"))
}
