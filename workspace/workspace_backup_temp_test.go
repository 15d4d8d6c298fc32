package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/workspace"
)

// copyFuncs are the two operations that write a copy through a temporary
// file.
var copyFuncs = map[string]func(*workspace.Workspace, context.Context, string) error{
	"Backup":     (*workspace.Workspace).Backup,
	"VacuumInto": (*workspace.Workspace).VacuumInto,
}

// TestCopyFailureRemovesTemps checks that a Backup or VacuumInto that fails
// after its temporary file was filled removes it, the journal beside it and
// its lock file, and leaves the other files of the directory as they were.
func TestCopyFailureRemovesTemps(t *testing.T) {
	ws := mustOpen(t, testdir.New(t), &workspace.Options{Migrations: schema(1)})
	mustExec(t, ws, "INSERT INTO notes(body) VALUES ('x')")
	for name, copyTo := range copyFuncs {
		t.Run(name, func(t *testing.T) {
			for _, failure := range []string{"error", "destination appears"} {
				dstDir := testdir.New(t)
				if err := os.WriteFile(filepath.Join(dstDir, "unrelated"), []byte("keep"), 0o600); err != nil {
					t.Fatal(err)
				}
				dst := filepath.Join(dstDir, "copy.db")
				before := testdir.Snapshot(t, dstDir)
				injected := errors.New("injected failure")
				workspace.SetTestHookCopied(t, func(tmp string) error {
					if failure == "destination appears" {
						return os.WriteFile(dst, []byte("theirs"), 0o600)
					}
					// What SQLite leaves beside a copy it is writing.
					if err := os.WriteFile(tmp+"-journal", []byte("journal"), 0o600); err != nil {
						return err
					}
					return injected
				})
				err := copyTo(ws, testdir.Context(t), dst)
				switch failure {
				case "error":
					if !errors.Is(err, injected) {
						t.Errorf("%s = %v, want the injected failure", name, err)
					}
				default:
					if !errors.Is(err, workspace.ErrExists) {
						t.Errorf("%s = %v, want ErrExists", name, err)
					}
					before["copy.db"] = []byte("theirs")
				}
				testdir.SameFiles(t, before, testdir.Snapshot(t, dstDir))
			}
		})
	}
}

// TestCopyKilledLeavesTempsForNextCopy kills a child process in the middle
// of a Backup or VacuumInto, and checks that the next copy into the same
// directory removes what the child left, and nothing else: not a copy that
// is still running (its lock is held), not files of other names, not the
// temporary files of older versions.
func TestCopyKilledLeavesTempsForNextCopy(t *testing.T) {
	var spec copySpec
	if testproc.IsChild(t, &spec) {
		copyKilledChild(t, spec)
		return
	}
	switch {
	case runtime.GOOS == "wasip1" || runtime.GOOS == "js":
		t.Skipf("no child processes on %s", runtime.GOOS)
	case !lock.Supported:
		t.Skip("no inter-process locks: stale copies cannot be told from running ones")
	}
	for name, copyTo := range copyFuncs {
		t.Run(name, func(t *testing.T) {
			dir := testdir.New(t)
			ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
			mustExec(t, ws, "INSERT INTO notes(body) VALUES (?)", strings.Repeat("x", 100000))
			if err := ws.Close(); err != nil {
				t.Fatal(err)
			}
			dstDir := testdir.New(t)

			// The child copies into dstDir and is killed once the copy is
			// written, before it is verified and placed.
			c := testproc.Start(t, "copier", copySpec{Op: name, Dir: dir, Dst: filepath.Join(dstDir, "child.db")})
			tmp := strings.TrimPrefix(c.WaitForPrefix(testdir.Context(t), "copied "), "copied ")
			c.Kill()
			c.Wait(testdir.Context(t))
			left := testdir.Snapshot(t, dstDir)
			if _, ok := left[filepath.Base(tmp)]; !ok || len(left) < 2 {
				t.Fatalf("the killed copy left %v, want its temporary file %s and lock file", names(left), filepath.Base(tmp))
			}

			// Files the next copy must leave alone.
			keep := map[string][]byte{
				".old.db.tmp-1234567":                   []byte("an older version's, or someone else's"),
				"x.lock-0123456789abcdef.lock":          []byte("no leading dot"),
				".y.lock-0123456789abcdef.lock.bak":     []byte("another suffix"),
				".live.db.tmp-0123456789abcdef":         []byte("a copy still being written"),
				".live.db.tmp-0123456789abcdef-journal": []byte("its journal"),
			}
			for name, b := range keep {
				if err := os.WriteFile(filepath.Join(dstDir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			live, err := lock.Acquire(testdir.Context(t), dstDir, lock.Options{Name: ".live.db.lock-0123456789abcdef"})
			if err != nil {
				t.Fatal(err)
			}
			defer live.Release()
			before := testdir.Snapshot(t, dstDir)

			ws = mustOpen(t, dir, nil)
			dst := filepath.Join(dstDir, "next.db")
			if err := copyTo(ws, testdir.Context(t), dst); err != nil {
				t.Fatal(err)
			}
			after := testdir.Snapshot(t, dstDir)
			for name := range left {
				if _, ok := after[name]; ok {
					t.Errorf("%s, left by the killed copy, is still there", name)
				}
				delete(before, name)
			}
			before["next.db"] = after["next.db"]
			testdir.SameFiles(t, before, after)
		})
	}
}

// copySpec is the configuration of the child of TestCopyKilledLeavesTempsForNextCopy: the
// operation (a key of copyFuncs), the workspace and the destination.
type copySpec struct{ Op, Dir, Dst string }

// copyKilledChild is the child of TestCopyKilledLeavesTempsForNextCopy. It
// prints "copied <temporary file>" once the copy is written and then waits
// to be killed.
func copyKilledChild(t *testing.T, spec copySpec) {
	op, dir, dst := spec.Op, spec.Dir, spec.Dst
	ws, err := workspace.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	workspace.SetTestHookCopied(t, func(tmp string) error {
		fmt.Printf("copied %s\n", tmp)
		io.Copy(io.Discard, os.Stdin) // until killed
		return errors.New("the parent closed stdin instead of killing the child")
	})
	t.Fatal(copyFuncs[op](ws, context.Background(), dst))
}

func names(files map[string][]byte) []string {
	var list []string
	for name := range files {
		list = append(list, name)
	}
	return list
}
