package workspace

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/litedir/litedir/ncruces"
)

// Durable group commit.
//
// With PRAGMA synchronous=FULL, SQLite fsyncs the WAL inside every COMMIT,
// while it holds the write lock: the next batch cannot start until the disk
// has answered, and the CPU idles meanwhile. Instead, the writer commits its
// batches at synchronous=NORMAL (which writes the same WAL frames, without
// the fsync) and hands them to a syncer goroutine, which fsyncs the WAL file
// and only then returns to the batch's callers, while the writer already runs
// the next batch. One fsync covers every batch committed before it.
//
// A Write still returns only once its commit is on disk, so what a caller was
// told is committed survives a power cut, as with FULL: the fsync covers
// every frame written up to the commit, and SQLite syncs the WAL header
// whenever it starts the WAL over (at every level but OFF), so a restarted
// WAL cannot hide frames behind a stale header. Other connections may see a
// batch before it is durable, as they may under NORMAL.
//
// The writer connection is set back to the configured level after each
// batch, so transactions run through DB() keep their own durability.

// deferredSync reports whether the pragmas ask for fsync-on-commit
// durability that the syncer can provide: synchronous FULL or EXTRA in WAL
// mode.
func deferredSync(pragmas []ncruces.Pragma, journalMode string) (level string, ok bool) {
	if journalMode != "wal" {
		return "", false
	}
	for _, p := range pragmas {
		if !strings.EqualFold(p.Name, "synchronous") {
			continue
		}
		switch v := strings.ToUpper(p.Value); v {
		case "FULL", "EXTRA":
			return v, true
		default:
			if n, err := strconv.Atoi(v); err == nil && n >= 2 {
				return v, true
			}
		}
	}
	return "", false
}

// syncer makes committed batches durable and then reports them to their
// callers.
type syncer struct {
	w       *writer
	walPath string

	mu      sync.Mutex
	pending [][]*writeReq // committed batches waiting for an fsync

	wake chan struct{} // capacity 1
	quit chan struct{}
	done chan struct{}
}

func newSyncer(w *writer, walPath string) *syncer {
	s := &syncer{
		w:       w,
		walPath: walPath,
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.loop()
	return s
}

// add queues a committed batch for the next fsync.
func (s *syncer) add(reqs []*writeReq) {
	s.mu.Lock()
	s.pending = append(s.pending, reqs)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// stop syncs what is pending and ends the goroutine. The writer must have
// stopped: nothing is added after stop.
func (s *syncer) stop() {
	close(s.quit)
	<-s.done
}

func (s *syncer) loop() {
	defer close(s.done)
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
	err := syncWAL(s.walPath)
	for _, reqs := range batches {
		if err != nil {
			cause := fmt.Errorf("workspace: write %s: committed, but the WAL fsync failed, so it may not survive a crash: %w", s.w.path, err)
			for _, r := range reqs {
				if r.err == nil && !r.panicked {
					r.err = cause
				}
			}
		}
		s.w.finish(reqs, err == nil)
	}
}

// syncWAL flushes the WAL file to disk. Any descriptor of a file flushes all
// of its data, whoever wrote it. The file is opened anew each time because
// SQLite may remove and recreate it when the last connection closes.
func syncWAL(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	done := ncruces.ObserveSync(path) // for the crash simulation
	err = datasync(f)
	done(err)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
