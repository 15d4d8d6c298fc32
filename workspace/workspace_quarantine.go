package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/litedir/litedir/internal/committer"
	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/testhook"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
)

// CorruptPolicy says what Open does when SQLite reports the database as
// not a database or corrupt (see [Options.OnCorrupt]).
type CorruptPolicy int

const (
	// FailOnCorrupt makes Open fail with the error, which matches
	// ncruces.ErrNotADatabase or ncruces.ErrCorrupt, and leave every file as
	// it is.
	FailOnCorrupt CorruptPolicy = iota

	// RecoverOnCorrupt makes Open quarantine the damaged files and recover
	// them into a fresh database in their place (see Options.OnCorrupt).
	RecoverOnCorrupt
)

// String returns "fail" or "recover".
func (p CorruptPolicy) String() string {
	switch p {
	case FailOnCorrupt:
		return "fail"
	case RecoverOnCorrupt:
		return "recover"
	}
	return fmt.Sprintf("CorruptPolicy(%d)", int(p))
}

// The quarantine of a workspace <name> in dir. A quarantine-on-open runs
// under the workspace's exclusive lock, in these steps, each made durable
// (files and directories fsynced) before the next:
//
//  1. recover the damaged files, read-only, into a new workspace in
//     dir/quarantine/<T>.partial/recovered/, and write the report,
//     recovery.json, beside it (<T> is the UTC time, plus "-<name>" for a
//     workspace not named "litedir");
//  2. rename dir/quarantine/<T>.partial to dir/quarantine/<T>: the commit
//     point;
//  3. move the damaged <name>.db-wal, -journal, -shm and then <name>.db
//     into dir/quarantine/<T>/;
//  4. move recovered/<name>.db into dir as <name>.db, and remove what is
//     left of recovered/.
//
// A crash leaves one of these states, and the next Open of the workspace
// (whatever its OnCorrupt) finishes or rolls back, under the lock, before it
// opens the database: a <T>.partial directory is removed (before step 2 the
// damaged files are still all in place, and the next Open that finds them
// damaged starts over); a <T> that still holds recovered/<name>.db has steps
// 3 and 4 done again for what they have not moved yet. So the workspace is
// always either the damaged files or the recovered database, never neither,
// and the damaged files are kept until someone removes the quarantine.
const (
	quarantineDir        = "quarantine"
	quarantineTimeFormat = "20060102T150405.000000000Z"
	quarantinePartial    = ".partial"
	quarantineRecovered  = "recovered"
	quarantineRecord     = "recovery.json"
)

// Recovery is the record of a quarantine-on-open, kept as recovery.json in
// its quarantine directory. [Workspace.Status] reports the latest.
type Recovery struct {
	Quarantine string         `json:"quarantine"` // the directory that holds the damaged files
	At         time.Time      `json:"at"`         // when the damage was found (UTC)
	Name       string         `json:"name"`       // the workspace's name
	Cause      string         `json:"cause"`      // what SQLite reported
	Report     *RecoverReport `json:"report"`     // what the recovery got back
}

// openCommitter opens the database under its committer, on the entry's
// profile or the safer one the filesystem allows (see onProfile). With
// Options.OnCorrupt set to RecoverOnCorrupt it also reads the schema, and a
// database that SQLite finds not a database or corrupt there is quarantined
// and recovered (see quarantine), and opened again. Before anything, under
// the exclusive lock, it finishes or rolls back a quarantine a crash
// interrupted.
func (e *entry) openCommitter(ctx context.Context) (*committer.Committer, error) {
	c := &e.config
	exclusive := e.lock != nil && c.sharing == lock.Exclusive
	if exclusive {
		if err := finishQuarantines(e.id.dir, c.name, c.logger); err != nil {
			return nil, err
		}
	}
	cm, err := e.openCommitterOnce(ctx)
	if c.onCorrupt != RecoverOnCorrupt {
		return cm, err
	}
	if err == nil {
		// The header is read by Open; the schema only by a statement.
		var n int
		if err = cm.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			err = errors.Join(err, cm.Close())
		}
	}
	if err == nil || !damaged(err) {
		return cm, err
	}
	if !exclusive {
		return nil, fmt.Errorf("%w (OnCorrupt recovers only under the exclusive lock)", err)
	}
	if err := e.quarantine(ctx, err); err != nil {
		return nil, err
	}
	return e.openCommitterOnce(ctx)
}

