package lock

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/litedir/litedir/internal/testdir"
)

// acquire is Acquire for the tests of the lock's behaviour: where the platform has no locks
// (Supported is false) it accepts the in-process lock, so that those tests run there too, on
// the in-process table alone. TestUnsupported checks Acquire itself there.
func acquire(ctx context.Context, dir string, opts Options) (*Lock, error) {
	opts.AllowInProcess = opts.AllowInProcess || !Supported
	return Acquire(ctx, dir, opts)
}

// mustAcquire acquires the lock of dir with opts and releases it when the test ends.
func mustAcquire(t *testing.T, dir string, opts Options) *Lock {
	t.Helper()
	l, err := acquire(t.Context(), dir, opts)
	if err != nil {
		t.Fatalf("Acquire(%q, %+v): got %v, want nil", dir, opts, err)
	}
	t.Cleanup(func() { l.Release() })
	return l
}

// mustRelease releases l.
func mustRelease(t *testing.T, l *Lock) {
	t.Helper()
	if err := l.Release(); err != nil {
		t.Fatalf("Release: got %v, want nil", err)
	}
}

// mustReadOwner returns the owner record of dir's default lock file.
func mustReadOwner(t *testing.T, dir string) Owner {
	t.Helper()
	o, err := ReadOwner(dir, "")
	if err != nil {
		t.Fatalf("ReadOwner(%q): got %v, want nil", dir, err)
	}
	return o
}

// mustWriteFile writes data to path.
func mustWriteFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustSymlink creates a symbolic link, skipping the test where the platform does not make one.
func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	testdir.Symlink(t, target, link)
}

// wantLocked checks that err is a *LockedError for dir that matches ErrLocked, and returns it.
func wantLocked(t *testing.T, err error, dir string, mode Mode) *LockedError {
	t.Helper()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("errors.Is(%v, ErrLocked): got false, want true", err)
	}
	le, ok := errors.AsType[*LockedError](err)
	if !ok {
		t.Fatalf("errors.As(%v, *LockedError): got false, want true", err)
	}
	if le.Dir != dir || le.Path != Path(dir, "") || le.Mode != mode {
		t.Errorf("LockedError{Dir, Path, Mode}: got {%q, %q, %v}, want {%q, %q, %v}", le.Dir, le.Path, le.Mode, dir, Path(dir, ""), mode)
	}
	return le
}

// sameOwner reports whether a and b are the same record (times compared with Equal).
func sameOwner(a, b Owner) bool {
	return a.PID == b.PID && a.Host == b.Host && a.Program == b.Program &&
		a.StartedAt.Equal(b.StartedAt) && maps.Equal(a.Meta, b.Meta)
}

func TestPath(t *testing.T) {
	tests := []struct {
		dir, name, want string
	}{
		{"data", "", filepath.Join("data", "litedir.lock")},
		{"data", "app", filepath.Join("data", "app.lock")},
		{filepath.Join("a", "b"), "x.y", filepath.Join("a", "b", "x.y.lock")},
	}
	for _, tt := range tests {
		if got := Path(tt.dir, tt.name); got != tt.want {
			t.Errorf("Path(%q, %q): got %q, want %q", tt.dir, tt.name, got, tt.want)
		}
	}
}

func TestModeString(t *testing.T) {
	tests := []struct {
		mode Mode
		want string
	}{
		{Exclusive, "exclusive"},
		{Shared, "shared"},
		{Mode(7), "Mode(7)"},
	}
	for _, tt := range tests {
		if got := tt.mode.String(); got != tt.want {
			t.Errorf("Mode(%d).String(): got %q, want %q", int(tt.mode), got, tt.want)
		}
	}
}

