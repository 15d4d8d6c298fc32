package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// contenders is how many processes race for one workspace.
const contenders = 16

// contenderConfig configures a contender child: one of the processes that
// race to open one workspace exclusively.
type contenderConfig struct {
	Dir   string
	Index int
}

// runContender plays a contender child. It compiles the engine (from the
// cache), says readyLine and waits for "go", so that the contenders race
// into Open together, not one process start after another. Then it opens
// cfg.Dir exclusively, without waiting, and says either "won" and holds the
// workspace until stdin ends, or "locked <pid>", naming the holder its
// *lock.LockedError reports. Any other error fails it.
func runContender(t *testing.T, cfg contenderConfig) {
	ctx := t.Context()
	p := testproc.NewParent()
	if err := ncruces.Initialize(nil); err != nil {
		p.Fail(t, "initialize: %v", err)
	}
	p.Say(readyLine)
	if !awaitCommand(t, p, "go") {
		return // the parent gave up before the race
	}

	ws, err := workspace.Open(ctx, cfg.Dir, &workspace.Options{
		Program:    fmt.Sprintf("e2e-contender/%d", cfg.Index),
		Migrations: migrations.Builtin,
	})
	if err != nil {
		var le *lock.LockedError
		if !errors.Is(err, lock.ErrLocked) || !errors.As(err, &le) {
			p.Fail(t, "open: got %v, want a *lock.LockedError", err)
		}
		p.Say("locked %d", le.Owner.PID)
	} else {
		p.Say("won")
	}
	for {
		if _, ok := p.Next(); !ok {
			break
		}
	}
	if ws != nil {
		if err := ws.Close(); err != nil {
			p.Fail(t, "close: %v", err)
		}
	}
}

// contentionRounds runs round as the subtests round0, round1, ... (one, or
// ten in a soak run), each given a context for its waits and the path of a
// fresh workspace directory that the contenders create in their race.
func contentionRounds(t *testing.T, round func(t *testing.T, ctx context.Context, dir string)) {
	for i := range scaled(1) {
		t.Run(fmt.Sprintf("round%d", i), func(t *testing.T) {
			round(t, testdir.Context(t), filepath.Join(t.TempDir(), "ws"))
		})
	}
}

// TestContention starts 16 processes that open one fresh workspace
// exclusively at the same moment, and checks that exactly one of them gets
// it while every other fails at once (no wait) with a *lock.LockedError
// naming the winner's pid. The winner's migrations are in place afterwards.
// A soak run does 10 rounds.
func TestContention(t *testing.T) {
	var cfg contenderConfig
	if testproc.IsChild(t, &cfg) {
		runContender(t, cfg)
		return
	}
	needLocks(t)
	contentionRounds(t, func(t *testing.T, ctx context.Context, dir string) {
		cs := make([]*testproc.Child, contenders)
		for i := range cs {
			cs[i] = testproc.Start(t, fmt.Sprintf("contender %d", i), contenderConfig{Dir: dir, Index: i})
		}
		goTogether(t, ctx, cs)

		winner := -1
		lockedBy := make([]int, len(cs))
		for i, c := range cs {
			line := c.WaitForPrefix(ctx, "won", "locked ")
			if line == "won" {
				if winner >= 0 {
					t.Fatalf("%s and %s both opened the workspace", cs[winner].Name(), c.Name())
				}
				winner = i
				continue
			}
			pid, err := strconv.Atoi(strings.TrimPrefix(line, "locked "))
			if err != nil {
				t.Fatalf("%s: %q: %v", c.Name(), line, err)
			}
			lockedBy[i] = pid
		}
		if winner < 0 {
			t.Fatalf("no contender opened the workspace")
		}
		for i, pid := range lockedBy {
			if i != winner && pid != cs[winner].Pid() {
				t.Errorf("%s: LockedError.Owner.PID: got %d, want %d (%s, the winner)", cs[i].Name(), pid, cs[winner].Pid(), cs[winner].Name())
			}
		}
		for i, c := range cs {
			if i != winner {
				c.Finish(ctx)
			}
		}
		cs[winner].Finish(ctx)
		t.Logf("%s (pid %d) opened the workspace; %d refused", cs[winner].Name(), cs[winner].Pid(), len(cs)-1)

		ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
		st, err := ws.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Schema.Current != st.Schema.Latest || len(st.Schema.Pending) != 0 {
			t.Errorf("Status.Schema: got %+v, want the builtin migrations applied by the winner", st.Schema)
		}
		mustCheck(t, ctx, ws)
	})
}

