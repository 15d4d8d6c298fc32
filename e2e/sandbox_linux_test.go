package e2e_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// sandboxConfig configures a child of TestSandbox.
type sandboxConfig struct {
	Role string // "holder" or "sandboxed"
	Dir  string
	Rows int // holder: the rows it writes before it says it is ready
}

// sandboxedEnv marks the sandboxed child after it restricted itself and re-executed.
const sandboxedEnv = "LITEDIR_E2E_SANDBOXED"

// TestSandbox opens workspaces from a child process that a Landlock policy forbids to create
// files in the workspace directory (LANDLOCK_ACCESS_FS_MAKE_REG), as agent sandboxes do:
//
//   - a workspace closed cleanly has no -wal: WAL needs to create one in any profile, so
//     Open fails at once with an *ncruces.DeniedError naming the file and the operation
//     ("create .../litedir.db-wal") and the likely cause, and changes no byte;
//   - a workspace whose last owner ran in the single-connection profile and was killed has
//     its -wal but no -shm: the shared-memory profile would have to create the -shm, the
//     single-connection one needs none, so Open uses it, says so, and the writes go on.
//
// The kernel's Landlock support is checked first; without it the test skips and says why.
func TestSandbox(t *testing.T) {
	var cfg sandboxConfig
	if testproc.IsChild(t, &cfg) {
		switch cfg.Role {
		case "holder":
			runSandboxHolder(t, cfg)
		case "sandboxed":
			runSandboxed(t, cfg)
		}
		return
	}
	abi, err := landlockABI()
	if err != nil {
		t.Skipf("no Landlock in this kernel: %v", err)
	}
	t.Logf("Landlock ABI %d", abi)

	t.Run("no -wal: denied", func(t *testing.T) {
		ctx := testdir.Context(t)
		dir := filepath.Join(t.TempDir(), "ws")
		ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
		if _, err := newSession(ctx, ws, "before the sandbox"); err != nil {
			t.Fatal(err)
		}
		if err := ws.Close(); err != nil {
			t.Fatal(err)
		}
		before := testdir.Snapshot(t, dir)
		if _, ok := before["litedir.db-wal"]; ok {
			t.Fatalf("a -wal is left after a clean Close: %v", testdir.Names(t, dir))
		}

		c := testproc.Start(t, "sandboxed", sandboxConfig{Role: "sandboxed", Dir: dir})
		c.WaitFor(ctx, "restricted")
		want := "denied create " + filepath.Join(dir, "litedir.db-wal")
		if line := c.WaitForPrefix(ctx, "denied", "opened"); line != want {
			t.Errorf("sandboxed Open: got %q, want %q\n%s", line, want, c.Output())
		}
		c.Finish(ctx)
		testdir.SameFiles(t, before, testdir.Snapshot(t, dir))
	})

	t.Run("-wal without -shm: the single-connection profile", func(t *testing.T) {
		ctx := testdir.Context(t)
		dir := filepath.Join(t.TempDir(), "ws")
		holder := testproc.Start(t, "holder", sandboxConfig{Role: "holder", Dir: dir, Rows: 20})
		holder.WaitFor(ctx, readyLine)
		killOwner(t, holder)
		names := strings.Join(testdir.Names(t, dir), " ")
		if !strings.Contains(names, "litedir.db-wal") || strings.Contains(names, "litedir.db-shm") {
			t.Fatalf("after the holder's kill: %s; want a -wal and no -shm", names)
		}

		c := testproc.Start(t, "sandboxed", sandboxConfig{Role: "sandboxed", Dir: dir})
		c.WaitFor(ctx, "restricted")
		if line := c.WaitForPrefix(ctx, "denied", "opened"); line != "opened exclusive rows 20" {
			t.Fatalf("sandboxed Open: got %q, want %q\n%s", line, "opened exclusive rows 20", c.Output())
		}
		if line := c.WaitForPrefix(ctx, "fell back"); !strings.Contains(line, "litedir.db-shm") {
			t.Errorf("the sandboxed child's log: got %q, want the fallback naming the -shm", line)
		}
		c.WaitFor(ctx, "closed")
		c.Finish(ctx)

		ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
		if n := count(t, ctx, ws, "SELECT count(*) FROM sessions"); n != 21 {
			t.Errorf("sessions: got %d, want the holder's 20 and the sandboxed child's one", n)
		}
		mustCheck(t, ctx, ws)
	})
}

