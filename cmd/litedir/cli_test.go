package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// mustRun runs the command line args in this process and fails the test
// unless it exits with status want. It returns stdout and stderr.
func mustRun(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if got := run(testdir.Context(t), args, &out, &errOut); got != want {
		t.Fatalf("litedir %s: exit status: got %d, want %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), got, want, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		names   []string
		want    []string
		wantErr error // nil, flag.ErrHelp or errUsage
		shown   bool  // the flag package printed the error already
		message string
	}{
		{name: "one", args: []string{"dir"}, names: []string{"DIR"}, want: []string{"dir"}},
		{name: "flags first", args: []string{"-json", "dir"}, names: []string{"DIR"}, want: []string{"dir"}},
		{name: "two", args: []string{"a", "b"}, names: []string{"DIR", "DST"}, want: []string{"a", "b"}},
		{name: "none wanted", args: nil, names: nil, want: []string{}},
		{name: "help", args: []string{"-h"}, names: []string{"DIR"}, wantErr: flag.ErrHelp},
		{name: "unknown flag", args: []string{"-nope", "dir"}, names: []string{"DIR"}, wantErr: errUsage, shown: true,
			message: "flag provided but not defined: -nope"},
		{name: "missing", args: nil, names: []string{"DIR", "DST"}, wantErr: errUsage, message: "missing DIR DST"},
		{name: "missing second", args: []string{"a"}, names: []string{"DIR", "DST"}, wantErr: errUsage, message: "missing DST"},
		{name: "extra", args: []string{"a", "b"}, names: []string{"DIR"}, wantErr: errUsage,
			message: `unexpected argument "b" (want DIR)`},
		{name: "flag after", args: []string{"a", "-json"}, names: []string{"DIR"}, want: []string{"a"}},
		{name: "flag between", args: []string{"a", "-json", "b"}, names: []string{"DIR", "DST"}, want: []string{"a", "b"}},
		{name: "dash dash", args: []string{"-json", "--", "-a"}, names: []string{"DIR"}, want: []string{"-a"}},
		{name: "dash dash after", args: []string{"a", "--", "-json"}, names: []string{"DIR", "DST"}, want: []string{"a", "-json"}},
		{name: "unknown flag after", args: []string{"a", "-nope"}, names: []string{"DIR"}, wantErr: errUsage, shown: true,
			message: "flag provided but not defined: -nope"},
		{name: "empty", args: []string{""}, names: []string{"DIR"}, wantErr: errUsage, message: "empty DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			flags := newFlagSet("test", "[-json] DIR", "Test tests.", &stderr)
			flags.Bool("json", false, "print JSON")
			got, err := parseArgs(flags, tt.args, tt.names...)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("parseArgs(%q) error: got %v, want %v", tt.args, err, tt.wantErr)
			}
			if err == nil {
				if !slices.Equal(got, tt.want) {
					t.Errorf("parseArgs(%q): got %q, want %q", tt.args, got, tt.want)
				}
				return
			}
			var ue *usageErr
			if errors.As(err, &ue) {
				if ue.shown != tt.shown {
					t.Errorf("shown: got %v, want %v", ue.shown, tt.shown)
				}
				if ue.msg != tt.message {
					t.Errorf("message: got %q, want %q", ue.msg, tt.message)
				}
			}

			// usageExit prints what the flag package did not, and the usage,
			// exactly once.
			code := usageExit(flags, err)
			want := exitUsage
			if tt.wantErr == flag.ErrHelp {
				want = exitOK
			}
			if code != want {
				t.Errorf("usageExit: got %d, want %d", code, want)
			}
			if n := strings.Count(stderr.String(), "Usage: litedir test [-json] DIR"); n != 1 {
				t.Errorf("usage printed %d times, want 1:\n%s", n, stderr.String())
			}
			if tt.message != "" && strings.Count(stderr.String(), tt.message) != 1 {
				t.Errorf("stderr: got %q, want the message %q once", stderr.String(), tt.message)
			}
		})
	}
}

func TestParseCommandArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     []string
		wantCmd  []string
		wantErr  bool
		wantText string
	}{
		{name: "no command", args: []string{"dir"}, want: []string{"dir"}},
		{name: "command", args: []string{"dir", "--", "sh", "-c", "exit 3"}, want: []string{"dir"},
			wantCmd: []string{"sh", "-c", "exit 3"}},
		{name: "flags around", args: []string{"-json", "dir", "-json", "--", "true", "--", "x"}, want: []string{"dir"},
			wantCmd: []string{"true", "--", "x"}},
		{name: "empty command", args: []string{"dir", "--"}, wantErr: true, wantText: "no command after --"},
		{name: "command without dir", args: []string{"--", "true"}, wantErr: true, wantText: "missing DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := newFlagSet("test", "[-json] DIR [-- CMD]", "Test tests.", io.Discard)
			flags.Bool("json", false, "print JSON")
			pos, cmd, err := parseCommandArgs(flags, tt.args, "DIR")
			if tt.wantErr {
				if !errors.Is(err, errUsage) || err.Error() != tt.wantText {
					t.Fatalf("parseCommandArgs(%q): got error %v, want usage error %q", tt.args, err, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCommandArgs(%q): %v", tt.args, err)
			}
			if !slices.Equal(pos, tt.want) || !slices.Equal(cmd, tt.wantCmd) || (cmd == nil) != (tt.wantCmd == nil) {
				t.Errorf("parseCommandArgs(%q): got %q, %q; want %q, %q", tt.args, pos, cmd, tt.want, tt.wantCmd)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"help", flag.ErrHelp, exitOK},
		{"usage", usageError("bad %s", "flag"), exitUsage},
		{"workspace options", fmt.Errorf("open workspace x: %w", workspace.ErrInvalidOptions), exitUsage},
		{"lock options", &fs.PathError{Op: "lock", Path: "x", Err: lock.ErrInvalidOptions}, exitUsage},
		{"locked", fmt.Errorf("open workspace x: %w", &lock.LockedError{Dir: "x", Owner: lock.Owner{PID: 7}}), exitLocked},
		{"check failed", &fs.PathError{Op: "check", Path: "x", Err: workspace.ErrCheckFailed}, exitCheckFailed},
		{"other", errors.New("disk on fire"), exitError},
		{"not found", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v): got %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		want   int
		stderr string
	}{
		{"ok", nil, exitOK, ""},
		{"error", errors.New("boom"), exitError, "litedir x: boom\n"},
		{"interrupted", fmt.Errorf("lock: %w", context.Canceled), exitError, "litedir x: interrupted\n"},
		{"locked", &lock.LockedError{Dir: "/d", Owner: lock.Owner{PID: 7, Program: "p"}}, exitLocked,
			"litedir x: lock: /d is in use by pid 7 (p)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := report(&stderr, "x", tt.err); got != tt.want {
				t.Errorf("report: got %d, want %d", got, tt.want)
			}
			if got := stderr.String(); got != tt.stderr {
				t.Errorf("stderr: got %q, want %q", got, tt.stderr)
			}
		})
	}
}

func TestMetaFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    map[string]string
		wantErr string
	}{
		{name: "none", want: map[string]string{}},
		{name: "pairs", args: []string{"a=1", "b=two words"}, want: map[string]string{"a": "1", "b": "two words"}},
		{name: "empty value", args: []string{"a="}, want: map[string]string{"a": ""}},
		{name: "equals in value", args: []string{"url=x?y=z"}, want: map[string]string{"url": "x?y=z"}},
		{name: "no equals", args: []string{"a"}, wantErr: "want key=value"},
		{name: "empty key", args: []string{"=v"}, wantErr: "empty key"},
		{name: "twice", args: []string{"a=1", "a=2"}, wantErr: `key "a" given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metaFlag{}
			var err error
			for _, a := range tt.args {
				if err = m.Set(a); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Set(%q): got %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set(%q): %v", tt.args, err)
			}
			if !maps.Equal(m, metaFlag(tt.want)) {
				t.Errorf("got %v, want %v", m, tt.want)
			}
		})
	}
}

func FuzzMetaFlag(f *testing.F) {
	for _, s := range []string{"a=1", "=", "a", "k=v=w", "", "ключ=значение", "a\x00=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := metaFlag{}
		if err := m.Set(s); err != nil {
			if len(m) != 0 {
				t.Fatalf("Set(%q) failed with %v but stored %v", s, err, m)
			}
			return
		}
		if len(m) != 1 {
			t.Fatalf("Set(%q): got %d pairs, want 1", s, len(m))
		}
		for k, v := range m {
			if k == "" || k+"="+v != s {
				t.Fatalf("Set(%q): got %q=%q", s, k, v)
			}
		}
		// The same key again is refused.
		if err := m.Set(s); err == nil {
			t.Fatalf("Set(%q) twice: got nil error", s)
		}
	})
}

func TestNameFlag(t *testing.T) {
	tests := []struct {
		arg  string
		want string // "" means refused
	}{
		{"agent", "agent"},
		{"my.app", "my.app"},
		{"", ""},
		{".", ""},
		{"..", ""},
		{"a/b", ""},
		{`a\b`, ""},
		{"a\x00b", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.arg), func(t *testing.T) {
			flags := newFlagSet("test", "DIR", "Test tests.", io.Discard)
			name := nameFlag(flags)
			if *name != lock.DefaultName {
				t.Errorf("default: got %q, want %q", *name, lock.DefaultName)
			}
			err := flags.Parse([]string{"-name", tt.arg})
			switch {
			case tt.want == "" && err == nil:
				t.Errorf("-name %q: got %q, want an error", tt.arg, *name)
			case tt.want != "" && err != nil:
				t.Errorf("-name %q: %v", tt.arg, err)
			case tt.want != "" && *name != tt.want:
				t.Errorf("-name %q: got %q, want %q", tt.arg, *name, tt.want)
			}
		})
	}
}

func TestSchemaLine(t *testing.T) {
	pending := []migrations.Migration{{Version: 2, Source: "00002_b.sql"}, {Version: 3, Source: "00003_c.sql"}}
	tests := []struct {
		name   string
		st     migrations.Status
		source string
		want   string
	}{
		{"applied only", migrations.Status{Current: 2, Latest: 2}, "", "version 2"},
		{"not compared", migrations.Status{Current: 1, Latest: 3, Pending: pending}, "", "version 1"},
		{"up to date", migrations.Status{Current: 2, Latest: 2}, "builtin", "version 2 of 2 (builtin), up to date"},
		{"pending", migrations.Status{Current: 1, Latest: 3, Pending: pending}, "builtin",
			"version 1 of 3 (builtin), pending: 00002_b.sql, 00003_c.sql"},
		{"too new", migrations.Status{Current: 5, Latest: 2}, "/m", "version 5, newer than the newest migration in /m (2)"},
		{"empty", migrations.Status{}, "builtin", "version 0 of 0 (builtin), up to date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schemaLine(tt.st, tt.source); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFields(t *testing.T) {
	var f fields
	f.add("dir", "%s", "/x")
	f.add("journal mode", "%s (litedir wants %s)", "delete", "wal")
	f.add("wal", "%d bytes", 0)
	var b bytes.Buffer
	if err := f.write(&b); err != nil {
		t.Fatal(err)
	}
	want := "dir:          /x\n" +
		"journal mode: delete (litedir wants wal)\n" +
		"wal:          0 bytes\n"
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 problems", 1: "1 problem", 2: "2 problems"} {
		if got := plural(n, "problem"); got != want {
			t.Errorf("plural(%d): got %q, want %q", n, got, want)
		}
	}
}

// TestStatusJSONKeys pins the keys of status -json: scripts parse them, so
// changing one is a breaking change that must be deliberate.
func TestStatusJSONKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ws")
	mustRun(t, exitOK, "migrate", "-builtin", dir)
	stdout, _ := mustRun(t, exitOK, "status", "-json", "-builtin", dir)

	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("status -json: %v\n%s", err, stdout)
	}
	wantKeys := []string{
		"database", "database_size", "dir", "encrypted", "engine", "free_pages", "journal_mode", "last_recovery", "lock_file", "lock_in_process", "lock_state", "owner",
		"page_count", "page_size", "platform", "schema", "wal_size", "want_journal_mode",
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, wantKeys) {
		t.Errorf("keys: got %q, want %q", keys, wantKeys)
	}
	for _, sub := range []struct {
		key  string
		want []string
	}{
		{"schema", []string{"current", "latest", "pending"}},
		{"engine", []string{"cache_dir", "driver_version", "name", "sqlite_version", "wazero_version"}},
		{"platform", []string{"file_locking", "filesystem", "goarch", "goos", "journal_mode", "locking", "locking_exclusive",
			"no_lock", "notes", "shared_memory", "single_connection"}},
	} {
		m, ok := got[sub.key].(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", sub.key, got[sub.key])
			continue
		}
		// cache_note appears only when there is something to say.
		delete(m, "cache_note")
		if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, sub.want) {
			t.Errorf("%s keys: got %q, want %q", sub.key, keys, sub.want)
		}
	}
	if got["owner"] != nil {
		t.Errorf("owner: got %v, want null", got["owner"])
	}
	fsys, _ := got["platform"].(map[string]any)["filesystem"].(map[string]any)
	if keys := slices.Sorted(maps.Keys(fsys)); !slices.Equal(keys, []string{"kind", "local", "mode", "type"}) {
		t.Errorf("platform.filesystem keys: got %q, want kind, local, mode, type", keys)
	}
	if fsys["local"] != true || fsys["mode"] != "auto" {
		t.Errorf("platform.filesystem of a test directory: got %v, want local, mode auto", fsys)
	}
	if s := got["schema"].(map[string]any); s["current"] != 2.0 || s["latest"] != 2.0 {
		t.Errorf("schema: got %v, want current 2, latest 2", s)
	}
}

// TestLockUntilCancelled runs the lock command in this process: it holds the
// lock, with its owner record, until its context ends, then releases it and
// exits 0.
func TestLockUntilCancelled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new") // lock creates it
	ctx, cancel := context.WithCancel(testdir.Context(t))
	defer cancel()
	pr, pw := io.Pipe()
	defer pr.Close()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		defer pw.Close()
		done <- run(ctx, []string{"lock", "-program", "tester", "-meta", "k=v", dir}, pw, &stderr)
	}()

	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no line from litedir lock (stderr %q)", stderr.String())
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lines.Text(), fmt.Sprintf("locked %s (pid %d)", abs, os.Getpid()); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	owner, err := lock.ReadOwner(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if owner.PID != os.Getpid() || owner.Program != "tester" || owner.Meta["k"] != "v" {
		t.Errorf("owner record: got %+v, want pid %d, program tester, meta k=v", owner, os.Getpid())
	}
	// The lock excludes other holders in this process too.
	if _, err := lock.Acquire(ctx, dir, lock.Options{}); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("Acquire while held: got %v, want %v", err, lock.ErrLocked)
	}

	cancel()
	if !lines.Scan() {
		t.Fatalf("no second line from litedir lock (stderr %q)", stderr.String())
	}
	if got, want := lines.Text(), "released "+abs; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if code := <-done; code != exitOK {
		t.Errorf("exit status: got %d, want %d (stderr %q)", code, exitOK, stderr.String())
	}
	l, err := lock.Acquire(context.Background(), dir, lock.Options{})
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyCommandsCreateNothing: the commands that only read or maintain
// a workspace never create one, whatever the directory holds.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	for _, args := range [][]string{
		{"status"}, {"status", "-json"}, {"check"}, {"check", "-full"}, {"checkpoint"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			parent := t.TempDir()
			missing := filepath.Join(parent, "missing")
			_, stderr := mustRun(t, exitError, append(args, missing)...)
			if !strings.Contains(stderr, missing) {
				t.Errorf("stderr: got %q, want it to name %s", stderr, missing)
			}
			empty := filepath.Join(parent, "empty")
			if err := os.Mkdir(empty, 0o700); err != nil {
				t.Fatal(err)
			}
			_, stderr = mustRun(t, exitError, append(args, empty)...)
			if want := filepath.Join(empty, "litedir.db"); !strings.Contains(stderr, want) {
				t.Errorf("stderr: got %q, want it to name %s", stderr, want)
			}
			if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: got %v, want it not to exist", missing, err)
			}
			if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
				t.Errorf("%s: got %d entries (err %v), want none", empty, len(entries), err)
			}
		})
	}
}

func Example_check() {
	dir, err := os.MkdirTemp("", "litedir-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// litedir migrate -builtin DIR; litedir check DIR
	run(ctx, []string{"migrate", "-builtin", dir}, io.Discard, io.Discard)
	code := run(ctx, []string{"check", dir}, os.Stdout, os.Stderr)
	fmt.Println("exit status", code)
	// Output:
	// ok
	// exit status 0
}

func Example_exitStatus() {
	ctx := context.Background()
	fmt.Println(run(ctx, []string{"check", "-h"}, io.Discard, io.Discard))
	fmt.Println(run(ctx, []string{"check"}, io.Discard, io.Discard))
	fmt.Println(run(ctx, []string{"no-such-command"}, io.Discard, io.Discard))
	// Output:
	// 0
	// 2
	// 2
}

// TestVersionVCS checks version -json's revision and modified keys: both
// present for a binary built in a checkout, modified false when it was
// clean, and neither without VCS information.
func TestVersionVCS(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"clean checkout", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}},
			`"revision":"abc123","modified":false`},
		{"modified checkout", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}},
			`"revision":"abc123","modified":true`},
		{"no checkout", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}, `"litedir":"v1","go":`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := versionJSON{Litedir: "v1"}
			v.Revision, v.Modified = vcsInfo(tt.settings)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.want) {
				t.Errorf("got %s, want it to contain %s", b, tt.want)
			}
		})
	}
}
