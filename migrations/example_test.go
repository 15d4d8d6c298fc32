package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"

	"github.com/litedir/litedir/migrations"
)

// Migrate a new database to the builtin schema, then check it is up to date.
func ExampleMigrator_Up() {
	dir, err := os.MkdirTemp("", "litedir-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// One connection and BEGIN IMMEDIATE, as litedir's workspace opens it.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "agent.db")+"?_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close() // the Migrator never closes db
	db.SetMaxOpenConns(1)

	m, err := migrations.New(db, migrations.Builtin, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	applied, err := m.Up(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range applied {
		fmt.Println("applied", a.Version, a.Source)
	}

	st, err := m.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("version %d of %d, %d pending\n", st.Current, st.Latest, len(st.Pending))
	// Output:
	// applied 1 00001_init.sql
	// applied 2 00002_files_usage.sql
	// version 2 of 2, 0 pending
}
