package fsync

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
)

// syscallsChild is the configuration of TestSyscalls's child: the paths it
// syncs.
type syscallsChild struct{ File, Data, Dir string }

// TestSyscalls checks, under strace, that each function makes its system
// call on the file it names: File an fsync of the file, Data an fdatasync of
// the open file, Dir an fsync of the directory. The test hook only shows
// that the functions are called; this shows that their bodies sync. It
// needs strace (CI's .ci/strace installs it and runs this test as a
// must-pass test) and skips without it.
func TestSyscalls(t *testing.T) {
	var cfg syscallsChild
	if testproc.IsChild(t, &cfg) {
		f, err := os.OpenFile(cfg.Data, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, err := range []error{File(cfg.File), Data(f), Dir(cfg.Dir)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("no strace")
	}
	dir, err := filepath.EvalSymlinks(testdir.New(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg = syscallsChild{File: filepath.Join(dir, "file"), Data: filepath.Join(dir, "data"), Dir: dir}
	for _, p := range []string{cfg.File, cfg.Data} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd := testproc.Command(t, cfg)
	cmd.Args = append([]string{strace, "-f", "-o", log, "-e", "trace=openat,close,fsync,fdatasync", "-e", "signal=none"}, cmd.Args...)
	cmd.Path = strace
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the child under strace: %v\n%s", err, out)
	}

	synced := straceSyncs(t, log)
	for _, want := range []string{"fsync " + cfg.File, "fdatasync " + cfg.Data, "fsync " + cfg.Dir} {
		if !synced[want] {
			t.Errorf("no successful %s in the trace; the syncs seen: %v", want, synced)
		}
	}
}

var (
	straceOpen = regexp.MustCompile(`openat\(AT_FDCWD, "([^"]*)", [^)]*\)\s+= (\d+)$`)
	straceSync = regexp.MustCompile(`(fsync|fdatasync)\((\d+)\)\s+= 0$`)
	stracePID  = regexp.MustCompile(`^\d+\s+`)
)

// straceSyncs reads an strace -f log of openat, close, fsync and fdatasync
// and returns the successful syncs as "fsync PATH" and "fdatasync PATH".
// A call that another thread interrupted is joined with its "resumed" line.
func straceSyncs(t *testing.T, log string) map[string]bool {
	t.Helper()
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fds := map[string]string{}
	synced := map[string]bool{}
	pending := map[string]string{} // pid: its unfinished call
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		pid := strings.TrimSpace(stracePID.FindString(line))
		text := stracePID.ReplaceAllString(line, "")
		if rest, ok := strings.CutSuffix(text, " <unfinished ...>"); ok {
			pending[pid] = rest
			continue
		}
		if strings.HasPrefix(text, "<... ") {
			_, rest, _ := strings.Cut(text, " resumed>")
			text = pending[pid] + rest
			delete(pending, pid)
		}
		if m := straceOpen.FindStringSubmatch(text); m != nil {
			fds[m[2]] = m[1]
		} else if m := straceSync.FindStringSubmatch(text); m != nil {
			synced[m[1]+" "+fds[m[2]]] = true
		} else if fd, ok := strings.CutPrefix(text, "close("); ok {
			fd, _, _ = strings.Cut(fd, ")")
			delete(fds, fd)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return synced
}
