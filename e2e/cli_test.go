package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/litedir/litedir/internal/testproc"
)

// The CLI scenarios run the real litedir command, built from ./cmd/litedir
// by the first test that needs it, once per test binary, into a temporary
// directory that TestMain removes at the end. Building lazily keeps
// "go test -run X ./e2e" of a library-only test from paying for the build.

var bin struct {
	once sync.Once
	dir  string // the temporary directory holding the binary
	path string
	err  error
}

// litedirBin returns the path of the litedir binary, building it on the
// first call. A failed build fails every test that needs the binary, each
// with the build's output.
func litedirBin(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() { bin.path, bin.err = buildLitedir() })
	if bin.err != nil {
		t.Fatalf("build litedir: %v", bin.err)
	}
	return bin.path
}

// buildLitedir builds the litedir command into a new temporary directory.
// The go command comes from PATH, where go test puts its own GOROOT/bin
// first, and inherits GOFLAGS, so the binary is built the way the tests
// are.
func buildLitedir() (string, error) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command to build it with: %w", err)
	}
	bin.dir, err = os.MkdirTemp("", "litedir-e2e-bin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(bin.dir, "litedir")
	if runtime.GOOS == "windows" {
		path += ".exe"
	}
	cmd := exec.Command(gocmd, "build", "-o", path, "github.com/litedir/litedir/cmd/litedir")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %w\n%s", cmd.Args, err, out)
	}
	return path, nil
}

// removeBin removes the directory of the built binary, if there is one.
func removeBin() error {
	if bin.dir == "" {
		return nil
	}
	return os.RemoveAll(bin.dir)
}

// cliResult is what one run of the litedir command did.
type cliResult struct {
	args           []string
	stdout, stderr string
	code           int // exit status
}

func (r cliResult) String() string {
	return fmt.Sprintf("litedir %q: exit status %d\nstdout:\n%s\nstderr:\n%s", r.args, r.code, r.stdout, r.stderr)
}

// litedir runs the litedir command with args to its end and returns what it
// did. The command is killed when ctx ends, which fails the test; a non-zero
// exit status is for the caller to judge.
func litedir(t *testing.T, ctx context.Context, args ...string) cliResult {
	t.Helper()
	cmd := exec.CommandContext(ctx, litedirBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{args: args, stdout: stdout.String(), stderr: stderr.String(), code: testproc.ExitCode(err)}
	if ctx.Err() != nil {
		t.Fatalf("%v: %v\n%v", args, context.Cause(ctx), r)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run litedir %q: %v", args, err)
	}
	return r
}

// mustLitedir runs the litedir command, which must succeed, and returns its
// standard output.
func mustLitedir(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	r := litedir(t, ctx, args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r.stdout
}

// startLitedir starts the litedir command with args in the background and
// returns at once; its stdout arrives line by line, as a child's does. When
// the test ends it is interrupted, as Ctrl-C would, and reaped.
func startLitedir(t *testing.T, name string, args ...string) *testproc.Child {
	t.Helper()
	c := testproc.StartCmd(t, name, exec.Command(litedirBin(t), args...))
	c.InterruptOnStop()
	return c
}

// launchConfig configures the launcher child, which runs the litedir
// command at the parent's signal: several launchers started one by one and
// then told "go" together start their commands at the same moment, where
// starting the commands themselves one by one would spread them out.
type launchConfig struct {
	Bin  string
	Args []string
}

// runLauncher plays the launcher child. It says readyLine, waits for "go",
// and runs cfg.Bin with cfg.Args, whose stdout goes straight to the parent.
// When the command ends it says "stderr <Go-quoted stderr>" and then
// "exit <status>". If stdin ends while the command runs, it interrupts the
// command (kills it where there are no interrupts) and then reports; either
// way it returns once stdin has ended.
func runLauncher(t *testing.T, cfg launchConfig) {
	p := testproc.NewParent()
	p.Say(readyLine)
	if !awaitCommand(t, p, "go") {
		return // the parent gave up before the start
	}
	cmd := exec.Command(cfg.Bin, cfg.Args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stdout, &stderr
	if err := cmd.Start(); err != nil {
		p.Fail(t, "start %s: %v", cfg.Bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stdinEnded := make(chan struct{})
	go func() {
		defer close(stdinEnded)
		for {
			if _, ok := p.Next(); !ok {
				return
			}
		}
	}()

	var err error
	select {
	case err = <-done:
	case <-stdinEnded:
		if serr := cmd.Process.Signal(os.Interrupt); serr != nil {
			cmd.Process.Kill()
		}
		err = <-done
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		p.Fail(t, "run %s: %v", cfg.Bin, err)
	}
	p.Say("stderr %s", strconv.Quote(stderr.String()))
	p.Say("exit %d", testproc.ExitCode(err))
	<-stdinEnded
}

// launchResult reads a launcher's report on its command: its stderr and
// exit status.
func launchResult(t *testing.T, ctx context.Context, c *testproc.Child) (stderr string, code int) {
	t.Helper()
	line := c.WaitForPrefix(ctx, "stderr ")
	stderr, err := strconv.Unquote(line[len("stderr "):])
	if err != nil {
		t.Fatalf("%s: %q: %v", c.Name(), line, err)
	}
	line = c.WaitForPrefix(ctx, "exit ")
	code, err = strconv.Atoi(line[len("exit "):])
	if err != nil {
		t.Fatalf("%s: %q: %v", c.Name(), line, err)
	}
	return stderr, code
}
