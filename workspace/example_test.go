package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/litedir/litedir/lock"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "litedir-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ws, err := workspace.Open(ctx, dir, &workspace.Options{
		Program:    "myagent/1.4.2",
		Migrations: migrations.Builtin,
	})
	var locked *lock.LockedError
	if errors.As(err, &locked) {
		log.Fatalf("another instance owns %s: pid %d", dir, locked.Owner.PID)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()

	// Many goroutines may call Write at once: their functions share one
	// transaction, each in its own savepoint.
	err = ws.Write(ctx, func(q workspace.Querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO sessions(title) VALUES (?)`, "refactor")
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx,
			`INSERT INTO messages(session_id, role, body) VALUES (?, 'user', ?)`, id, "hello")
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	// Reads go to the read pool and never wait behind a write.
	var n int
	err = ws.ReadDB().QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&n)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("messages:", n)
	// Output: messages: 1
}

func ExampleOpenReadOnly() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "litedir-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	owner, err := workspace.Open(ctx, dir, &workspace.Options{Program: "owner/1.0", Migrations: migrations.Builtin})
	if err != nil {
		log.Fatal(err)
	}
	if err := owner.Close(); err != nil {
		log.Fatal(err)
	}

	// A status tool looks without the lock. It can also look while an owner
	// works, except where the owner holds the database file exclusively
	// (Windows: see OpenReadOnly).
	ro, err := workspace.OpenReadOnly(ctx, dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	st, err := ro.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read-only:", st.ReadOnly, "schema version:", st.Schema.Current)
	// Output: read-only: true schema version: 2
}

// The front: code written for database/sql runs unchanged on ws.SQL(), and
// its writes are committed in groups with other goroutines' writes.
func ExampleWorkspace_SQL() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "litedir-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ws, err := workspace.Open(ctx, dir, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()

	db := ws.SQL()
	// A statement that writes and returns rows joins a group-commit batch;
	// its rows come back after the commit.
	var id int64
	if err := db.QueryRowContext(ctx,
		`INSERT INTO sessions(title) VALUES (?) RETURNING id`, "refactor").Scan(&id); err != nil {
		log.Fatal(err)
	}
	if _, err := db.ExecContext(ctx,
		`INSERT INTO messages(session_id, role, body) VALUES (?, 'user', ?)`, id, "hello"); err != nil {
		log.Fatal(err)
	}
	// A read goes to the read pool, and sees the writes that returned.
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE session_id = ?`, id).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println("messages:", n)
	// Output: messages: 1
}

func ExampleRecover() {
	ctx := context.Background()
	root, err := os.MkdirTemp("", "litedir-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	damaged := filepath.Join(root, "data")

	// A workspace whose first page, the header and the schema, is lost.
	ws, err := workspace.Open(ctx, damaged, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		log.Fatal(err)
	}
	_, err = ws.DB().ExecContext(ctx, `INSERT INTO sessions(id, title) VALUES (1, 'refactor');
		INSERT INTO messages(session_id, role, body) VALUES (1, 'user', 'hello')`)
	if err != nil {
		log.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(ws.Path())
	if err != nil {
		log.Fatal(err)
	}
	clear(b[:4096])
	if err := os.WriteFile(ws.Path(), b, 0o600); err != nil {
		log.Fatal(err)
	}

	// Schema-aware: the migrations say what the tables look like.
	report, err := workspace.Recover(ctx, damaged, filepath.Join(root, "recovered"), &workspace.RecoverOptions{
		Migrations: migrations.Builtin,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range report.Tables {
		if t.Rows > 0 {
			fmt.Printf("%s: %d rows (%d from pages no b-tree reached)\n", t.Name, t.Rows, t.FromOrphans)
		}
	}
	fmt.Println("lost:", report.Err() != nil, "- the schema page itself is gone")
	// Output:
	// messages: 1 rows (1 from pages no b-tree reached)
	// sessions: 1 rows (1 from pages no b-tree reached)
	// lost: true - the schema page itself is gone
}
