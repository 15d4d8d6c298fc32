package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestNetworkFilesystem runs litedir on a real network filesystem: an sshfs mount of a local
// directory, served by an sshd of the test's own on 127.0.0.1 (mountSSHFS). On it:
//
//   - a writer child detects the filesystem (fuse.sshfs) and runs one connection in
//     EXCLUSIVE locking mode, no -shm;
//   - 16 goroutines write with synchronous=FULL; a second process (this test) gets the lock
//     error naming the writer; litedir status, check and backup fail at once with the busy
//     error naming the owner, as README says;
//   - the writer is killed with SIGKILL; status, check and backup then work, and a reopen finds
//     every acknowledged write and passes integrity_check.
//
// sshfs passes no lock to the server: the kernel keeps flock and fcntl locks of a FUSE mount
// that does not implement them for itself, so they exclude the processes of this host (which
// the test checks) and nobody on another host (which README says).
func TestNetworkFilesystem(t *testing.T) {
	var cfg writerConfig
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	mnt, src := mountSSHFS(t)
	ctx := testdir.Context(t)
	dir := filepath.Join(mnt, "ws")

	if f, err := ncruces.DetectFilesystem(mnt); err != nil || f.Type != "fuse.sshfs" || f.Local() {
		t.Fatalf("DetectFilesystem(%s): got %v, %v, want fuse.sshfs, not local", mnt, f, err)
	}

	c := testproc.Start(t, "writer", writerConfig{Dir: dir, Writers: 16, Pragmas: []ncruces.Pragma{{Name: "synchronous", Value: "FULL"}}})
	if line, _ := c.Next(ctx); line != "synchronous 2" {
		t.Fatalf("got %q, want %q\n%s", line, "synchronous 2", c.Output())
	}
	c.WaitFor(ctx, readyLine)

	// A second process is kept out by the lock: sshfs leaves locks to this host's kernel.
	err := mustNotOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	mustLockedBy(t, err, c.Pid())

	// The read-only commands: the owner holds the database in EXCLUSIVE locking mode, and
	// they say so at once, naming it, with exit status 1.
	for _, args := range [][]string{
		{"status", dir},
		{"check", dir},
		{"backup", dir, filepath.Join(t.TempDir(), "while-owned.db")},
	} {
		r := litedir(t, ctx, args...)
		t.Logf("litedir %s beside the owner: exit status %d: %s", args[0], r.code, strings.TrimSpace(r.stderr))
		want := fmt.Sprintf("pid %d", c.Pid())
		if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "EXCLUSIVE locking mode") || !strings.Contains(r.stderr, "fuse.sshfs") {
			t.Errorf("beside the owner: want exit status 1 naming %s, EXCLUSIVE locking mode and fuse.sshfs; got %v", want, r)
		}
	}

	acked := killAfterAcks(t, ctx, c, 300)

	// The writer's lock died with it: the read-only commands work.
	var st struct {
		JournalMode string `json:"journal_mode"`
		LockState   string `json:"lock_state"`
		Platform    struct {
			LockingExclusive bool `json:"locking_exclusive"`
			SingleConnection bool `json:"single_connection"`
			Filesystem       struct {
				Type  string `json:"type"`
				Kind  string `json:"kind"`
				Local bool   `json:"local"`
				Mode  string `json:"mode"`
			} `json:"filesystem"`
			Notes []string `json:"notes"`
		} `json:"platform"`
	}
	out := mustLitedir(t, ctx, "status", "-json", dir)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -json: %v\n%s", err, out)
	}
	fsys := st.Platform.Filesystem
	if fsys.Type != "fuse.sshfs" || fsys.Kind != "fuse" || fsys.Local || fsys.Mode != "auto" ||
		!st.Platform.LockingExclusive || !st.Platform.SingleConnection || len(st.Platform.Notes) == 0 {
		t.Errorf("status -json platform: got %+v, want fuse.sshfs, not local, one connection in EXCLUSIVE locking mode, with a note", st.Platform)
	}
	if st.JournalMode != "wal" || st.LockState != "stale" {
		t.Errorf("status -json: journal mode %q, lock state %q; want wal, stale (the owner was killed)", st.JournalMode, st.LockState)
	}
	mustLitedir(t, ctx, "check", "-full", dir)
	backup := filepath.Join(t.TempDir(), "copy", "litedir.db")
	if err := os.Mkdir(filepath.Dir(backup), 0o700); err != nil {
		t.Fatal(err)
	}
	mustLitedir(t, ctx, "backup", dir, backup)
	mustLitedir(t, ctx, "check", "-full", filepath.Dir(backup))

	// Reopened: nothing acknowledged is lost, and the database is sound.
	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	status, err := ws.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status.Profile.Filesystem.Type != "fuse.sshfs" || !status.Profile.LockingExclusive {
		t.Errorf("Status.Profile: got %+v, want fuse.sshfs in EXCLUSIVE locking mode", status.Profile)
	}
	stored := mustHaveAcked(t, ctx, ws, acked)
	if len(stored) < len(acked) {
		t.Errorf("stored %d messages, want at least the %d acknowledged", len(stored), len(acked))
	}
	// No WAL index was ever shared through the filesystem.
	if _, err := os.Stat(filepath.Join(src, "ws", "litedir.db-shm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("litedir.db-shm on the server: %v, want none", err)
	}
	t.Logf("%d messages acknowledged, %d committed", len(acked), len(stored))
}

