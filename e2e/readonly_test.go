package e2e_test

import (
	"errors"
	"fmt"
	"github.com/litedir/litedir/internal/testdir"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestReadOnlyWhileOwned checks that OpenReadOnly works beside a live owner
// in another process: it reads what the owner committed (including commits
// made after it opened), reports the owner, takes a backup, and refuses to
// write without disturbing the owner.
func TestReadOnlyWhileOwned(t *testing.T) {
	if isOwner(t) {
		return
	}
	ctx := testdir.Context(t)
	dir := t.TempDir()
	const (
		program = "e2e-child/1.0"
		rows    = 50
	)
	meta := map[string]string{"addr": "127.0.0.1:7071"}
	c := startOwner(t, ctx, ownerConfig{Dir: dir, Program: program, Meta: meta, Rows: rows})

	ro := mustOpenReadOnly(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if got := count(t, ctx, ro, `SELECT count(*) FROM messages`); got != rows {
		t.Errorf("messages: got %d, want %d", got, rows)
	}

	st, err := ro.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.Owner.PID != c.Pid() || st.Owner.Program != program || !maps.Equal(st.Owner.Meta, meta) {
		t.Errorf("Status.Owner: got %v %v, want pid %d (%s) %v", st.Owner, st.Owner.Meta, c.Pid(), program, meta)
	}
	if !st.ReadOnly || st.Locked {
		t.Errorf("Status: got ReadOnly %v, Locked %v; want true, false", st.ReadOnly, st.Locked)
	}
	if len(st.Schema.Pending) != 0 || st.Schema.Current != st.Schema.Latest {
		t.Errorf("Status.Schema: got %+v, want the owner's migrations all applied", st.Schema)
	}

	backupDir := t.TempDir()
	if err := ro.Backup(ctx, filepath.Join(backupDir, "copy.db")); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	bk := mustOpenReadOnly(t, ctx, backupDir, &workspace.Options{Name: "copy"})
	if got := count(t, ctx, bk, `SELECT count(*) FROM messages`); got != rows {
		t.Errorf("messages in the backup: got %d, want %d", got, rows)
	}
	mustCheck(t, ctx, bk)

	writes := []struct {
		name  string
		write func() error
	}{
		{"Write", func() error { return addMessage(ctx, ro, 1, "intruder") }},
		{"DB", func() error {
			_, err := ro.DB().ExecContext(ctx, `INSERT INTO sessions (title) VALUES ('intruder')`)
			return err
		}},
		{"ReadDB", func() error {
			_, err := ro.ReadDB().ExecContext(ctx, `DELETE FROM messages`)
			return err
		}},
		{"Checkpoint", func() error {
			_, err := ro.Checkpoint(ctx, workspace.CheckpointTruncate)
			return err
		}},
	}
	for _, tt := range writes {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); !errors.Is(err, ncruces.ErrReadOnly) {
				t.Errorf("got %v, want an error matching ncruces.ErrReadOnly", err)
			}
		})
	}

	// Nothing got in; the owner agrees, and what it commits next is visible
	// through the read-only handle that is already open.
	c.Send("check")
	c.WaitFor(ctx, fmt.Sprintf("checked %d", rows))
	c.Send("write 5")
	c.WaitFor(ctx, fmt.Sprintf("wrote %d", rows+5))
	if got := count(t, ctx, ro, `SELECT count(*) FROM messages`); got != rows+5 {
		t.Errorf("messages after the owner wrote 5 more: got %d, want %d", got, rows+5)
	}
	if got := count(t, ctx, ro, `SELECT count(*) FROM sessions WHERE title = 'intruder'`); got != 0 {
		t.Errorf("intruder sessions: got %d, want 0", got)
	}
	c.Finish(ctx)
}

// TestReadCommandsKeepWAL checks "read-only commands change no byte" where a
// checkpoint would show: the owner wrote with ExternalCheckpoints, so its
// commits are frames in the WAL and not yet in the database file, and was
// then killed, so no other connection is open. A reader that opened the
// database read-write, or checkpointed when its last connection closed,
// would move the frames into the database file and truncate or reset the
// WAL. Every read command of the CLI and every read of OpenReadOnly runs,
// reads the rows that live only in the WAL, and leaves the lock file, the
// database and the WAL as they were (the -shm file is shared memory that
// readers write their read marks into, not content).
func TestReadCommandsKeepWAL(t *testing.T) {
	if isOwner(t) {
		return
	}
	ctx := testdir.Context(t)
	dir := t.TempDir()
	const rows = 40
	c := startOwner(t, ctx, ownerConfig{Dir: dir, Program: "e2e-child/1.0", Rows: rows, ExternalCheckpoints: true})
	killOwner(t, c)

	files := []string{lock.DefaultName + ".lock", lock.DefaultName + ".db", lock.DefaultName + ".db-wal"}
	before := testdir.Snapshot(t, dir, files...)
	if len(before[files[2]]) == 0 {
		t.Fatalf("WAL after the owner was killed: got %d bytes, want the frames of its %d messages", len(before[files[2]]), rows)
	}
	out := t.TempDir()

	// The CLI's read commands, each in a process of its own, so that its
	// close is the last one.
	want := fmt.Sprintf(`{"columns":["n"],"rows":[[%d]],"changes":0}`, rows)
	if got := strings.TrimSpace(mustLitedir(t, ctx, "sql", "-json", dir, "SELECT count(*) AS n FROM messages")); got != want {
		t.Errorf("litedir sql: got %s, want %s", got, want)
	}
	for _, args := range [][]string{
		{"status", dir},
		{"status", "-json", dir},
		{"check", dir},
		{"migrate", "-status", "-builtin", dir},
		{"backup", dir, filepath.Join(out, "cli-backup.db")},
		{"vacuum", "-into", filepath.Join(out, "cli-vacuum.db"), dir},
	} {
		mustLitedir(t, ctx, args...)
	}

	// The library's reads, closed before the files are compared.
	ro, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	if got := count(t, ctx, ro, `SELECT count(*) FROM messages`); got != rows {
		t.Errorf("messages: got %d, want %d", got, rows)
	}
	if _, err := ro.Status(ctx); err != nil {
		t.Errorf("Status: %v", err)
	}
	mustCheck(t, ctx, ro)
	if err := ro.Backup(ctx, filepath.Join(out, "lib-backup.db")); err != nil {
		t.Errorf("Backup: %v", err)
	}
	if err := ro.VacuumInto(ctx, filepath.Join(out, "lib-vacuum.db")); err != nil {
		t.Errorf("VacuumInto: %v", err)
	}
	if err := ro.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	testdir.SameFiles(t, before, testdir.Snapshot(t, dir, files...))

	// The copies hold what was only in the WAL.
	for _, name := range []string{"cli-backup", "cli-vacuum", "lib-backup", "lib-vacuum"} {
		cp := mustOpenReadOnly(t, ctx, out, &workspace.Options{Name: name})
		if got := count(t, ctx, cp, `SELECT count(*) FROM messages`); got != rows {
			t.Errorf("messages in %s.db: got %d, want %d", name, got, rows)
		}
	}
}
