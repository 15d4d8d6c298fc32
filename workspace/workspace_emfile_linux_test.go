package workspace_test

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

// TestFullSyncOutlastsDescriptorExhaustion: a moment with no file
// descriptor to spare (EMFILE) when the first batch commits at FULL does
// not stop the workspace: no descriptor is opened to fsync it, and only an
// fsync that failed would be reason to stop.
func TestFullSyncOutlastsDescriptorExhaustion(t *testing.T) {
	ctx := testdir.Context(t)
	ws := mustOpen(t, testdir.New(t), &workspace.Options{
		Migrations: schema(1),
		Pragmas:    []ncruces.Pragma{{Name: "synchronous", Value: "FULL"}},
	})
	insert := func() error {
		return ws.Write(ctx, func(q workspace.Querier) error {
			_, err := q.ExecContext(ctx, "INSERT INTO notes(body) VALUES ('x')")
			return err
		})
	}

	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		t.Skipf("no RLIMIT_NOFILE: %v", err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open descriptors: %v", err)
	}
	// A limit a little above what is open, then descriptors opened until
	// none is left: the next open fails with EMFILE.
	low := limit
	low.Cur = uint64(len(fds)) + 16
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var filler []*os.File
	restore := func() {
		for _, f := range filler {
			f.Close()
		}
		filler = nil
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
			t.Fatal(err)
		}
	}
	defer restore()
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			restore()
			t.Fatal(err)
		}
		filler = append(filler, f)
	}
	errFirst := insert()
	restore()
	if errFirst != nil {
		t.Errorf("the first Write at FULL with no descriptor to spare: %v", errFirst)
	}
	if err := insert(); err != nil {
		t.Errorf("a Write once descriptors are free again: %v (ErrFailStop: %v)", err, errors.Is(err, workspace.ErrFailStop))
	}
}
