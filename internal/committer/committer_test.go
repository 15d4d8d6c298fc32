package committer

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
)

// start opens a writer pool on a new database and starts a committer on it.
func start(t *testing.T) *Committer {
	t.Helper()
	ctx := testdir.Context(t)
	hooks := NewHooks(HooksConfig{PassivePages: 1000, BusyTimeout: 10 * time.Second})
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := ncruces.Open(ctx, ncruces.Config{Path: path, Immediate: true, MaxConns: 1, Init: hooks.Init})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	c, err := Start(ctx, db, hooks, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// TestNestedMarkers: a goroutine is inside a Write function of c exactly
// when that function's marker frame is on its stack; another committer's
// function, or another goroutine, is not nested.
func TestNestedMarkers(t *testing.T) {
	a, b := start(t), start(t)
	if a.slot == b.slot {
		t.Fatalf("two committers share marker slot %d", a.slot)
	}
	ctx := testdir.Context(t)
	if nested(a) {
		t.Error("nested outside any function")
	}
	err := a.Write(ctx, func(Querier) error {
		if !nested(a) {
			t.Error("not nested inside a's function")
		}
		// A deep stack still finds the marker.
		var deep func(int) bool
		deep = func(n int) bool {
			if n == 0 {
				return nested(a)
			}
			return deep(n - 1)
		}
		if !deep(500) {
			t.Error("not nested 500 frames below a's function")
		}
		// b runs a function meanwhile: calling b from here is not nested
		// for b, and works.
		return b.Write(ctx, func(Querier) error {
			if nested(a) {
				t.Error("b's function, on b's goroutine, is nested in a's")
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Write(ctx, func(Querier) error {
		done := make(chan bool)
		go func() { done <- nested(a) }()
		if <-done {
			t.Error("a goroutine started by the function counts as nested")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Write(ctx, func(Querier) error { return a.Write(ctx, func(Querier) error { return nil }) }); !errors.Is(err, ErrNestedWrite) {
		t.Errorf("nested Write = %v, want ErrNestedWrite", err)
	}
}

// TestStmtCacheBounded: the cache keeps at most maxCachedStmts statements,
// dropping the least recently used, and a text in use gets a temporary
// twin.
func TestStmtCacheBounded(t *testing.T) {
	c := start(t)
	ctx := testdir.Context(t)
	db := c.NewDB()
	defer db.Close()
	for i := range maxCachedStmts + 10 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO t VALUES (%d)", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.w.mu.Lock()
	n := len(c.w.cache.m)
	_, first := c.w.cache.m["INSERT INTO t VALUES (0)"]
	c.w.mu.Unlock()
	if n != maxCachedStmts || first {
		t.Errorf("cache holds %d statements (the oldest: %v), want %d without the oldest", n, first, maxCachedStmts)
	}
	// The same text twice at once (nested rows): the second gets a
	// temporary twin, and both read every row.
	err := c.Write(ctx, func(q Querier) error {
		outer, err := q.QueryContext(ctx, "SELECT x FROM t")
		if err != nil {
			return err
		}
		defer outer.Close()
		pairs := 0
		for outer.Next() {
			inner, err := q.QueryContext(ctx, "SELECT x FROM t")
			if err != nil {
				return err
			}
			for inner.Next() {
				pairs++
			}
			if err := inner.Close(); err != nil {
				return err
			}
		}
		if want := (maxCachedStmts + 10) * (maxCachedStmts + 10); pairs != want {
			return fmt.Errorf("nested reads saw %d pairs, want %d", pairs, want)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoMemError checks that only the driver's out-of-memory panic value
// becomes ErrNoMem: the same text in another type is any other panic.
func TestNoMemError(t *testing.T) {
	for _, p := range []any{nil, "sqlite3: out of memory", errors.New("sqlite3: out of memory"), 42} {
		if err := noMemError(p); err != nil {
			t.Errorf("noMemError(%#v) = %v, want nil", p, err)
		}
	}
}
