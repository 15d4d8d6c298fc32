package committer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/litedir/litedir/internal/observe"
)

// Durable group commit.
//
// With PRAGMA synchronous=FULL, SQLite fsyncs the WAL inside every COMMIT,
// while it holds the write lock: the next batch cannot start until the disk
// has answered, and the CPU idles meanwhile. Instead, batches commit at
// synchronous=NORMAL (which writes the same WAL frames, without the fsync)
// and go to a syncer goroutine, which fsyncs the WAL file and only then
// returns to the batch's callers, while the committer already runs the next
// batch. One fsync covers every batch committed before it.
//
// A write still returns only once its commit is on disk, so what a caller
// was told is committed survives a power cut, as with FULL: the fsync covers
// every frame written up to the commit, and SQLite syncs the WAL header
// whenever it starts the WAL over (at every level but OFF), so a restarted
// WAL cannot hide frames behind a stale header. Other connections may see a
// batch before it is durable, as they may under NORMAL.
//
// The syncer keeps one descriptor on the WAL for its whole life, reopened
// only when the file was replaced: on Linux a writeback error is reported
// once per open file description, so a descriptor opened for each fsync
// could miss an error another one already consumed. And it fails stop:
// after an fsync error, the committer acknowledges no write again (see
// ErrFailStop), because the page cache may have dropped the failed pages
// and a retried fsync would succeed over lost data.
//
// Outside batches the connection runs at the configured level, so
// transactions of DB and the front's BeginTx keep their own durability.

// syncer makes committed batches durable and then reports them to their
// callers.
type syncer struct {
	c       *Committer
	walPath string

	mu      sync.Mutex
	pending [][]*request // committed batches waiting for an fsync

	wake chan struct{} // capacity 1
	quit chan struct{}
	done chan struct{}

	// Owned by the syncer goroutine: the WAL's descriptor, and the
	// identity of the file it has open.
	f  *os.File
	fi os.FileInfo
}

// syncFile is the fsync the syncer runs; tests replace it.
var syncFile = datasync

func newSyncer(c *Committer, walPath string) (*syncer, error) {
	if walPath == "" {
		return nil, errors.New("syncer: no WAL path")
	}
	s := &syncer{
		c:       c,
		walPath: walPath,
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.loop()
	return s, nil
}

// add queues a committed batch for the next fsync.
func (s *syncer) add(reqs []*request) {
	s.mu.Lock()
	s.pending = append(s.pending, reqs)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// stop syncs what is pending and ends the goroutine. The committer loop
// must have stopped: nothing is added after stop.
func (s *syncer) stop() {
	close(s.quit)
	<-s.done
}

func (s *syncer) loop() {
	defer close(s.done)
	defer func() {
		if s.f != nil {
			s.f.Close()
		}
	}()
	for {
		select {
		case <-s.wake:
			s.flush()
		case <-s.quit:
			s.flush()
			return
		}
	}
}

// flush fsyncs the WAL once for every pending batch and reports to their
// callers.
func (s *syncer) flush() {
	s.mu.Lock()
	batches := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(batches) == 0 {
		return
	}
	err := s.c.failure()
	if err == nil {
		if err = s.sync(); err != nil {
			s.c.setFailStop(err)
		}
	}
	if err != nil {
		err = fmt.Errorf("workspace: write %s: committed, but the WAL fsync failed, so it may not survive a crash: %w", s.c.path, err)
	}
	for _, reqs := range batches {
		if err != nil {
			s.c.failAll(reqs, err)
		} else {
			s.c.finish(reqs, true)
		}
	}
}

// sync fsyncs the WAL through the syncer's descriptor, opening it first, or
// again when the file at walPath is no longer the one it has open (SQLite
// removes the WAL when the last connection closes, and another process may
// then create a new one).
func (s *syncer) sync() error {
	if s.f != nil {
		if pi, err := os.Stat(s.walPath); err != nil || !os.SameFile(s.fi, pi) {
			s.f.Close()
			s.f = nil
		}
	}
	if s.f == nil {
		f, err := os.OpenFile(s.walPath, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		s.f, s.fi = f, fi
	}
	done := observe.Sync(s.walPath) // for the crash simulation
	err := syncFile(s.f)
	done(err)
	if err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			err = &fs.PathError{Op: "fsync", Path: s.walPath, Err: err}
		}
		return err
	}
	return nil
}

// SetSyncFileForTest replaces the syncer's fsync until restore is called.
// For tests of the fail-stop behaviour.
func SetSyncFileForTest(f func(*os.File) error) (restore func()) {
	old := syncFile
	syncFile = f
	return func() { syncFile = old }
}