// mountSSHFS mounts, with sshfs, a new local directory through an sshd of its own on
// 127.0.0.1 (host and user keys made for the test), and returns the mount point and the
// served directory. It unmounts and stops sshd when the test ends. It skips the test, saying
// why, when it is not root or sshd, ssh-keygen or sshfs is missing (.ci/netfs installs them).
func mountSSHFS(t *testing.T) (mnt, src string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sshfs: the test's sshd and the FUSE mount need root")
	}
	tools := map[string]string{}
	for _, name := range []string{"sshd", "ssh-keygen", "sshfs"} {
		path, err := lookTool(name)
		if err != nil {
			t.Skipf("sshfs: %v (Debian packages openssh-server and sshfs; .ci/netfs installs them)", err)
		}
		tools[name] = path
	}
	unmount, err := lookTool("fusermount3")
	if err != nil {
		unmount, err = lookTool("fusermount")
	}
	if err != nil {
		t.Skipf("sshfs: %v", err)
	}

	base := t.TempDir()
	keys, src, mnt := filepath.Join(base, "keys"), filepath.Join(base, "served"), filepath.Join(base, "mnt")
	for _, d := range []string{keys, src, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	hostKey, userKey := filepath.Join(keys, "host"), filepath.Join(keys, "user")
	for _, key := range []string{hostKey, userKey} {
		if out, err := exec.Command(tools["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", "litedir-e2e", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(userKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(keys, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(keys, "sshd_config")
	if err := os.WriteFile(config, []byte(strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authorized,
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		// The keys live in the test's temporary directory, under a world-writable /tmp.
		"StrictModes no",
		"UsePAM no",
		"PidFile none",
		"Subsystem sftp internal-sftp",
		"",
	}, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd refuses to start without its privilege separation directory, which only the
	// service's start script makes.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}

	port, sshdLog := startSSHD(t, tools["sshd"], config)
	mount := exec.Command(tools["sshfs"], "-p", port,
		"-o", "IdentityFile="+userKey+",StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes,LogLevel=ERROR",
		"root@127.0.0.1:"+src, mnt)
	// sshfs returns once the filesystem is mounted, leaving its daemon behind.
	if out, err := mount.CombinedOutput(); err != nil {
		t.Fatalf("sshfs: %v\n%s\nsshd said:\n%s", err, out, sshdLog())
	}
	t.Cleanup(func() {
		if out, err := exec.Command(unmount, "-u", mnt).CombinedOutput(); err != nil {
			t.Errorf("unmount %s: %v\n%s", mnt, err, out)
		}
	})
	return mnt, src
}

// lookTool finds the program name in PATH or in the sbin directories, which a root's PATH
// may lack when the tests run from a service.
func lookTool(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("no %s in PATH or the sbin directories", name)
}

// startSSHD starts sshd with config in the foreground on a free port of 127.0.0.1, waits
// until it listens, and returns the port and a function that returns what sshd has said so
// far, for failure messages. It is killed and reaped when the test ends.
func startSSHD(t *testing.T, sshd, config string) (port string, log func() string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		// A port that was free a moment ago. Another process may take it first: then sshd
		// says so and exits, and the next attempt takes another.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		log, ok := runSSHD(t, sshd, config, port)
		if ok {
			return port, log
		}
		if attempt == 3 {
			t.Fatalf("sshd ended before it listened:\n%s", log())
		}
		t.Logf("sshd on port %s ended before it listened; trying another port:\n%s", port, log())
	}
}

// runSSHD starts sshd on port and waits for it to listen. It reports false if sshd ended
// first; otherwise sshd runs until the test ends. log returns what sshd has said.
func runSSHD(t *testing.T, sshd, config, port string) (log func() string, ok bool) {
	t.Helper()
	ctx := testdir.Context(t)
	// sshd re-executes itself, and so wants its absolute path.
	cmd := exec.Command(sshd, "-D", "-e", "-f", config, "-p", port)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	var mu sync.Mutex
	var said []string
	log = func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(said, "\n")
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			said = append(said, sc.Text())
			mu.Unlock()
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stderr)
	}()
	// Every exit path reads sshd's stderr to its end before Wait, as exec.Cmd asks.
	reap := func() {
		for range lines {
		}
		cmd.Wait()
	}
	listening := "Server listening on 127.0.0.1 port " + port
	for {
		select {
		case line, open := <-lines:
			if !open {
				cmd.Wait()
				return log, false
			}
			if !strings.HasPrefix(line, listening) {
				continue
			}
			// Keep reading its log, so that it never blocks on a full pipe, until the end.
			done := make(chan struct{})
			go func() {
				defer close(done)
				reap()
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-done
			})
			return log, true
		case <-ctx.Done():
			cmd.Process.Kill()
			reap()
			t.Fatalf("sshd did not listen within the deadline: %v\n%s", context.Cause(ctx), log())
		}
	}
}
