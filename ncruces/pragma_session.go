package ncruces

import "strings"

// contentPragmas are the pragmas whose setting changes the database rather
// than the connection that runs it: it is written in the database file,
// inside the transaction, and rolled back with it.
var contentPragmas = map[string]bool{
	"user_version":       true, // the database header
	"application_id":     true, // the database header
	"incremental_vacuum": true, // frees pages of the database
	"optimize":           true, // ANALYZE results, stored in the database
}

// PragmaChangesSession reports whether running PRAGMA name — with an
// argument when set is true, as a read otherwise — changes the state of the
// connection that runs it, which outlives the statement and its
// transaction: busy_timeout, query_only, locking_mode, synchronous,
// foreign_keys, journal_mode, cache_size, wal_autocheckpoint and every
// other setting, and defer_foreign_keys, which holds until the transaction
// ends. Reading a pragma changes nothing, and neither does setting one of
// the few that write the database itself (user_version, application_id,
// incremental_vacuum, optimize). name may be schema-qualified.
func PragmaChangesSession(name string, set bool) bool {
	if !set {
		return false
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return !contentPragmas[strings.ToLower(name)]
}
