package workspace

import (
	"strconv"
	"strings"

	"github.com/litedir/litedir/ncruces"
)

// deferredSync decides whether the group committer's syncer takes the
// fsyncs of synchronous=FULL or EXTRA off the commits (see
// internal/committer/syncer.go for the design and why it is as durable).

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