func TestAcquireRelease(t *testing.T) {
	dir := testdir.New(t)
	meta := map[string]string{"addr": "127.0.0.1:7070"}
	before := time.Now().Add(-time.Second)
	l := mustAcquire(t, dir, Options{Meta: meta})

	if got, want := l.Path(), Path(dir, ""); got != want {
		t.Errorf("Path: got %q, want %q", got, want)
	}
	if got := l.Mode(); got != Exclusive {
		t.Errorf("Mode: got %v, want %v", got, Exclusive)
	}
	o := l.Owner()
	host, _ := os.Hostname()
	if o.PID != os.Getpid() || o.Host != host || o.Program != filepath.Base(os.Args[0]) {
		t.Errorf("Owner: got %+v, want pid %d, host %q, program %q", o, os.Getpid(), host, filepath.Base(os.Args[0]))
	}
	if o.StartedAt.Before(before) {
		t.Errorf("Owner.StartedAt: got %v, want after %v", o.StartedAt, before)
	}
	if !maps.Equal(o.Meta, meta) {
		t.Errorf("Owner.Meta: got %v, want %v", o.Meta, meta)
	}

	// The record belongs to the lock: neither the caller's map nor a returned copy changes it.
	meta["addr"] = "changed"
	o.Meta["addr"] = "changed too"
	if got := l.Owner().Meta["addr"]; got != "127.0.0.1:7070" {
		t.Errorf("Owner().Meta after changing maps: got %q, want %q", got, "127.0.0.1:7070")
	}

	if got := mustReadOwner(t, dir); !sameOwner(got, l.Owner()) {
		t.Errorf("ReadOwner while held: got %+v, want %+v", got, l.Owner())
	}

	mustRelease(t, l)
	for i := range 2 {
		if err := l.Release(); err != nil {
			t.Errorf("Release #%d after the first: got %v, want nil", i+2, err)
		}
	}
	if got := mustReadOwner(t, dir); !got.IsZero() {
		t.Errorf("ReadOwner after Release: got %+v, want zero", got)
	}
	// The lock file stays: deleting it would let two holders lock two different files.
	if _, err := os.Lstat(Path(dir, "")); err != nil {
		t.Errorf("lock file after Release: got %v, want it kept", err)
	}

	l2 := mustAcquire(t, dir, Options{})
	mustRelease(t, l2)
}

func TestReleaseConcurrent(t *testing.T) {
	dir := testdir.New(t)
	l := mustAcquire(t, dir, Options{})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_ = l.Owner()
			errs[i] = l.Release()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Release #%d: got %v, want nil", i, err)
		}
	}
	mustAcquire(t, dir, Options{})
}

// modePairs are the modes of a first holder and a second comer, and whether the first keeps
// the second out: the cases of TestInProcess and TestAcrossProcesses.
var modePairs = []struct {
	first, second Mode
	wantLocked    bool
}{
	{Exclusive, Exclusive, true},
	{Exclusive, Shared, true},
	{Shared, Exclusive, true},
	{Shared, Shared, false},
}

func TestInProcess(t *testing.T) {
	for _, tt := range modePairs {
		t.Run(tt.first.String()+"/"+tt.second.String(), func(t *testing.T) {
			dir := testdir.New(t)
			first := mustAcquire(t, dir, Options{Mode: tt.first, Program: "first"})
			second, err := acquire(t.Context(), dir, Options{Mode: tt.second, Program: "second"})
			if !tt.wantLocked {
				if err != nil {
					t.Fatalf("second Acquire: got %v, want nil", err)
				}
				mustRelease(t, second)
				mustRelease(t, first)
				mustAcquire(t, dir, Options{})
				return
			}
			le := wantLocked(t, err, dir, tt.second)
			if tt.first == Exclusive {
				if !sameOwner(le.Owner, first.Owner()) {
					t.Errorf("LockedError.Owner: got %+v, want %+v", le.Owner, first.Owner())
				}
				if want := "pid " + strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), want) {
					t.Errorf("error %q: want it to contain %q", err, want)
				}
			} else if !le.HeldShared || !le.Owner.IsZero() {
				t.Errorf("LockedError{HeldShared, Owner}: got {%v, %+v}, want {true, zero}", le.HeldShared, le.Owner)
			}
			mustRelease(t, first)
			mustAcquire(t, dir, Options{Mode: tt.second})
		})
	}
}

func TestSharedHoldersInProcess(t *testing.T) {
	// Several shared holders in one process: the lock stays shared until the last one goes.
	dir := testdir.New(t)
	a := mustAcquire(t, dir, Options{Mode: Shared})
	b := mustAcquire(t, dir, Options{Mode: Shared})
	mustRelease(t, a)
	_, err := acquire(t.Context(), dir, Options{})
	wantLocked(t, err, dir, Exclusive)
	mustRelease(t, b)
	mustAcquire(t, dir, Options{})
}

