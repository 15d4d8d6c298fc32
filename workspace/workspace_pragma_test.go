package workspace_test

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/internal/observe"
	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// pragmaLog records, for every new connection to a database in one
// directory, the pragmas SQLite prepares on it, in order, as SQLite's
// authorizer reports them ("name=value", the name lower-cased): what SQLite
// itself parsed and ran, not what litedir meant to run.
type pragmaLog struct {
	dir string

	mu    sync.Mutex
	conns [][]string
}

// mustLogPragmas records the pragmas of every new connection to a database
// in dir until the test ends.
func mustLogPragmas(t *testing.T, dir string) *pragmaLog {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	l := &pragmaLog{dir: real}
	t.Cleanup(observe.SetConn(l.conn))
	return l
}

func (l *pragmaLog) conn(c *sqlite3.Conn) {
	fn := c.Filename("main")
	if fn == nil || filepath.Dir(fn.String()) != l.dir {
		return
	}
	l.mu.Lock()
	i := len(l.conns)
	l.conns = append(l.conns, nil)
	l.mu.Unlock()
	// The writer's hooks replace this authorizer once the pragmas have run.
	c.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, name, arg, _, _ string) sqlite3.AuthorizerReturnCode {
		if action == sqlite3.AUTH_PRAGMA {
			l.mu.Lock()
			l.conns[i] = append(l.conns[i], strings.ToLower(name)+"="+arg)
			l.mu.Unlock()
		}
		return sqlite3.AUTH_OK
	})
}

func (l *pragmaLog) take() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns
	l.conns = nil
	return c
}

// TestPragmaOrderOnEveryConnection checks, on every connection a workspace
// opens (the writer, the read pool, a read-only handle), that the first
// pragma SQLite runs is busy_timeout, with the workspace's value, and that
// page_size runs before journal_mode: a page size set after WAL is entered
// is ignored, and a pragma that meets a lock before the busy timeout is set
// fails at once with SQLITE_BUSY. The pragmas given out of order in
// Options.Pragmas must be run in that order too.
func TestPragmaOrderOnEveryConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pragmas []ncruces.Pragma
		timeout string
	}{
		{"defaults", nil, "10000"},
		{"given out of order", []ncruces.Pragma{
			{Name: "journal_mode", Value: "WAL"},
			{Name: "page_size", Value: "8192"},
			{Name: "busy_timeout", Value: "7000"},
		}, "7000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testdir.New(t)
			log := mustLogPragmas(t, dir)
			ctx := testdir.Context(t)
			ws := mustOpen(t, dir, &workspace.Options{Migrations: schema(1), Pragmas: tc.pragmas})
			if err := ws.Write(ctx, insertNote("a")); err != nil {
				t.Fatal(err)
			}
			if _, err := ws.SQL().ExecContext(ctx, "INSERT INTO notes(body) VALUES ('b')"); err != nil {
				t.Fatal(err)
			}
			// Two read connections at once: the pool opens both.
			var held []*sql.Conn
			for range 2 {
				c, err := ws.ReadDB().Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.PingContext(ctx); err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
			}
			for _, c := range held {
				c.Close()
			}
			if ncruces.Platform().LockingExclusive {
				ws.Close() // the owner holds the file: read once it is gone
			}
			ro, err := workspace.OpenReadOnly(ctx, dir, &workspace.Options{Pragmas: tc.pragmas})
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if n := count(t, ro, "SELECT count(*) FROM notes"); n != 2 {
				t.Errorf("notes read back: got %d, want 2", n)
			}

			conns := log.take()
			writers, readers := 0, 0
			for i, ps := range conns {
				t.Logf("connection %d: %q", i, ps)
				if len(ps) == 0 || ps[0] != "busy_timeout="+tc.timeout {
					t.Errorf("connection %d: pragmas %q, want busy_timeout=%s first", i, ps, tc.timeout)
				}
				page := slices.IndexFunc(ps, func(p string) bool { return strings.HasPrefix(p, "page_size=") })
				journal := slices.IndexFunc(ps, func(p string) bool { return strings.HasPrefix(p, "journal_mode=") })
				if page >= 0 && journal >= 0 && page > journal {
					t.Errorf("connection %d: pragmas %q, want page_size before journal_mode", i, ps)
				}
				switch {
				case slices.Contains(ps, "query_only=1"):
					readers++
				case journal >= 0:
					writers++
				}
			}
			if writers == 0 {
				t.Errorf("no writer connection among %d: want its pragmas checked", len(conns))
			}
			if wantReaders := 3; !ncruces.Platform().SingleConnection && readers < wantReaders {
				t.Errorf("read connections: got %d, want at least %d (two of the read pool, one read-only handle)", readers, wantReaders)
			}
		})
	}
}
