package workspace

import "github.com/litedir/litedir/ncruces"

// deferredSync reports whether the settings ask for fsync-on-commit
// durability that the group committer's syncer can provide instead:
// synchronous FULL or EXTRA in WAL mode (see internal/committer/syncer.go
// for the design and why it is as durable), and the level.
func deferredSync(s ncruces.Settings, journalMode string) (level string, ok bool) {
	if journalMode != "wal" {
		return "", false
	}
	switch s.Synchronous {
	case "FULL", "EXTRA":
		return s.Synchronous, true
	}
	return "", false
}
