package committer

import (
	"os"

	"github.com/litedir/litedir/internal/fsync"
	"github.com/litedir/litedir/internal/observe"
)

// Durable group commit.
//
// With PRAGMA synchronous=FULL, SQLite fsyncs the WAL inside every COMMIT,
// while it holds the write lock: the next batch cannot start until the disk
// has answered, and the CPU idles meanwhile. Instead, batches commit at
// synchronous=NORMAL (which writes the same WAL frames, without the fsync)
// and pass through the sync stage, which fsyncs the WAL file and sends them
// back to the loop, durable, while the loop already runs the next batch.
// One fsync covers every batch committed before it.
//
// A write still returns only once its commit is on disk, so what a caller
// was told is committed survives a power cut, as with FULL: the fsync covers
// every frame written up to the commit, and SQLite syncs the WAL header
// whenever it starts the WAL over (at every level but OFF), so a restarted
// WAL cannot hide frames behind a stale header. Other connections may see a
// batch before it is durable, as they may under NORMAL.
//
// The stage opens the WAL once, when the committer opens, and keeps that
// descriptor: on Linux a writeback error is reported once per open file
// description, so a descriptor opened for each fsync could miss an error
// another one already consumed; and no open can then fail for want of a
// descriptor at the moment a batch needs its fsync. The WAL is the same
// file for as long as the writer connection is open (SQLite deletes it only
// when the last connection closes); the loop checks that it still is before
// every COMMIT (see ErrMoved). And the committer fails stop: after an fsync
// error it acknowledges no write again (see ErrFailStop), because the page
// cache may have dropped the failed pages and a retried fsync would succeed
// over lost data.
//
// Outside batches the connection runs at the configured level, so
// transactions of DB and the front's BeginTx keep their own durability.
//
// Not for an encrypted database: there the stage would lose what it
// acknowledged. Encryption rewrites whole 4096-byte blocks, so the next
// batch's first frame rewrites the block that holds the end of the last
// acknowledged commit; a power loss that tears that write (sector by sector)
// leaves a block that decrypts to noise, and the commit is gone. SQLite's
// own FULL commit avoids that: on a file whose sectors it is told are 4096
// bytes and not powersafe, it pads each synced commit to the end of its
// block, so that no later write touches it. An encrypted database's batches
// therefore commit at the configured level. (A plaintext WAL has no such
// problem: rewritten bytes are the same bytes.)

// syncStage fsyncs the WAL for committed batches. It knows nothing of the
// committer: batches come in on in, and go out on out with the result of
// the fsync that covered them.
type syncStage struct {
	wal *os.File
	in  chan *batch
	out chan synced
}

// synced is batches that one fsync covered, and its error.
type synced struct {
	batches []*batch
	err     error
}

// startSync opens the WAL at walPath and starts the stage.
func startSync(walPath string) (*syncStage, error) {
	f, err := os.OpenFile(walPath, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	s := &syncStage{
		wal: f,
		in:  make(chan *batch, maxPending),
		out: make(chan synced, maxPending),
	}
	go s.run()
	return s, nil
}

// maxPending bounds the batches in each direction of the stage: the loop
// blocks sending more while it waits for the disk, and drains out meanwhile.
const maxPending = 64

// run fsyncs the WAL once for whatever batches are waiting, until in is
// closed; then it closes out and the WAL.
func (s *syncStage) run() {
	defer close(s.out)
	defer s.wal.Close()
	for b := range s.in {
		bs := []*batch{b}
	more:
		for {
			select {
			case b, ok := <-s.in:
				if !ok {
					break more
				}
				bs = append(bs, b)
			default:
				break more
			}
		}
		s.out <- synced{bs, s.sync()}
	}
}

// sync fsyncs the WAL (fdatasync on Linux, F_FULLFSYNC on darwin): its
// error is an *fs.PathError naming the WAL. Tests fail it through
// fsync.SetHook.
func (s *syncStage) sync() error {
	done := observe.Sync(s.wal.Name()) // for the crash simulation
	err := fsync.Data(s.wal)
	done(err)
	return err
}
