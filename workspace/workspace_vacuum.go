package workspace

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/ncruces"
)

// VacuumInto writes a compacted copy of the database to the new file dst
// with SQLite's VACUUM INTO: like [Workspace.Backup], but the copy is rebuilt
// without free pages and with its tables and indexes stored in order, which
// makes it smaller and faster to read. It reads one snapshot through the read
// pool, so writers go on meanwhile, and the same rules as Backup apply: the
// copy is written to a temporary file next to dst, switched to a rollback
// journal, fsynced and checked, and only then moved to dst, which must not
// exist (the error matches ErrExists and fs.ErrExist). On failure nothing is
// left at dst; temporary files are handled as by Backup.
//
// Unlike Backup, VACUUM INTO holds its read transaction until the copy is
// complete, and it is not an error for writers to commit meanwhile: the copy
// is of the snapshot it started with.
func (w *Workspace) VacuumInto(ctx context.Context, dst string) error {
	return w.VacuumIntoWith(ctx, dst, nil)
}

// VacuumIntoWith is [Workspace.VacuumInto] with options: replacing an
// existing destination, reporting progress.
func (w *Workspace) VacuumIntoWith(ctx context.Context, dst string, opts *CopyOptions) (err error) {
	if err := w.check("vacuum into"); err != nil {
		return err
	}
	if dst == "" {
		return fmt.Errorf("workspace: vacuum %s into: %w: empty destination", w.e.dbPath, ErrInvalidOptions)
	}
	dst, err = filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("workspace: vacuum %s into: %w", w.e.dbPath, err)
	}
	key, done, err := w.copyKey(ctx, opts)
	if err != nil {
		return fmt.Errorf("workspace: vacuum %s into %s: %w", w.e.dbPath, dst, err)
	}
	defer done()
	// VACUUM INTO fills an empty file as readily as a missing one.
	return w.writeCopy(ctx, copyTo{dst: dst, op: "vacuum %s into %s", opts: opts, key: key, fill: func(tmp string) error {
		return vacuumInto(ctx, w.e.readDB(), tmp, w.e.config.profile, key)
	}})
}

// vacuumInto runs VACUUM INTO path on a connection of db, encrypting the
// copy with key unless it is nil.
func vacuumInto(ctx context.Context, db *sql.DB, path string, p ncruces.Profile, key *ncruces.Key) error {
	err := fillCopy(ctx, db, path, p, key, func(c *sqlite3.Conn, uri string) error {
		old := c.SetInterrupt(ctx)
		defer c.SetInterrupt(old)
		// PRAGMA query_only, set on every read connection, refuses VACUUM
		// INTO although it writes only the new file. It is lifted for
		// this one statement on a connection no one else can use
		// meanwhile, and then put back as it was: on a single-connection
		// profile the read pool is the writer's connection, which must
		// stay writable. A connection it cannot be restored on is
		// discarded.
		restore, err := queryOnly(c)
		if err != nil {
			return err
		}
		if err := c.Exec("PRAGMA query_only=0"); err != nil {
			return err
		}
		// VACUUM INTO takes a file name, or a URI when it starts with
		// "file:".
		stmt, _, err := c.Prepare("VACUUM INTO ?")
		if err == nil {
			err = stmt.BindText(1, uri)
			if err == nil {
				err = stmt.Exec()
			}
			err = errors.Join(err, stmt.Close())
		}
		if rerr := c.Exec(restore); rerr != nil {
			return errors.Join(err, rerr, driver.ErrBadConn)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// queryOnly returns the statement that sets PRAGMA query_only on c back to
// what it is now.
func queryOnly(c *sqlite3.Conn) (restore string, err error) {
	stmt, _, err := c.Prepare("PRAGMA query_only")
	if err != nil {
		return "", err
	}
	on := stmt.Step() && stmt.ColumnBool(0)
	if err := errors.Join(stmt.Err(), stmt.Close()); err != nil {
		return "", err
	}
	if on {
		return "PRAGMA query_only=1", nil
	}
	return "PRAGMA query_only=0", nil
}