func TestOptionsName(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"", true},
		{"app", true},
		{"app.v2", true},
		{".hidden", true},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"../up", false},
		{`a\b`, false},
		{"/abs", false},
		{"nul\x00byte", false},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.name), func(t *testing.T) {
			if err := CheckName(tt.name); (err == nil) != tt.valid || (err != nil && !errors.Is(err, ErrInvalidOptions)) {
				t.Errorf("CheckName: got %v, want valid %v (or ErrInvalidOptions)", err, tt.valid)
			}
			dir := testdir.New(t)
			l, err := acquire(t.Context(), dir, Options{Name: tt.name})
			if tt.valid {
				if err != nil {
					t.Fatalf("Acquire: got %v, want nil", err)
				}
				defer l.Release()
				if got, want := l.Path(), Path(dir, tt.name); got != want {
					t.Errorf("Path: got %q, want %q", got, want)
				}
				if got, want := testdir.Names(t, dir), []string{filepath.Base(Path(dir, tt.name))}; !slices.Equal(got, want) {
					t.Errorf("dir entries: got %q, want %q", got, want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("Acquire: got %v, want ErrInvalidOptions", err)
			}
			if _, ok := errors.AsType[*fs.PathError](err); !ok {
				t.Errorf("Acquire: got %T, want *fs.PathError", err)
			}
			if got := testdir.Names(t, dir); len(got) != 0 {
				t.Errorf("dir entries: got %q, want none", got)
			}
		})
	}
}

func TestInvalidMode(t *testing.T) {
	dir := testdir.New(t)
	_, err := acquire(t.Context(), dir, Options{Mode: Mode(2)})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Acquire: got %v, want ErrInvalidOptions", err)
	}
	if got := testdir.Names(t, dir); len(got) != 0 {
		t.Errorf("dir entries: got %q, want none", got)
	}
}

func TestBadDir(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		parent := testdir.New(t)
		dir := filepath.Join(parent, "missing")
		_, err := acquire(t.Context(), dir, Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Acquire: got %v, want fs.ErrNotExist", err)
		}
		if pe, ok := errors.AsType[*fs.PathError](err); !ok || pe.Path != dir {
			t.Errorf("Acquire: got %#v, want *fs.PathError for %q", err, dir)
		}
		if got := testdir.Names(t, parent); len(got) != 0 {
			t.Errorf("parent entries: got %q, want none", got)
		}
	})
	t.Run("file", func(t *testing.T) {
		dir := filepath.Join(testdir.New(t), "file")
		mustWriteFile(t, dir, []byte("data"))
		_, err := acquire(t.Context(), dir, Options{})
		if !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("Acquire: got %v, want ENOTDIR", err)
		}
		if pe, ok := errors.AsType[*fs.PathError](err); !ok || pe.Path != dir {
			t.Errorf("Acquire: got %#v, want *fs.PathError for %q", err, dir)
		}
		if got := testdir.ReadFile(t, dir); string(got) != "data" {
			t.Errorf("file content: got %q, want %q", got, "data")
		}
	})
	t.Run("lock file is a directory", func(t *testing.T) {
		dir := testdir.New(t)
		if err := os.Mkdir(Path(dir, ""), 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := acquire(t.Context(), dir, Options{})
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("Acquire: got %v, want ErrNotRegular", err)
		}
		if pe, ok := errors.AsType[*fs.PathError](err); !ok || pe.Path != Path(dir, "") {
			t.Errorf("Acquire: got %#v, want *fs.PathError for %q", err, Path(dir, ""))
		}
		if got := testdir.Names(t, Path(dir, "")); len(got) != 0 {
			t.Errorf("lock directory entries: got %q, want none", got)
		}
		if _, err := ReadOwner(dir, ""); !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadOwner: got %v, want ErrNotRegular", err)
		}
	})
}

func TestSymlink(t *testing.T) {
	t.Run("to a file", func(t *testing.T) {
		dir, other := testdir.New(t), testdir.New(t)
		target := filepath.Join(other, "precious")
		content := []byte(`{"pid": 1, "program": "not a lock"}`)
		mustWriteFile(t, target, content)
		mustSymlink(t, target, Path(dir, ""))

		for _, mode := range []Mode{Exclusive, Shared} {
			_, err := acquire(t.Context(), dir, Options{Mode: mode})
			if !errors.Is(err, ErrSymlink) {
				t.Errorf("Acquire(%v): got %v, want ErrSymlink", mode, err)
			}
			if _, ok := errors.AsType[*fs.PathError](err); !ok {
				t.Errorf("Acquire(%v): got %T, want *fs.PathError", mode, err)
			}
		}
		if _, err := ReadOwner(dir, ""); !errors.Is(err, ErrSymlink) {
			t.Errorf("ReadOwner: got %v, want ErrSymlink", err)
		}
		if got := testdir.ReadFile(t, target); !bytes.Equal(got, content) {
			t.Errorf("target content: got %q, want %q", got, content)
		}
	})
	t.Run("dangling", func(t *testing.T) {
		dir, other := testdir.New(t), testdir.New(t)
		target := filepath.Join(other, "created")
		mustSymlink(t, target, Path(dir, ""))
		if _, err := acquire(t.Context(), dir, Options{}); !errors.Is(err, ErrSymlink) {
			t.Errorf("Acquire: got %v, want ErrSymlink", err)
		}
		if got := testdir.Names(t, other); len(got) != 0 {
			t.Errorf("target dir entries: got %q, want none", got)
		}
	})
	t.Run("directory is a symlink", func(t *testing.T) {
		// Only the lock file itself is not followed; dir may be a link to a directory.
		real := testdir.New(t)
		dir := filepath.Join(testdir.New(t), "link")
		mustSymlink(t, real, dir)
		l := mustAcquire(t, dir, Options{})
		if _, err := os.Stat(Path(real, "")); err != nil {
			t.Errorf("lock file in the real directory: got %v, want it there", err)
		}
		mustRelease(t, l)
	})
}

