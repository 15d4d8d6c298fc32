package workspace_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// callLog records the calls of internal/fsync that concern one directory.
type callLog struct {
	dir  string
	fail fsync.Op // a call to fail with EIO, or ""

	mu    sync.Mutex
	calls []fsync.Call
}

// mustLogCalls records the fsync calls in dir until the test ends.
func mustLogCalls(t *testing.T, dir string) *callLog {
	t.Helper()
	l := &callLog{dir: dir}
	t.Cleanup(fsync.SetHook(l.hook))
	return l
}

func (l *callLog) hook(c fsync.Call) error {
	if c.Path != l.dir && filepath.Dir(c.Path) != l.dir {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
	if c.Op == l.fail {
		return &fs.PathError{Op: string(c.Op), Path: c.Path, Err: syscall.EIO}
	}
	return nil
}

func (l *callLog) take() []fsync.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// TestCopySyncsBeforePlacing checks the order in which Backup and
// VacuumInto make a copy durable: the finished temporary file is synced,
// then linked (or, replacing, renamed) to its name, then the directory is
// synced; and that a failed sync fails the copy and places nothing. The
// calls are those of internal/fsync, whose system calls .ci/strace checks.
func TestCopySyncsBeforePlacing(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	for i := range 50 {
		mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", i)
	}
	dstDir, err := filepath.EvalSymlinks(testdir.New(t))
	if err != nil {
		t.Fatal(err)
	}
	log := mustLogCalls(t, dstDir)
	ctx := testdir.Context(t)
	copies := []struct {
		name  string
		place fsync.Op
		run   func(dst string) error
	}{
		{"backup", fsync.OpLink, func(dst string) error { return ws.Backup(ctx, dst) }},
		{"backup replace", fsync.OpRename, func(dst string) error {
			return ws.BackupWith(ctx, dst, &workspace.CopyOptions{Replace: true})
		}},
		{"vacuum into", fsync.OpLink, func(dst string) error { return ws.VacuumInto(ctx, dst) }},
	}
	for _, c := range copies {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(dstDir, strings.ReplaceAll(c.name, " ", "-")+".db")
			if c.place == fsync.OpRename {
				// Replace: something to replace.
				if err := os.WriteFile(dst, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			log.take()
			if err := c.run(dst); err != nil {
				t.Fatal(err)
			}
			calls := log.take()
			place := slices.IndexFunc(calls, func(x fsync.Call) bool { return x.Op == c.place && x.To == dst })
			if place < 0 {
				t.Fatalf("calls %v: no %s of the copy to %s", calls, c.place, dst)
			}
			tmp := calls[place].Path
			if !strings.HasPrefix(filepath.Base(tmp), "."+filepath.Base(dst)+".tmp-") {
				t.Errorf("%s from %s: want the copy's temporary file", c.place, tmp)
			}
			synced := slices.IndexFunc(calls, func(x fsync.Call) bool { return x.Op == fsync.OpFile && x.Path == tmp })
			if synced < 0 || synced > place {
				t.Errorf("calls %v: the copy %s is not synced before it is placed", calls, tmp)
			}
			dirSynced := slices.IndexFunc(calls[place+1:], func(x fsync.Call) bool { return x.Op == fsync.OpDir && x.Path == dstDir })
			if dirSynced < 0 {
				t.Errorf("calls %v: the directory %s is not synced after the copy is placed", calls, dstDir)
			}
			if got := mustNotes(t, dst); !strings.HasSuffix(got, ",50:49") {
				t.Errorf("notes in the copy: got %q, want 50", got)
			}
		})
	}

	// A copy whose sync fails is not placed, and leaves nothing behind.
	for _, op := range []fsync.Op{fsync.OpFile, fsync.OpDir} {
		t.Run("failing "+string(op)+" sync", func(t *testing.T) {
			log.mu.Lock()
			log.fail = op
			log.mu.Unlock()
			defer func() {
				log.mu.Lock()
				log.fail = ""
				log.mu.Unlock()
			}()
			dst := filepath.Join(dstDir, "failing-"+string(op)+".db")
			err := ws.Backup(ctx, dst)
			// The copy is made through the litedir VFS, which syncs the
			// directory of the file it creates: a failing directory sync
			// may fail the copy there, where SQLite reports a disk I/O
			// error, before Backup syncs the directory itself.
			if !errors.Is(err, syscall.EIO) && !(op == fsync.OpDir && errors.Is(err, ncruces.ErrIO)) {
				t.Errorf("Backup with a failing %s sync: got %v, want EIO", op, err)
			}
			if op == fsync.OpFile {
				if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Backup with a failing file sync placed %s: %v", dst, err)
				}
			}
			for _, name := range testdir.Names(t, dstDir) {
				if strings.Contains(name, ".tmp-") || strings.Contains(name, ".lock-") {
					t.Errorf("temporary file left: %s", name)
				}
			}
		})
	}
}

// TestBackupRefusesCorruptCopy checks that a copy is verified before it is
// placed: a copy damaged between the copy and its check (here by the test's
// hook, as a bad disk or a bug in the copy could) fails the Backup with the
// check's verdict, and nothing is placed at the destination.
func TestBackupRefusesCorruptCopy(t *testing.T) {
	dir := testdir.New(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	for range 300 {
		mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", strings.Repeat("note ", 20))
	}
	const pageSize = 4096
	damaged := 0
	workspace.SetTestHookCopied(t, func(tmp string) error {
		// Every b-tree page but the first (the schema) gets an invalid
		// page type: quick_check reads each one.
		f, err := os.OpenFile(tmp, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		for off := int64(pageSize); off < fi.Size(); off += pageSize {
			if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff}, off); err != nil {
				return err
			}
			damaged++
		}
		return nil
	})
	dstDir := testdir.New(t)
	dst := filepath.Join(dstDir, "corrupt.db")
	err := ws.Backup(testdir.Context(t), dst)
	if damaged == 0 {
		t.Fatalf("the copy had no page to damage beyond the first")
	}
	if !errors.Is(err, workspace.ErrCheckFailed) && !errors.Is(err, ncruces.ErrCorrupt) {
		t.Errorf("Backup of a copy damaged before its check: got %v, want ErrCheckFailed or ErrCorrupt", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Backup placed a damaged copy at %s: %v", dst, err)
	}
	if names := testdir.Names(t, dstDir); len(names) != 0 {
		t.Errorf("files left beside the refused copy: %q", names)
	}
}
