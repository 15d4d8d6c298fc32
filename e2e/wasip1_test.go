package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/e2e/internal/wasmhost"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
)

// TestWasip1CLI runs the wasip1 build of the litedir CLI inside this process,
// with wazero as a library (see internal/wasmhost), against a temporary
// directory mounted at /ws: migrate, write, read, status and check, then the
// database file read by the native build, then two instances at once.
//
// On wasip1 the driver has no file locking, so the profile opens SQLite with
// nolock=1 and a rollback journal, and the lock package has no inter-process
// lock. The test pins both facts: status reports journal mode delete, and a
// second instance writes while a first one "holds" the workspace lock — it
// sees the first one's owner record, and nothing keeps it out. One instance
// at a time per directory is the rule on wasip1, and only the embedder can
// keep it.
func TestWasip1CLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds litedir for wasip1 and runs it in wazero, where SQLite is interpreted inside the guest (seconds per command)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*testdir.Patience)
	defer cancel()

	host := newWasip1Host(t, ctx)
	defer host.Close(context.WithoutCancel(ctx))

	dir := t.TempDir()
	// run runs one instance to its end. The guest's own wazero has no
	// compiler for GOARCH=wasm and interprets SQLite, and an interpreter has
	// nothing to cache: its engine cache is off.
	run := func(ctx context.Context, stdout io.Writer, args ...string) (code int, stderr string) {
		t.Helper()
		var errBuf bytes.Buffer
		code, err := host.Run(ctx, wasmhost.Run{
			Args:   args,
			Env:    []string{ncruces.EnvCacheDir + "=off"},
			Mounts: map[string]string{"/ws": dir},
			Stdout: stdout,
			Stderr: &errBuf,
		})
		if err != nil {
			t.Fatalf("litedir %s: %v\n%s", strings.Join(args, " "), err, errBuf.String())
		}
		return code, errBuf.String()
	}
	mustRun := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if code, stderr := run(ctx, &out, args...); code != 0 {
			t.Fatalf("litedir %s: exit status %d\n%s%s", strings.Join(args, " "), code, out.String(), stderr)
		}
		return out.String()
	}

	// One instance at a time: the single-process use litedir supports here.
	mustRun("migrate", "-builtin", "/ws")
	mustRun("sql", "-write", "/ws", "INSERT INTO sessions (title) VALUES ('written in wasip1')")
	if out := mustRun("sql", "-csv", "/ws", "SELECT title FROM sessions"); out != "title\nwritten in wasip1\n" {
		t.Errorf("sql -csv: got %q, want the row written", out)
	}
	var st struct {
		JournalMode     string `json:"journal_mode"`
		WantJournalMode string `json:"want_journal_mode"`
		WALSize         int64  `json:"wal_size"`
		Schema          struct {
			Current int64 `json:"current"`
		} `json:"schema"`
		Owner *struct {
			PID     int    `json:"pid"`
			Program string `json:"program"`
		} `json:"owner"`
		Platform struct {
			GOOS        string `json:"goos"`
			Locking     string `json:"locking"`
			NoLock      bool   `json:"no_lock"`
			JournalMode string `json:"journal_mode"`
		} `json:"platform"`
	}
	status := func() {
		t.Helper()
		st.Owner = nil
		if err := json.Unmarshal([]byte(mustRun("status", "-json", "/ws")), &st); err != nil {
			t.Fatalf("status -json: %v", err)
		}
	}
	status()
	if st.Platform.GOOS != "wasip1" || st.Platform.Locking != "none" || !st.Platform.NoLock {
		t.Errorf("status platform: got %+v, want wasip1 without file locking (nolock)", st.Platform)
	}
	if st.JournalMode != "delete" || st.WantJournalMode != "delete" || st.WALSize != 0 {
		t.Errorf("status: journal mode %q (want %q), WAL %d bytes; want delete, delete, 0", st.JournalMode, st.WantJournalMode, st.WALSize)
	}
	if st.Schema.Current != 2 {
		t.Errorf("status: schema version %d, want 2 (the builtin schema)", st.Schema.Current)
	}
	mustRun("check", "/ws")
	if _, err := os.Stat(filepath.Join(dir, "litedir.db-wal")); err == nil {
		t.Error("a -wal file exists: want a rollback journal on wasip1")
	}

	// The file is an ordinary SQLite database: the native build reads it.
	db, err := ncruces.Open(ctx, ncruces.Config{Path: filepath.Join(dir, "litedir.db"), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var title string
	if err := db.QueryRowContext(ctx, "SELECT title FROM sessions").Scan(&title); err != nil || title != "written in wasip1" {
		t.Errorf("native read: got %q, %v, want the row written in wasip1", title, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Two instances at once. The first holds the workspace lock until the
	// host ends it (wasip1 delivers no signals: ending its context is the
	// only way, and kills it like SIGKILL).
	holderCtx, stopHolder := context.WithCancel(ctx)
	defer stopHolder()
	pr, pw := io.Pipe()
	held := make(chan struct {
		code   int
		stderr string
		err    error
	}, 1)
	go func() {
		var errBuf bytes.Buffer
		code, err := host.Run(holderCtx, wasmhost.Run{
			Args:   []string{"lock", "/ws"},
			Env:    []string{ncruces.EnvCacheDir + "=off"},
			Mounts: map[string]string{"/ws": dir},
			Stdout: pw,
			Stderr: &errBuf,
		})
		pw.Close()
		held <- struct {
			code   int
			stderr string
			err    error
		}{code, errBuf.String(), err}
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "locked /ws") {
		stopHolder()
		r := <-held
		t.Fatalf("litedir lock: first line %q, want \"locked /ws ...\"; exit %d, %v\n%s", lines.Text(), r.code, r.err, r.stderr)
	}
	go io.Copy(io.Discard, pr)

	// The second instance sees the holder's owner record...
	status()
	if st.Owner == nil || st.Owner.Program != "litedir lock" {
		t.Errorf("status beside the holder: owner %+v, want the holder's record (program \"litedir lock\")", st.Owner)
	}
	// ...and nothing keeps it out: a write that takes the lock succeeds
	// (natively it would exit with status 3, workspace locked).
	mustRun("sql", "-write", "/ws", "INSERT INTO sessions (title) VALUES ('second instance')")
	if out := mustRun("sql", "-csv", "/ws", "SELECT count(*) AS n FROM sessions"); out != "n\n2\n" {
		t.Errorf("count after the second instance's write: got %q, want 2", out)
	}

	stopHolder()
	if r := <-held; r.err == nil {
		t.Errorf("litedir lock ended by itself (exit %d) before the host stopped it\n%s", r.code, r.stderr)
	}
}

// newWasip1Host builds the litedir CLI for wasip1 on the engine this test
// binary runs (-tags litedir_wasm2go when it is wasm2go; the module context
// and GOFLAGS are inherited, as the compatibility job sets them) and returns
// a host that has compiled it.
func newWasip1Host(tb testing.TB, ctx context.Context) *wasmhost.Host {
	tb.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		tb.Skipf("building the wasip1 binary needs the go command: %v", err)
	}
	wasm := filepath.Join(tb.TempDir(), "litedir.wasm")
	args := []string{"build", "-o", wasm}
	if ncruces.EngineInfo().Name == ncruces.EngineWasm2go {
		args = append(args, "-tags", "litedir_wasm2go")
	}
	build := exec.CommandContext(ctx, goCmd, append(args, "github.com/litedir/litedir/cmd/litedir")...)
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("GOOS=wasip1 GOARCH=wasm go %s: %v\n%s", strings.Join(build.Args[1:], " "), err, out)
	}
	if fi, err := os.Stat(wasm); err == nil {
		tb.Logf("wasip1 guest on %s: %.1f MB", ncruces.EngineInfo().Name, float64(fi.Size())/1e6)
	}
	start := time.Now()
	host, err := wasmhost.New(ctx, wasm, hostCacheDir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("host compile of the guest: %v", time.Since(start).Round(time.Millisecond))
	return host
}

// BenchmarkWasip1 measures the wasip1 build of the CLI in e2e's Go host, a
// new instance per operation, as an embedder runs it: "first-query" is an
// instance start, engine start, Open and a first query (sql -csv); "writes"
// is the same with 1,000 INSERT statements in its one transaction (sql
// -write), and "insert-select" the 1,000 rows from one statement. Run it on
// both engines:
//
//	go test -run '^$' -bench Wasip1 -benchtime 5x ./e2e
//	(cd .ci/compat && GOWORK=$PWD/go.work go test -tags litedir_wasm2go -run '^$' -bench Wasip1 -benchtime 5x github.com/litedir/litedir/e2e)
func BenchmarkWasip1(b *testing.B) {
	ctx := b.Context()
	host := newWasip1Host(b, ctx)
	defer host.Close(context.WithoutCancel(ctx))
	dir := b.TempDir()
	run := func(args ...string) {
		var out, errBuf bytes.Buffer
		code, err := host.Run(ctx, wasmhost.Run{
			Args:   args,
			Env:    []string{ncruces.EnvCacheDir + "=off"},
			Mounts: map[string]string{"/ws": dir},
			Stdout: &out,
			Stderr: &errBuf,
		})
		if err != nil || code != 0 {
			b.Fatalf("litedir %s: exit %d, %v\n%s%s", args[0], code, err, out.String(), errBuf.String())
		}
	}
	run("migrate", "-builtin", "/ws")
	var inserts strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&inserts, "INSERT INTO sessions (title) VALUES ('session %d');", i)
	}
	b.Run("first-query", func(b *testing.B) {
		for b.Loop() {
			run("sql", "-csv", "/ws", "SELECT count(*) FROM sessions")
		}
	})
	b.Run("writes", func(b *testing.B) {
		for b.Loop() {
			run("sql", "-write", "/ws", inserts.String())
		}
	})
	b.Run("insert-select", func(b *testing.B) {
		for b.Loop() {
			run("sql", "-write", "/ws", "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < 999) "+
				"INSERT INTO sessions (title) SELECT 'session ' || i FROM n")
		}
	})
}

// hostCacheDir is the wazero compilation cache for the host's compile of
// the wasip1 binary: the engine cache directory (the rule of
// ncruces.EnvCacheDir), which wazero shares safely since it keys entries by
// module hash and wazero version. "" (no cache) when it is off.
func hostCacheDir(t testing.TB) string {
	switch env := os.Getenv(ncruces.EnvCacheDir); env {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			t.Logf("no user cache directory, compiling without a cache: %v", err)
			return ""
		}
		return filepath.Join(base, "litedir", "wazero")
	default:
		return env
	}
}