// lockedLine is what "litedir lock" prints once it holds the lock.
var lockedLine = regexp.MustCompile(`^locked (.+) \(pid (\d+)\)$`)

// TestContentionCLI starts 16 "litedir lock DIR" commands at the same
// moment on one fresh directory, and checks that exactly one holds the lock
// while every other exits at once with status 3, its error naming the
// holder's pid; and that the holder, interrupted, releases the lock and
// exits 0. A soak run does 10 rounds.
func TestContentionCLI(t *testing.T) {
	var cfg launchConfig
	if testproc.IsChild(t, &cfg) {
		runLauncher(t, cfg)
		return
	}
	needLocks(t)
	bin := litedirBin(t)
	contentionRounds(t, func(t *testing.T, ctx context.Context, dir string) {
		cs := make([]*testproc.Child, contenders)
		for i := range cs {
			args := []string{"lock", "-program", fmt.Sprintf("e2e-cli/%d", i), dir}
			cs[i] = testproc.Start(t, fmt.Sprintf("contender %d", i), launchConfig{Bin: bin, Args: args})
		}
		goTogether(t, ctx, cs)

		// The holder says "locked"; the others report at once, as
		// they never hold the lock. Lines of a launcher come in order:
		// a holder's "locked" line comes before its report.
		winner, holderPID := -1, 0
		stderrs := make([]string, len(cs))
		for i, c := range cs {
			line := c.WaitForPrefix(ctx, "locked ", "stderr ")
			if m := lockedLine.FindStringSubmatch(line); m != nil {
				if winner >= 0 {
					t.Fatalf("%s and %s both hold the lock: %q", cs[winner].Name(), c.Name(), line)
				}
				winner = i
				holderPID, _ = strconv.Atoi(m[2])
				continue
			}
			if strings.HasPrefix(line, "locked ") {
				t.Fatalf("%s: %q: not a locked line", c.Name(), line)
			}
			stderr, err := strconv.Unquote(strings.TrimPrefix(line, "stderr "))
			if err != nil {
				t.Fatalf("%s: %q: %v", c.Name(), line, err)
			}
			stderrs[i] = stderr
			code := c.WaitForPrefix(ctx, "exit ")
			if code != fmt.Sprintf("exit %d", 3) {
				t.Errorf("%s: got %q, want exit status 3 (locked); stderr:\n%s", c.Name(), code, stderr)
			}
		}
		if winner < 0 {
			t.Fatalf("no contender holds the lock; stderr of the first: %s", stderrs[0])
		}
		want := fmt.Sprintf("pid %d", holderPID)
		for i, stderr := range stderrs {
			if i != winner && !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr %q does not name the holder: want %q in it", cs[i].Name(), stderr, want)
			}
		}
		for i, c := range cs {
			if i != winner {
				c.Finish(ctx)
			}
		}
		t.Logf("%s (litedir pid %d) holds the lock; %d exited with status 3", cs[winner].Name(), holderPID, len(cs)-1)

		// Interrupted, the holder releases the lock and exits 0.
		// Windows has no interrupt to send: the launcher kills it there.
		w := cs[winner]
		w.CloseStdin()
		if runtime.GOOS != "windows" {
			w.WaitForPrefix(ctx, "released ")
			if stderr, code := launchResult(t, ctx, w); code != 0 {
				t.Errorf("%s: got exit status %d, want 0 after an interrupt; stderr:\n%s", w.Name(), code, stderr)
			}
		}
		w.Finish(ctx)
		l, err := lock.Acquire(ctx, dir, lock.Options{})
		if err != nil {
			t.Fatalf("lock after the holder ended: %v", err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	})
}
