package workspace

import "github.com/litedir/litedir/ncruces"

// deferredSync returns the synchronous level whose fsync-on-commit
// durability the group committer's syncer can provide instead: FULL or
// EXTRA in WAL mode (see internal/committer/syncer.go for the design and why
// it is as durable), and "" otherwise.
//
// Not for an encrypted workspace: there the syncer would lose what it
// acknowledged. Encryption rewrites whole 4096-byte blocks, so the next
// batch's first frame rewrites the block that holds the end of the last
// acknowledged commit; a power loss that tears that write (sector by
// sector) leaves a block that decrypts to noise, and the commit is gone.
// SQLite's own FULL commit avoids that: on a file whose sectors it is told
// are 4096 bytes and not powersafe, it pads each synced commit to the end of
// its block, so that no later write touches it. (A plaintext WAL has no such
// problem: rewritten bytes are the same bytes.)
func deferredSync(s ncruces.Settings, journalMode string, encrypted bool) string {
	if journalMode != "wal" || encrypted {
		return ""
	}
	switch s.Synchronous {
	case "FULL", "EXTRA":
		return s.Synchronous
	}
	return ""
}