// openCommitterOnce opens the committer on the entry's profile, falling back
// to a safer one where the filesystem refuses it.
func (e *entry) openCommitterOnce(ctx context.Context) (cm *committer.Committer, err error) {
	c := &e.config
	err = e.onProfile(func(p *ncruces.Profile) (err error) {
		cm, err = committer.Open(ctx, committer.Config{
			Path:                e.dbPath,
			Pragmas:             c.pragmas,
			Profile:             p,
			Readers:             c.readers,
			Key:                 c.key,
			ExternalCheckpoints: c.externalCheckpoints,
			CloseWait:           c.closeWait,
			Logger:              c.logger,
		})
		return err
	})
	return cm, err
}

// damaged reports whether err says the database file is damaged.
func damaged(err error) bool {
	return errors.Is(err, ncruces.ErrNotADatabase) || errors.Is(err, ncruces.ErrCorrupt)
}

// quarantine moves the damaged database files of e aside, into
// dir/quarantine/<T>/, and puts a database recovered from them in their
// place, in the crash-safe steps above. cause is what SQLite reported. A
// database that SQLite reported corrupt is checked with quick_check first;
// if that finds nothing, cause is returned and nothing moves.
func (e *entry) quarantine(ctx context.Context, cause error) (err error) {
	c := &e.config
	if !errors.Is(cause, ncruces.ErrNotADatabase) && quickCheckOK(ctx, e.dbPath, c) {
		return cause
	}
	fail := func(err error) error {
		return fmt.Errorf("quarantine %s: %w (the database: %w)", e.dbPath, err, cause)
	}
	at := time.Now().UTC()
	root := filepath.Join(e.id.dir, quarantineDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fail(err)
	}
	if err := fsync.Dir(e.id.dir); err != nil {
		return fail(err)
	}
	final := filepath.Join(root, quarantineBase(at, c.name))
	partial := final + quarantinePartial
	if err := os.Mkdir(partial, 0o700); err != nil {
		return fail(err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(partial)
		}
	}()
	in, closeIn, _, err := openDamaged(e.dbPath, "", false, c.key)
	if err != nil {
		return fail(err)
	}
	report, err := recoverInto(ctx, in, filepath.Join(partial, quarantineRecovered), recoverConfig{
		name: c.name, migrations: c.migrations, program: c.program, logger: c.logger, key: c.keySource,
	})
	if err = errors.Join(err, closeIn()); err != nil {
		return fail(err)
	}
	report.Source, report.Destination = filepath.Join(final, c.name+".db"), e.dbPath
	rec := Recovery{Quarantine: final, At: at, Name: c.name, Cause: cause.Error(), Report: report}
	if err := writeRecord(filepath.Join(partial, quarantineRecord), &rec); err != nil {
		return fail(err)
	}
	if err := fsync.Dir(partial); err != nil {
		return fail(err)
	}
	testhook.Step("recovered")
	if err := os.Rename(partial, final); err != nil {
		return fail(err)
	}
	if err := fsync.Dir(root); err != nil {
		return fail(err)
	}
	testhook.Step("committed")
	if err := finishQuarantine(e.id.dir, c.name, final); err != nil {
		return fail(err)
	}
	logRecovery(c.logger, &rec)
	return nil
}

// quarantineBase names the quarantine directory of a workspace name found
// damaged at at.
func quarantineBase(at time.Time, name string) string {
	base := at.Format(quarantineTimeFormat)
	if name != DefaultName {
		base += "-" + name
	}
	return base
}

// parseQuarantine tells whether entry, a name in dir/quarantine, is a
// quarantine of the workspace name, and whether it is partial.
func parseQuarantine(entry, name string) (ok, partial bool) {
	base, partial := strings.CutSuffix(entry, quarantinePartial)
	n := len(quarantineTimeFormat)
	if len(base) < n {
		return false, false
	}
	if _, err := time.Parse(quarantineTimeFormat, base[:n]); err != nil {
		return false, false
	}
	want := ""
	if name != DefaultName {
		want = "-" + name
	}
	return base[n:] == want, partial
}

// finishQuarantines rolls back the partial quarantines of the workspace name
// in dir, and finishes those a crash interrupted after their commit point.
// It runs under the workspace's exclusive lock.
func finishQuarantines(dir, name string, logger *slog.Logger) error {
	root := filepath.Join(dir, quarantineDir)
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	for _, ent := range entries {
		ok, partial := parseQuarantine(ent.Name(), name)
		if !ok || !ent.IsDir() {
			continue
		}
		path := filepath.Join(root, ent.Name())
		if partial {
			// Before the commit point: the damaged files are all in
			// place, and will be quarantined again if they are damaged.
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("quarantine: roll back %s: %w", path, err)
			}
			logger.Warn("workspace: rolled back an interrupted quarantine", "path", path)
			continue
		}
		if _, err := os.Lstat(filepath.Join(path, quarantineRecovered, name+".db")); err == nil {
			logger.Warn("workspace: finishing an interrupted quarantine", "path", path)
		}
		if err := finishQuarantine(dir, name, path); err != nil {
			return fmt.Errorf("quarantine: finish %s: %w", path, err)
		}
	}
	return nil
}