func TestGarbageRecord(t *testing.T) {
	dir := testdir.New(t)
	garbage := []byte("\x00\xffnot json at all{{{\n")
	mustWriteFile(t, Path(dir, ""), garbage)
	if got := mustReadOwner(t, dir); !got.IsZero() {
		t.Errorf("ReadOwner of garbage: got %+v, want zero", got)
	}

	l := mustAcquire(t, dir, Options{Program: "rewriter"})
	if got := mustReadOwner(t, dir); !sameOwner(got, l.Owner()) {
		t.Errorf("ReadOwner after Acquire: got %+v, want %+v", got, l.Owner())
	}
	mustRelease(t, l)
	if got := testdir.ReadFile(t, Path(dir, "")); len(got) != 0 {
		t.Errorf("lock file after Release: got %q, want empty", got)
	}
}

func TestLongerStaleRecord(t *testing.T) {
	// A stale record longer than the new one must not leave its tail behind.
	dir := testdir.New(t)
	stale := Owner{PID: 999999, Program: strings.Repeat("x", 1000), Meta: map[string]string{"k": strings.Repeat("v", 1000)}}
	rec, err := encodeOwner(stale)
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, Path(dir, ""), rec)
	l := mustAcquire(t, dir, Options{Program: "short"})
	want, err := encodeOwner(l.Owner())
	if err != nil {
		t.Fatal(err)
	}
	if got := testdir.ReadFile(t, Path(dir, "")); !bytes.Equal(got, want) {
		t.Errorf("lock file: got %q, want %q", got, want)
	}
}

func TestStaleRecordShared(t *testing.T) {
	dir := testdir.New(t)
	stale := Owner{PID: 999999, Host: "gone", Program: "killed/1.0", StartedAt: time.Date(2026, 11, 23, 18, 45, 0, 0, time.UTC)}
	rec, err := encodeOwner(stale)
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, Path(dir, ""), rec)
	// ReadOwner cannot tell a stale record from a live one.
	if got := mustReadOwner(t, dir); !sameOwner(got, stale) {
		t.Errorf("ReadOwner of stale record: got %+v, want %+v", got, stale)
	}
	l := mustAcquire(t, dir, Options{Mode: Shared})
	if got := l.Owner(); !got.IsZero() {
		t.Errorf("Owner of shared lock: got %+v, want zero", got)
	}
	if got := mustReadOwner(t, dir); !got.IsZero() {
		t.Errorf("ReadOwner after shared Acquire: got %+v, want zero", got)
	}
}

func TestReadOwnerMissing(t *testing.T) {
	dir := testdir.New(t)
	_, err := ReadOwner(dir, "")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadOwner: got %v, want fs.ErrNotExist", err)
	}
	if pe, ok := errors.AsType[*fs.PathError](err); !ok || pe.Path != Path(dir, "") {
		t.Errorf("ReadOwner: got %#v, want *fs.PathError for %q", err, Path(dir, ""))
	}
	if got := testdir.Names(t, dir); len(got) != 0 {
		t.Errorf("dir entries: got %q, want none", got)
	}
}

func TestReadOwnerOfHolderInProcess(t *testing.T) {
	// Reading the record must not disturb the lock, even where closing any descriptor of the
	// file would drop the process's lock (fcntl).
	dir := testdir.New(t)
	l := mustAcquire(t, dir, Options{})
	for range 3 {
		if got := mustReadOwner(t, dir); !sameOwner(got, l.Owner()) {
			t.Fatalf("ReadOwner: got %+v, want %+v", got, l.Owner())
		}
		_, err := acquire(t.Context(), dir, Options{})
		wantLocked(t, err, dir, Exclusive)
	}
}

