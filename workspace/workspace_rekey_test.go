package workspace_test

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestRekey encrypts a plaintext workspace, changes its key, and decrypts
// it: after each step only the new key opens it, every row is there, and no
// file holds plaintext while it is encrypted.
func TestRekey(t *testing.T) {
	dir := testdir.New(t)
	ctx := testdir.Context(t)
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1)})
	writeMarkers(t, ws, 50)
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	k1, k2 := workspace.KeyBytes(newKey()), workspace.KeyBytes(newKey())
	for _, step := range []struct {
		name     string
		old, new workspace.KeySource
	}{
		{"encrypt", nil, k1},
		{"rotate", k1, k2},
		{"decrypt", k2, nil},
	} {
		t.Run(step.name, func(t *testing.T) {
			if err := workspace.Rekey(ctx, dir, &workspace.Options{Key: step.old}, step.new); err != nil {
				t.Fatal(err)
			}
			if step.new != nil {
				noPlaintext(t, dir)
			}
			if ro, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Key: step.old}); err == nil {
				ro.Close()
				t.Error("the old key still opens the workspace")
			}
			ws := mustOpen(t, dir, &workspace.Options{Key: step.new})
			if got := count(t, ws, "SELECT count(*) FROM notes WHERE body LIKE ? || '%'", marker); got != 50 {
				t.Errorf("notes: got %d, want 50", got)
			}
			if r, err := ws.Check(ctx, true); err != nil || !r.OK() {
				t.Errorf("Check: got %v, %v", r, err)
			}
			if err := ws.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if names := testdir.Names(t, dir); slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, ".tmp-") }) {
		t.Errorf("temporary files left: %v", names)
	}
}

// TestRekeyRefused checks what Rekey refuses, changing nothing: a wrong
// present key, a workspace open in this process, no keys at all.
func TestRekeyRefused(t *testing.T) {
	dir := testdir.New(t)
	ctx := testdir.Context(t)
	key := workspace.KeyBytes(newKey())
	ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1), Key: key})
	writeMarkers(t, ws, 5)

	if err := workspace.Rekey(ctx, dir, &workspace.Options{Key: key}, nil); !errors.Is(err, lock.ErrLocked) {
		t.Errorf("Rekey while open: got %v, want lock.ErrLocked", err)
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	before := testdir.Snapshot(t, dir, dbFiles...)
	for _, tt := range []struct {
		name     string
		old, new workspace.KeySource
		want     error
	}{
		{"wrong key", workspace.KeyBytes(newKey()), nil, workspace.ErrWrongKey},
		{"no key", nil, workspace.KeyBytes(newKey()), workspace.ErrEncrypted},
		{"neither key", nil, nil, workspace.ErrInvalidOptions},
		{"invalid new key", key, workspace.KeyBytes([]byte("short")), workspace.ErrInvalidKey},
	} {
		if err := workspace.Rekey(ctx, dir, &workspace.Options{Key: tt.old}, tt.new); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
		testdir.SameFiles(t, before, testdir.Snapshot(t, dir, dbFiles...))
	}
	if err := workspace.Rekey(ctx, testdir.New(t), nil, key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rekey of an empty directory: got %v, want fs.ErrNotExist", err)
	}
}

// rekeySpec is the configuration of TestRekeyKilled's child.
type rekeySpec struct {
	Dir      string
	Old, New []byte // nil: plaintext
	Stage    string // where to stop and wait to be killed
}

