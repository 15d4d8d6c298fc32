package workspace

import "github.com/litedir/litedir/ncruces"

// deferredSync returns the synchronous level whose fsync-on-commit
// durability the group committer's syncer can provide instead: FULL or
// EXTRA in WAL mode (see internal/committer/syncer.go for the design and why
// it is as durable), and "" otherwise.
func deferredSync(s ncruces.Settings, journalMode string) string {
	if journalMode != "wal" {
		return ""
	}
	switch s.Synchronous {
	case "FULL", "EXTRA":
		return s.Synchronous
	}
	return ""
}
