package workspace

import (
	"context"
	"os"
	"sync"
)

// registry is the process-wide table of open workspaces: one entry per
// directory and name, however the directory was named. Its mutex guards only
// the table and the reference counts; opening and closing run outside it, so
// a slow open (a cold engine, a lock wait, a long migration) never blocks
// other directories.
var registry = &table{entries: make(map[*entry]struct{})}

type table struct {
	mu      sync.Mutex
	entries map[*entry]struct{}
}

// find returns the live entry for id: the one with id's name whose directory
// is id's directory by os.SameFile. Identity, not the path, decides: a path
// matches what canonicalization misses (a case-insensitive filesystem, a bind
// mount), and a path that names another directory since the entry was opened
// (the directory was renamed, or removed and made anew) must not be handed
// the entry, whose lock is in the old directory: the new one would be left
// unlocked for another process to own. A renamed directory's entry is found
// under its new name.
func (t *table) find(id dirID) *entry {
	for e := range t.entries {
		if e.id.name == id.name && os.SameFile(e.id.info, id.info) {
			return e
		}
	}
	return nil
}

// holds reports whether a workspace handle of this process has id open (or
// is opening or closing it): what the directory lock cannot tell where the
// lock is the in-process one, and what a check of the owner record's process
// cannot tell where no process can be looked up (wasip1).
func (t *table) holds(id dirID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.find(id) != nil
}

// open returns the entry for id with one more reference, opening it if this
// is the first reference in the process.
func (t *table) open(ctx context.Context, id dirID, c *config) (*entry, error) {
	for {
		t.mu.Lock()
		e := t.find(id)
		if e == nil {
			e = newEntry(id, c)
			e.refs = 1
			t.entries[e] = struct{}{}
			t.mu.Unlock()

			err := e.open(ctx)
			t.mu.Lock()
			if err != nil {
				e.refs = 0
				delete(t.entries, e)
			}
			e.err = err
			close(e.ready)
			t.mu.Unlock()
			if err != nil {
				return nil, err
			}
			return e, nil
		}
		if e.refs == 0 {
			// The last handle is closing it; wait until the lock is
			// released, then open afresh.
			t.mu.Unlock()
			select {
			case <-e.closed:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e.refs++
		t.mu.Unlock()

		if err := e.awaitOpen(ctx, c); err != nil {
			t.release(e)
			return nil, err
		}
		if e.err != nil {
			// The opener failed, perhaps for reasons of its own such as
			// a cancelled context: try again as the opener.
			continue
		}
		err := e.config.compatible(c)
		if err == nil {
			err = e.migrate(ctx, c.migrations)
		}
		if err != nil {
			t.release(e)
			return nil, err
		}
		return e, nil
	}
}

// release drops one reference to e and closes it when it was the last.
func (t *table) release(e *entry) error {
	t.mu.Lock()
	e.refs--
	last := e.refs == 0
	t.mu.Unlock()
	if !last {
		return nil
	}
	// Readiness first: a reference dropped by a waiter whose context ended
	// while the opener was still at work must not close a half-open entry.
	<-e.ready
	if e.err != nil {
		return nil
	}
	err := e.close()
	t.mu.Lock()
	delete(t.entries, e)
	t.mu.Unlock()
	close(e.closed)
	return err
}
