package ncruces_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/litedir/litedir/ncruces"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "litedir-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	// A writer pool: one connection, BEGIN IMMEDIATE, litedir's pragmas.
	db, err := ncruces.Open(ctx, ncruces.Config{
		Path:      filepath.Join(dir, "notes.db"),
		Immediate: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if _, err := db.ExecContext(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)`); err != nil {
		log.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO notes (body) VALUES (?)`, "hello"); err != nil {
		log.Fatal(err)
	}

	// Errors classify by SQLite's code.
	_, err = db.ExecContext(ctx, `INSERT INTO notes (body) VALUES (?)`, "hello")
	fmt.Println("duplicate is a constraint error:", errors.Is(err, ncruces.ErrConstraint))

	var body string
	if err := db.QueryRowContext(ctx, `SELECT body FROM notes WHERE id = 1`).Scan(&body); err != nil {
		log.Fatal(err)
	}
	fmt.Println(body)

	// Output:
	// duplicate is a constraint error: true
	// hello
}