func TestContextDone(t *testing.T) {
	dir := testdir.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := acquire(ctx, dir, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire: got %v, want context.Canceled", err)
	}
	if got := testdir.Names(t, dir); len(got) != 0 {
		t.Errorf("dir entries: got %q, want none", got)
	}
}

func TestWaitInProcess(t *testing.T) {
	dir := testdir.New(t)
	holder := mustAcquire(t, dir, Options{Program: "holder"})
	waiting := hookWait(t)
	done := make(chan error, 1)
	var got *Lock
	go func() {
		var err error
		got, err = acquire(t.Context(), dir, Options{Wait: time.Minute, Program: "waiter"})
		done <- err
	}()
	waitSignal(t, waiting, "waiter to wait")
	mustRelease(t, holder)
	if err := waitResult(t, done); err != nil {
		t.Fatalf("Acquire with Wait: got %v, want nil", err)
	}
	if got.Owner().Program != "waiter" {
		t.Errorf("Owner().Program: got %q, want %q", got.Owner().Program, "waiter")
	}
	mustRelease(t, got)
}

// TestContended checks that Options.Contended is called once, with the holder, when Acquire
// finds the lock held and waits, before it waits; and not at all without a wait or a holder.
func TestContended(t *testing.T) {
	dir := testdir.New(t)
	var calls []*LockedError
	contended := func(l *LockedError) { calls = append(calls, l) }

	free := mustAcquire(t, dir, Options{Wait: time.Minute, Contended: contended})
	mustRelease(t, free)
	if len(calls) != 0 {
		t.Fatalf("Contended on a free lock: %d calls, want 0", len(calls))
	}

	holder := mustAcquire(t, dir, Options{Program: "holder"})
	defer mustRelease(t, holder)
	if _, err := acquire(t.Context(), dir, Options{Contended: contended}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire without Wait: got %v, want ErrLocked", err)
	}
	if len(calls) != 0 {
		t.Fatalf("Contended without Wait: %d calls, want 0", len(calls))
	}

	waiting := hookWait(t)
	_, err := acquire(t.Context(), dir, Options{Wait: 20 * time.Millisecond, Contended: func(l *LockedError) {
		select {
		case <-waiting:
			t.Error("Contended was called after Acquire began to wait")
		default:
		}
		contended(l)
	}})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire with Wait: got %v, want ErrLocked after the wait", err)
	}
	if len(calls) != 1 || calls[0].Owner.Program != "holder" {
		t.Errorf("Contended: got %d calls (%v), want 1 naming the holder", len(calls), calls)
	}
}

// signalDeadline bounds a wait of t's for a signal from another goroutine or process. It is a
// safety net against hangs, generous enough for a loaded machine, scaled with the platform and
// ending before the test binary's -timeout (testdir.Deadline), not a timing assertion.
func signalDeadline(t *testing.T) time.Duration { return time.Until(testdir.Deadline(t)) }

// hookWait makes Acquire signal the returned channel (once) when it starts waiting.
func hookWait(t *testing.T) <-chan struct{} {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	testHookWait = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(func() { testHookWait = nil })
	return ch
}

// waitSignal waits for ch to be closed.
func waitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	wait := signalDeadline(t)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("no sign of %s within %v", what, wait)
	}
}

// waitResult waits for the result of an Acquire running in another goroutine.
func waitResult(t *testing.T, done <-chan error) error {
	t.Helper()
	wait := signalDeadline(t)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("Acquire did not return within %v", wait)
		return nil
	}
}

// TestReadOwnerName checks that ReadOwner reads the lock file of the name
// given, as Path names it, and not the default one.
func TestReadOwnerName(t *testing.T) {
	dir := testdir.New(t)
	l, err := acquire(t.Context(), dir, Options{Name: "app", Program: "named"})
	if err != nil {
		t.Fatal(err)
	}
	defer mustRelease(t, l)
	got, err := ReadOwner(dir, "app")
	if err != nil || !sameOwner(got, l.Owner()) {
		t.Errorf(`ReadOwner(dir, "app"): got %+v, %v, want %+v`, got, err, l.Owner())
	}
	if _, err := ReadOwner(dir, ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(`ReadOwner(dir, ""): got %v, want fs.ErrNotExist (no default lock file)`, err)
	}
}