// TestRekeyKilled runs Rekey in a child process and kills it (SIGKILL) at
// each of its stages: afterwards the workspace opens with the old key or
// the new one, never neither (the stage says which), every row is there,
// and the next Rekey finishes the job and leaves no temporary file.
func TestRekeyKilled(t *testing.T) {
	var spec rekeySpec
	if testproc.IsChild(t, &spec) {
		rekeyChild(t, spec)
		return
	}
	if runtime := ncruces.Platform(); runtime.GOOS == "wasip1" || runtime.GOOS == "js" {
		t.Skipf("no child processes on %s", runtime.GOOS)
	}
	for _, kind := range []struct {
		name     string
		old, new []byte
	}{
		{"rotate", newKey(), newKey()},
		{"encrypt", nil, newKey()},
		{"decrypt", newKey(), nil},
	} {
		for _, stage := range workspace.RekeyStages {
			t.Run(kind.name+"/"+stage, func(t *testing.T) {
				ctx := testdir.Context(t)
				dir := testdir.New(t)
				src := func(k []byte) workspace.KeySource {
					if k == nil {
						return nil
					}
					return workspace.KeyBytes(k)
				}
				ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1), Key: src(kind.old)})
				writeMarkers(t, ws, 200)
				if err := ws.Close(); err != nil {
					t.Fatal(err)
				}

				c := testproc.Start(t, "rekey", rekeySpec{Dir: dir, Old: kind.old, New: kind.new, Stage: stage})
				c.WaitFor(ctx, "at "+stage)
				c.Kill()
				c.Wait(ctx)

				// The stages up to "unlinked" leave the old database,
				// "replaced" the new one.
				want, other := kind.old, kind.new
				if stage == "replaced" {
					want, other = kind.new, kind.old
				}
				if ro, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Key: src(other)}); err == nil {
					ro.Close()
					t.Errorf("killed at %s: the other key opens the workspace", stage)
				}
				ws = mustOpen(t, dir, &workspace.Options{Key: src(want)})
				if got := count(t, ws, "SELECT count(*) FROM notes"); got != 200 {
					t.Errorf("killed at %s: %d notes, want 200", stage, got)
				}
				if r, err := ws.Check(ctx, true); err != nil || !r.OK() {
					t.Errorf("killed at %s: Check: got %v, %v", stage, r, err)
				}
				if err := ws.Close(); err != nil {
					t.Fatal(err)
				}
				// A killed decrypt leaves its plaintext copy for the next
				// copy to remove; nothing else may hold plaintext.
				if want != nil {
					for _, name := range testdir.Containing(t, dir, []byte(marker)) {
						if kind.new != nil || !strings.Contains(name, ".tmp-") {
							t.Errorf("killed at %s: plaintext in %s", stage, name)
						}
					}
				}

				// The next Rekey, from wherever the kill left it, finishes.
				if stage != "replaced" {
					if err := workspace.Rekey(ctx, dir, &workspace.Options{Key: src(kind.old)}, src(kind.new)); err != nil {
						t.Fatal(err)
					}
				}
				ws = mustOpen(t, dir, &workspace.Options{Key: src(kind.new)})
				if got := count(t, ws, "SELECT count(*) FROM notes"); got != 200 {
					t.Errorf("after the next Rekey: %d notes, want 200", got)
				}
				for _, name := range testdir.Names(t, dir) {
					if strings.Contains(name, ".tmp-") || strings.Contains(name, ".lock-") {
						t.Errorf("left behind: %s", name)
					}
				}
			})
		}
	}
}

// rekeyChild runs Rekey and stops at spec.Stage, says so, and waits to be
// killed.
func rekeyChild(t *testing.T, spec rekeySpec) {
	p := testproc.NewParent()
	src := func(k []byte) workspace.KeySource {
		if k == nil {
			return nil
		}
		return workspace.KeyBytes(k)
	}
	workspace.SetTestHookRekey(t, func(stage string) {
		if stage != spec.Stage {
			return
		}
		p.Say("at %s", stage)
		for {
			if _, ok := p.Next(); !ok {
				return // the test ended without killing the child
			}
		}
	})
	if err := workspace.Rekey(context.Background(), spec.Dir, &workspace.Options{Key: src(spec.Old)}, src(spec.New)); err != nil {
		p.Fail(t, "Rekey: %v", err)
	}
}
