package workspace_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/workspace"
)

// BenchmarkSalvage measures the salvage of a workspace of about 100 MB
// (420,000 messages, one in a thousand long enough for overflow pages),
// made once: "read" is the salvage reader alone (every page read, every
// row decoded and verified, nothing written), "recover" is Recover into a
// new workspace. Both report MB/s of the damaged database file; the
// database is healthy, so every page is on a b-tree and read once.
//
//	go test -run '^$' -bench Salvage -benchtime 3x ./workspace
func BenchmarkSalvage(b *testing.B) {
	ctx := testdir.Context(b)
	src := testdir.New(b)
	ws, err := workspace.Open(ctx, src, &workspace.Options{Migrations: migrations.Builtin})
	if err != nil {
		b.Fatal(err)
	}
	_, err = ws.DB().ExecContext(ctx, `
		WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100)
		INSERT INTO sessions(id, title) SELECT i, 'session ' || i FROM s;
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 420000)
		INSERT INTO messages(session_id, role, body)
		SELECT 1 + i % 100, 'assistant',
		       printf('message %d: %s', i, CASE WHEN i % 1000 = 0 THEN hex(randomblob(4000)) ELSE hex(randomblob(100)) END)
		FROM n`)
	if err != nil {
		b.Fatal(err)
	}
	if err := ws.Close(); err != nil {
		b.Fatal(err)
	}
	info, err := os.Stat(workspace.DatabasePath(src, ""))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("workspace of %.1f MB", float64(info.Size())/1e6)

	b.Run("read", func(b *testing.B) {
		b.SetBytes(info.Size())
		for b.Loop() {
			n, err := workspace.SalvageRows(ctx, src)
			if err != nil || n < 420000 {
				b.Fatalf("%d rows, %v", n, err)
			}
		}
	})
	b.Run("recover", func(b *testing.B) {
		b.SetBytes(info.Size())
		i := 0
		for b.Loop() {
			dst := filepath.Join(testdir.New(b), fmt.Sprint(i))
			i++
			r, err := workspace.Recover(ctx, src, dst, &workspace.RecoverOptions{Migrations: migrations.Builtin})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
