//go:build !wasip1 && !plan9 && !js

// The testscript tests: go-internal v1.16.0 does not build for wasip1, js
// or plan9, so they are left out there, and go vet still covers the command.

package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/litedir/litedir/ncruces"
)

// The scripts in testdata/script run litedir as a real command: testscript
// puts a copy of the test binary named "litedir" on their PATH, and TestMain
// turns that copy into the command.

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"litedir": litedirMain})
}

// envStdoutCopy names a file that litedir, run by a script, also appends its
// standard output to. testscript keeps a background command's output to
// itself until the command ends; the copy lets a script wait (with waitmatch)
// for the "locked" line of a "litedir lock" running in the background instead
// of sleeping and hoping.
const envStdoutCopy = "LITEDIR_TEST_STDOUT"

// litedirMain is main, plus the copy of standard output to $LITEDIR_TEST_STDOUT.
func litedirMain() {
	var stdout io.Writer = os.Stdout
	var tee *os.File
	if path := os.Getenv(envStdoutCopy); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "litedir (test): %v\n", err)
			os.Exit(exitError)
		}
		tee = f
		stdout = io.MultiWriter(os.Stdout, f)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdout, os.Stderr)
	stop()
	if tee != nil {
		tee.Close()
	}
	os.Exit(code)
}

func TestScripts(t *testing.T) {
	// Compile SQLite once here, filling the engine cache that every litedir
	// the scripts run then loads in milliseconds.
	if err := ncruces.Initialize(nil); err != nil {
		t.Fatalf("ncruces.Initialize: %v", err)
	}
	cacheDir := ncruces.EngineInfo().CacheDir
	if cacheDir == "" {
		cacheDir = "off"
		t.Logf("no engine cache (%s): every litedir the scripts run compiles SQLite", ncruces.EngineInfo().CacheNote)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			// Scripts get a clean environment with HOME=/no-home, where
			// os.UserCacheDir has no cache: pass this process's on.
			env.Setenv(ncruces.EnvCacheDir, cacheDir)
			if os.Getenv("GORACE") == "" {
				// A race-enabled binary sleeps a second before it exits
				// so that other goroutines can report; the scripts run
				// dozens of them. Races are still reported.
				env.Setenv("GORACE", "atexit_sleep_ms=0")
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"waitmatch": cmdWaitMatch,
			"sqlite":    cmdSQLite,
			"sums":      cmdSums,
			"zeropage":  cmdZeroPage,
		},
	})
}

// cmdExits implements "exits N PROGRAM [ARGS...]": run PROGRAM like exec
// and require exit status N, which exec cannot tell from any other failure.
// Its stdout and stderr are there for the next stdout and stderr commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits N PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exits: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status: got %d, want %d", got, want)
	}
}

// waitTimeout bounds waitmatch. It is a safety net for a broken test, not a
// measurement: a healthy wait ends in milliseconds.
const waitTimeout = time.Minute

// cmdWaitMatch implements "waitmatch FILE REGEXP": wait until FILE exists and
// its content matches REGEXP (in multi-line mode, like testscript's stdout).
func cmdWaitMatch(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! waitmatch")
	}
	if len(args) != 2 {
		ts.Fatalf("usage: waitmatch FILE REGEXP")
	}
	path := ts.MkAbs(args[0])
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(path)
		if err == nil && re.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitmatch: %s did not match %q within %v (content %q, error %v)", args[0], args[1], waitTimeout, b, err)
		}
		<-tick.C
	}
}

// cmdSQLite implements "sqlite DB SQL" and "sqlite -q DB SQL": run SQL (one
// or more statements) on the database file DB, creating it if needed, or
// with -q run one query and print its rows, columns separated by "|". The
// connection sets only the busy timeout and foreign_keys=OFF, and keeps the
// file's journal mode: scripts use it to build what litedir itself would
// refuse to write. With "!" the SQL must fail.
func cmdSQLite(ts *testscript.TestScript, neg bool, args []string) {
	query := len(args) > 0 && args[0] == "-q"
	if query {
		args = args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: sqlite [-q] DB SQL")
	}
	ctx := context.Background()
	path := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(path), 0o777))
	db, err := ncruces.Open(ctx, ncruces.Config{
		Path: path,
		// The driver's SQLite turns foreign keys on by default.
		Pragmas: []ncruces.Pragma{{Name: "busy_timeout", Value: "10000"}, {Name: "foreign_keys", Value: "OFF"}},
	})
	ts.Check(err)
	defer func() { ts.Check(db.Close()) }()

	if !query {
		_, err = db.ExecContext(ctx, args[1])
	} else {
		err = printRows(ctx, ts.Stdout(), db, args[1])
	}
	switch {
	case err != nil && !neg:
		ts.Fatalf("sqlite: %v", err)
	case err == nil && neg:
		ts.Fatalf("sqlite: unexpected success")
	case err != nil:
		fmt.Fprintf(ts.Stderr(), "%v\n", err)
	}
}

// printRows runs query on db and prints its rows to w, one per line, columns
// separated by "|", NULL as "NULL".
func printRows(ctx context.Context, w io.Writer, db *sql.DB, query string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		line := make([]string, len(vals))
		for i, v := range vals {
			line[i] = "NULL"
			if v.Valid {
				line[i] = v.String
			}
		}
		fmt.Fprintln(w, strings.Join(line, "|"))
	}
	return rows.Err()
}

// cmdSums implements "sums DIR": print, for every file in the workspace
// directory DIR, its name, size and SHA-256, one line each in name order.
// Scripts save the output before a read-only command and compare it with
// the output after, to prove that the command changed no byte.
//
// The -shm file is left out: it is SQLite's shared-memory WAL index, not
// data, and every reader of a WAL database writes its read marks into it
// (https://sqlite.org/walformat.html), as any sqlite3 shell would. So is an
// empty -wal file: SQLite creates one when it opens a WAL database, for
// reading too, and an empty WAL holds nothing; a WAL with frames in it is
// compared like any file.
func cmdSums(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sums DIR")
	}
	dir := ts.MkAbs(args[0])
	entries, err := os.ReadDir(dir)
	ts.Check(err)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "-shm") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		ts.Check(err)
		if strings.HasSuffix(e.Name(), "-wal") && len(b) == 0 {
			continue
		}
		fmt.Fprintf(ts.Stdout(), "%s %d %x\n", e.Name(), len(b), sha256.Sum256(b))
	}
}

// cmdZeroPage implements "zeropage FILE PGNO": overwrite page PGNO of the
// database FILE with zeros, at the page size its header names, as a disk
// that lost a block would.
func cmdZeroPage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zeropage FILE PGNO")
	}
	path := ts.MkAbs(args[0])
	pgno, err := strconv.Atoi(args[1])
	ts.Check(err)
	b, err := os.ReadFile(path)
	ts.Check(err)
	size := int(binary.BigEndian.Uint16(b[16:]))
	if size == 1 {
		size = 65536
	}
	from := (pgno - 1) * size
	if pgno < 1 || from+size > len(b) {
		ts.Fatalf("zeropage: %s has no page %d", path, pgno)
	}
	clear(b[from : from+size])
	ts.Check(os.WriteFile(path, b, 0o600))
}
