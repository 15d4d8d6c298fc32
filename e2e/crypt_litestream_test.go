package e2e_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/internal/testproc"
	"github.com/litedir/litedir/migrations"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestLitestreamEncrypted pins what Litestream (v0.5.18) does beside an
// encrypted workspace: it cannot replicate it, and it does it no harm.
// Litestream reads the database through its own SQLite and parses the WAL's
// frame headers itself; encrypted, both are noise to it, so its syncs fail
// with "file is not a database" and its replica holds nothing readable. The
// test runs it beside a writer process, then kills the writer (SIGKILL) with
// transactions in the WAL and runs Litestream again while nothing else has
// the workspace open (where a plain SQLite connection closing would delete
// the WAL; Litestream keeps it, PERSIST_WAL): afterwards the key finds
// every acknowledged message, and no file of the replica holds plaintext.
func TestLitestreamEncrypted(t *testing.T) {
	var cfg writerConfig
	if testproc.IsChild(t, &cfg) {
		runWriters(t, cfg)
		return
	}
	bin := needLitestream(t)
	ctx := testdir.Context(t)
	dir := t.TempDir()
	replica := filepath.Join(t.TempDir(), "replica")
	db := dbPath(dir)
	key, keyFile := newKeyFile(t)
	sc := startScanner([]string{dir, replica}, cryptMarker)
	defer func() {
		if found, scans := sc.finish(); len(found) > 0 || scans < 3 {
			t.Errorf("after %d scans, the plaintext marker in %v", scans, found)
		}
	}()

	w := testproc.Start(t, "writer", writerConfig{
		Dir:     dir,
		Pragmas: []ncruces.Pragma{{Name: "wal_autocheckpoint", Value: "0"}},
		Writers: 4,
		Prefix:  cryptMarker,
		Key:     key,
	})
	w.WaitFor(ctx, readyLine)
	acks := collectLsAcks(w)
	ls := startLitestream(t, bin, db, replica)
	acks.waitCount(ctx, t, 500)
	if _, err := ls.trySync(ctx, db); err == nil || !strings.Contains(err.Error(), "file is not a database") {
		t.Errorf("litestream sync of an encrypted workspace: got %v, want the failure that README describes (file is not a database)\nlitestream:\n%s", err, ls.out.String())
	}
	acks.waitCount(ctx, t, acks.count()+500)
	killAcked(ctx, t, w, acks)
	ls.stop(ctx)

	// Litestream alone on the workspace the kill left, its WAL full.
	ls = startLitestream(t, bin, db, replica)
	waitOutput(ctx, t, &ls.out, "file is not a database")
	ls.stop(ctx)

	acked := acks.prefix(acks.count())
	ws := mustOpen(t, ctx, dir, &workspace.Options{Migrations: migrations.Builtin, Key: workspace.KeyFile(keyFile)})
	mustCheck(t, ctx, ws)
	stored := bodies(t, ctx, ws)
	lost := 0
	for _, body := range acked {
		if stored[body] != 1 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged messages not found once after Litestream ran", lost, len(acked))
	}
	t.Logf("litestream encrypted: %d acknowledged, all found with the key after Litestream ran beside the writer and after the kill", len(acked))
}

// waitOutput waits until out holds text, checking every 20 ms, or fails
// the test when ctx ends.
func waitOutput(ctx context.Context, t *testing.T, out *testproc.Buffer, text string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(out.String(), text) {
		select {
		case <-ctx.Done():
			t.Fatalf("%q never appeared: %v\n%s", text, context.Cause(ctx), out.String())
		case <-tick.C:
		}
	}
}
