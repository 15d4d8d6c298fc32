package ncruces

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

// BenchmarkSecureDelete measures what secure_delete costs a transcript
// store: each iteration commits 20 messages of ~2 KB and deletes the oldest
// 20 (a session pruned as it grows), so deleted content keeps landing on
// pages that are written anyway (FAST zeroes it there) and on whole pages
// that go to the freelist (only ON overwrites those, with extra I/O).
// The README states the result (ns/op per iteration).
func BenchmarkSecureDelete(b *testing.B) {
	body := strings.Repeat("transcript text ", 128)
	for _, mode := range []string{"OFF", "FAST", "ON"} {
		b.Run(mode, func(b *testing.B) {
			pragmas, err := MergePragmas(DefaultPragmas(), Pragma{"secure_delete", mode})
			if err != nil {
				b.Fatal(err)
			}
			db, err := Open(context.Background(), Config{Path: filepath.Join(testdir.New(b), "b.db"), Pragmas: pragmas})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE messages (id INTEGER PRIMARY KEY, session INTEGER, body TEXT); CREATE INDEX messages_session ON messages (session, id)"); err != nil {
				b.Fatal(err)
			}
			insert := func() {
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				for i := range 20 {
					if _, err := tx.Exec("INSERT INTO messages (session, body) VALUES (?, ?)", i%4, body); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			for range 50 {
				insert()
			}
			b.ResetTimer()
			for b.Loop() {
				insert()
				if _, err := db.Exec("DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT 20)"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