// runSandboxHolder plays the holder: it opens cfg.Dir in the single-connection profile
// (Filesystem network), commits cfg.Rows sessions, says readyLine and waits to be killed.
func runSandboxHolder(t *testing.T, cfg sandboxConfig) {
	ctx := t.Context()
	p := testproc.NewParent()
	ws, err := workspace.Open(ctx, cfg.Dir, &workspace.Options{Migrations: migrations.Builtin, Filesystem: ncruces.FilesystemNetwork})
	if err != nil {
		p.Fail(t, "open: %v", err)
	}
	for i := range cfg.Rows {
		if _, err := newSession(ctx, ws, fmt.Sprintf("holder %d", i)); err != nil {
			p.Fail(t, "write: %v", err)
		}
	}
	p.Say(readyLine)
	for {
		if _, ok := p.Next(); !ok {
			break
		}
	}
	ws.Close()
}

// runSandboxed plays the sandboxed child. Its first run restricts its thread with Landlock
// and re-executes the test binary from it, which puts the whole new process under the policy
// (a Go program has many threads, and Landlock restricts the thread that asks); the second
// run checks that creating a file in cfg.Dir is denied ("restricted"), opens the workspace and
// says what happened: "denied OP PATH" for an *ncruces.DeniedError, or "opened exclusive|shared
// rows N" and then, after a Write, "closed". The log's fallback, if any, is said as "fell back
// ...".
func runSandboxed(t *testing.T, cfg sandboxConfig) {
	p := testproc.NewParent()
	if os.Getenv(sandboxedEnv) == "" {
		runtime.LockOSThread() // never unlocked: the thread is the policy's, and exits with the process
		if err := denyCreatingFiles(cfg.Dir); err != nil {
			p.Fail(t, "landlock: %v", err)
		}
		err := syscall.Exec(os.Args[0], os.Args, append(os.Environ(), sandboxedEnv+"=1"))
		p.Fail(t, "re-execute under the policy: %v", err)
	}
	probe := filepath.Join(cfg.Dir, "probe")
	if f, err := os.Create(probe); err == nil {
		f.Close()
		os.Remove(probe)
		p.Fail(t, "creating %s was allowed: the policy is not in force", probe)
	} else if !errors.Is(err, os.ErrPermission) {
		p.Fail(t, "create %s: got %v, want a permission error", probe, err)
	}
	p.Say("restricted")

	ctx := t.Context()
	var log testproc.Buffer
	ws, err := workspace.Open(ctx, cfg.Dir, &workspace.Options{Migrations: migrations.Builtin, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	var denied *ncruces.DeniedError
	switch {
	case errors.As(err, &denied):
		if !errors.Is(err, ncruces.ErrDenied) || !strings.Contains(err.Error(), "sandbox") {
			p.Fail(t, "Open: %v: want it to match ErrDenied and name the likely cause", err)
		}
		p.Say("denied %s %s", denied.Op, denied.Path)
		return
	case err != nil:
		p.Fail(t, "Open: %v", err)
	}
	st, err := ws.Status(ctx)
	if err != nil {
		p.Fail(t, "Status: %v", err)
	}
	mode := "shared"
	if st.Profile.LockingExclusive {
		mode = "exclusive"
	}
	var rows int
	if err := ws.ReadDB().QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&rows); err != nil {
		p.Fail(t, "count: %v", err)
	}
	p.Say("opened %s rows %d", mode, rows)
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "falling back") {
			p.Say("fell back: %s", line)
		}
	}
	if _, err := newSession(ctx, ws, "in the sandbox"); err != nil {
		p.Fail(t, "write: %v", err)
	}
	if err := ws.Close(); err != nil {
		p.Fail(t, "close: %v", err)
	}
	p.Say("closed")
}

// landlockABI returns the Landlock ABI version the kernel offers, or why it offers none
// (ENOSYS: not built in; EOPNOTSUPP: disabled at boot).
func landlockABI() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	return int(v), nil
}

// denyCreatingFiles puts the calling thread (and what it executes) under a Landlock policy
// that lets it create regular files only beneath the engine cache's directory, so not in dir,
// and leaves every other access alone.
func denyCreatingFiles(dir string) error {
	// Only the first field, which ABI 1 has: the kernel takes the struct's size from us.
	attr := unix.LandlockRulesetAttr{Handled_access_fs: unix.LANDLOCK_ACCESS_FS_MAKE_REG}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr.Handled_access_fs), 0)
	if errno != 0 {
		return fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	if cache, err := os.UserCacheDir(); err == nil && !strings.HasPrefix(dir, cache) {
		// The engine cache may be written; the workspace is elsewhere.
		if err := os.MkdirAll(cache, 0o700); err != nil {
			return err
		}
		d, err := unix.Open(cache, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", cache, err)
		}
		defer unix.Close(d)
		rule := unix.LandlockPathBeneathAttr{Allowed_access: unix.LANDLOCK_ACCESS_FS_MAKE_REG, Parent_fd: int32(d)}
		if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
			return fmt.Errorf("landlock_add_rule: %w", errno)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return nil
}
