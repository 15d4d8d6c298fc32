package migrations_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/migrations"
)

func TestUpTo(t *testing.T) {
	ctx := testdir.Context(t)
	db := mustOpen(t, filepath.Join(t.TempDir(), "db.sqlite"), "")
	m := mustNew(t, db, threeFS, nil)

	// An unknown version applies nothing, not even goose's version table.
	if _, err := m.UpTo(ctx, 7); !errors.Is(err, migrations.ErrUnknownVersion) {
		t.Fatalf("UpTo(7) = %v, want ErrUnknownVersion", err)
	}
	if got := mustTables(t, ctx, db); len(got) != 0 {
		t.Errorf("got tables %v after a refused UpTo, want none", got)
	}

	applied, err := m.UpTo(ctx, 2)
	if err != nil {
		t.Fatalf("UpTo(2): %v", err)
	}
	if got, want := appliedVersions(applied), []int64{1, 2}; !slices.Equal(got, want) {
		t.Errorf("UpTo(2) applied %v, want %v", got, want)
	}
	checkStatus(t, mustStatus(t, ctx, m), 2, 3, []int64{3})

	// Up to where it is: nothing to do.
	if applied, err := m.UpTo(ctx, 2); err != nil || len(applied) != 0 {
		t.Errorf("UpTo(2) again = %v, %v; want nothing applied", appliedVersions(applied), err)
	}
	// Below it: refused, nothing changes.
	if _, err := m.UpTo(ctx, 1); !errors.Is(err, migrations.ErrTargetBehind) {
		t.Errorf("UpTo(1) at version 2 = %v, want ErrTargetBehind", err)
	}
	checkStatus(t, mustStatus(t, ctx, m), 2, 3, []int64{3})

	if got, want := appliedVersions(mustUp(t, ctx, m)), []int64{3}; !slices.Equal(got, want) {
		t.Errorf("Up after UpTo(2) applied %v, want %v", got, want)
	}

	// A database newer than every migration is refused as by Up.
	old := mustNew(t, db, subset(threeFS, "00001_one.sql"), nil)
	var tooNew *migrations.SchemaTooNewError
	if _, err := old.UpTo(ctx, 1); !errors.As(err, &tooNew) || tooNew.Current != 3 {
		t.Errorf("UpTo(1) with a newer database = %v, want *SchemaTooNewError at 3", err)
	}
}

func TestLoad(t *testing.T) {
	list, err := migrations.Load(migrations.Builtin)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || list[0].Version != 1 {
		t.Fatalf("Load(Builtin) = %v, want the built-in migrations from version 1", list)
	}
	bad := fstest.MapFS{"1_x.sql": {Data: []byte("no annotation")}}
	if _, err := migrations.Load(bad); !errors.Is(err, migrations.ErrInvalidMigration) {
		t.Errorf("Load of a file without '-- +goose Up' = %v, want ErrInvalidMigration", err)
	}
	sub := fstest.MapFS{"migrations/00001_a.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	if _, err := migrations.Load(sub); !errors.Is(err, migrations.ErrSubdirectory) {
		t.Errorf("Load of files in a subdirectory = %v, want ErrSubdirectory", err)
	}
}