// finishQuarantine does steps 3 and 4 of the committed quarantine q: what
// they have not done yet. With no recovered database left in q, it only
// removes what is left of recovered/.
func finishQuarantine(dir, name, q string) error {
	recovered := filepath.Join(q, quarantineRecovered)
	newDB := filepath.Join(recovered, name+".db")
	if _, err := os.Lstat(newDB); errors.Is(err, fs.ErrNotExist) {
		return cleanRecovered(recovered, q)
	} else if err != nil {
		return err
	}
	dbPath := DatabasePath(dir, name)
	// The database last: while it is in place, its -wal must be with it
	// or already gone to the quarantine, never elsewhere.
	for _, suffix := range []string{"-wal", "-journal", "-shm", ""} {
		from := dbPath + suffix
		if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		to := filepath.Join(q, name+".db"+suffix)
		for i := 1; ; i++ {
			if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
				break
			}
			to = filepath.Join(q, fmt.Sprintf("%s.db%s.%d", name, suffix, i))
		}
		if err := os.Rename(from, to); err != nil {
			return err
		}
		testhook.Step("moved " + name + ".db" + suffix)
	}
	if err := fsync.Dir(q); err != nil {
		return err
	}
	if err := fsync.Dir(dir); err != nil {
		return err
	}
	if err := os.Rename(newDB, dbPath); err != nil {
		return err
	}
	if err := fsync.Dir(dir); err != nil {
		return err
	}
	testhook.Step("installed")
	return cleanRecovered(recovered, q)
}

// cleanRecovered removes what is left of a quarantine's recovered
// workspace once its database is in place: its lock file and SQLite's
// files, which hold nothing (it was closed and checkpointed).
func cleanRecovered(recovered, q string) error {
	entries, err := os.ReadDir(recovered)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ent := range entries {
		if err := os.Remove(filepath.Join(recovered, ent.Name())); err != nil {
			return err
		}
	}
	if err := os.Remove(recovered); err != nil {
		return err
	}
	if err := fsync.Dir(q); err != nil {
		return err
	}
	testhook.Step("done")
	return nil
}

// quickCheckOK reports whether PRAGMA quick_check, on a connection of its
// own, finds the database at path sound.
func quickCheckOK(ctx context.Context, path string, c *config) bool {
	db, err := openAsIs(ctx, path, c, c.key)
	if err != nil {
		return false
	}
	defer db.Close()
	var line string
	return db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&line) == nil && line == "ok"
}

// writeRecord writes rec as JSON to the new file path, synced.
func writeRecord(path string, rec *Recovery) (err error) {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

// lastRecovery returns the record of the latest finished quarantine of the
// workspace name in dir, or nil when there is none (or it cannot be read).
func lastRecovery(dir, name string) *Recovery {
	root := filepath.Join(dir, quarantineDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var names []string
	for _, ent := range entries {
		if ok, partial := parseQuarantine(ent.Name(), name); ok && !partial && ent.IsDir() {
			names = append(names, ent.Name())
		}
	}
	slices.Sort(names) // the UTC time sorts as text
	for i := len(names) - 1; i >= 0; i-- {
		b, err := os.ReadFile(filepath.Join(root, names[i], quarantineRecord))
		if err != nil {
			continue
		}
		var rec Recovery
		if json.Unmarshal(b, &rec) == nil {
			rec.Quarantine = filepath.Join(root, names[i])
			return &rec
		}
	}
	return nil
}

// logRecovery logs what a quarantine-on-open recovered and lost.
func logRecovery(logger *slog.Logger, rec *Recovery) {
	r := rec.Report
	attrs := []any{"quarantine", rec.Quarantine, "cause", rec.Cause, "lost_and_found", r.LostAndFound,
		"pages_damaged", r.PagesDamaged, "lossless", r.Lossless()}
	for _, t := range r.Tables {
		attrs = append(attrs, "table."+t.Name, fmt.Sprintf("%d rows, %d lost", t.Rows, t.Lost))
	}
	logger.Warn("workspace: the database was damaged: its files are quarantined and a recovered database is in their place", attrs...)
	if err := r.Err(); err != nil {
		logger.Warn("workspace: the recovery lost rows", "err", err, "lost_and_found", r.LostAndFoundTable)
	}
}
