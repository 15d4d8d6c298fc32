package workspace

import (
	"time"

	"github.com/litedir/litedir/internal/committer"
)

// SetTestHookQueued makes every Write call f after queuing its request, until
// the test ends.
func SetTestHookQueued(t interface{ Cleanup(func()) }, f func()) {
	t.Cleanup(committer.SetTestHookQueued(f))
}

// SetMaxBatchTime sets the time after which a batch takes no more requests,
// until the test ends.
func SetMaxBatchTime(t interface{ Cleanup(func()) }, d time.Duration) {
	t.Cleanup(committer.SetMaxBatchTimeForTest(d))
}

// SetTestHookCheckpointer makes the background checkpointer call f before
// each checkpoint, until the test ends.
func SetTestHookCheckpointer(t interface{ Cleanup(func()) }, f func()) {
	t.Cleanup(committer.SetTestHookCheckpointer(f))
}

// DeferredSync returns the synchronous level the committer's sync stage
// provides for batches, or "" where commits sync themselves.
func DeferredSync(ws *Workspace) string { return ws.e.committer.SyncLevel() }

// WriterPrepares returns how many statements the writer connection has
// prepared for its cache.
func WriterPrepares(ws *Workspace) int64 { return ws.e.committer.Prepares() }

// ReaderPrepares returns how many statements the front has prepared on
// read connections.
func ReaderPrepares(ws *Workspace) int64 { return ws.e.committer.ReaderPrepares() }
