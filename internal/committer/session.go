package committer

import (
	"github.com/ncruces/go-sqlite3"

	"github.com/litedir/litedir/ncruces"
)

// Session state.
//
// A connection carries state beyond the database: its pragma settings,
// the databases attached to it, its temporary schema, an open transaction.
// The writer connection serves every caller in turn, so whatever one
// request leaves on it would apply to every request after it: PRAGMA
// query_only=1 would stop all later writes, busy_timeout=0 would make them
// fail with SQLITE_BUSY, a temporary table named like a real one would
// shadow it. The committer therefore learns, when a statement is prepared,
// what it may do to its connection (an authorizer sees every action), and:
//
//   - in a batch (a Write function, a front statement outside a
//     transaction, a statement a Write function runs through DB or the
//     front) it refuses transaction control, pragmas that set a connection
//     setting, ATTACH and DETACH with ErrRefused, and rolls back a request
//     that leaves a temporary object behind;
//   - under a lease (DB, a transaction begun through the front), where one
//     caller has the connection to itself, it lets them run, and replaces
//     the connection with a new one, opened with the configured pragmas,
//     when the lease ends: nothing of that state survives it.
//
// SQLite applies most pragma settings while it prepares the statement, not
// when it runs it: preparing PRAGMA query_only=1 sets the flag. So the
// authorizer denies such actions during the prepare itself where they are
// refused (prepWatch.deny), and a statement that changes a setting is never
// kept in a statement cache: run again, a cached one would change nothing.
//
// The front's queries run on read connections only when they read and
// change nothing of the connection; the rest join a batch, where the rules
// above apply, so a read connection goes back to its pool in autocommit
// mode with its settings intact.

// stmtFlags are what an authorizer saw a statement do.
type stmtFlags uint8

const (
	flagTxControl stmtFlags = 1 << iota // BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE
	flagSession                         // a connection setting, ATTACH, DETACH
	flagTemp                            // creates or drops a temporary object
)

// prepWatch records what an authorizer sees while a statement is prepared
// on one connection. Only the goroutine that prepares on the connection
// touches it (the writer's mutex, or a read connection held from its pool).
type prepWatch struct {
	saw  stmtFlags
	deny stmtFlags // actions refused at prepare (batch work runs)
}

// authorizer returns the authorizer that fills w.
func (w *prepWatch) authorizer() func(sqlite3.AuthorizerActionCode, string, string, string, string) sqlite3.AuthorizerReturnCode {
	return func(action sqlite3.AuthorizerActionCode, arg3, arg4, schema, _ string) sqlite3.AuthorizerReturnCode {
		f := classify(action, arg3, arg4, schema)
		w.saw |= f
		if f&w.deny != 0 {
			return sqlite3.AUTH_DENY
		}
		return sqlite3.AUTH_OK
	}
}

// classify returns what an authorizer action does to the connection.
func classify(action sqlite3.AuthorizerActionCode, arg3, arg4, schema string) stmtFlags {
	switch action {
	case sqlite3.AUTH_TRANSACTION, sqlite3.AUTH_SAVEPOINT:
		return flagTxControl
	case sqlite3.AUTH_ATTACH, sqlite3.AUTH_DETACH:
		return flagSession
	case sqlite3.AUTH_PRAGMA:
		// arg3 is the pragma's name, arg4 its argument: none for a read.
		if ncruces.PragmaChangesSession(arg3, arg4 != "") {
			return flagSession
		}
	case sqlite3.AUTH_CREATE_TEMP_INDEX, sqlite3.AUTH_CREATE_TEMP_TABLE,
		sqlite3.AUTH_CREATE_TEMP_TRIGGER, sqlite3.AUTH_CREATE_TEMP_VIEW,
		sqlite3.AUTH_DROP_TEMP_INDEX, sqlite3.AUTH_DROP_TEMP_TABLE,
		sqlite3.AUTH_DROP_TEMP_TRIGGER, sqlite3.AUTH_DROP_TEMP_VIEW:
		return flagTemp
	case sqlite3.AUTH_CREATE_VTABLE, sqlite3.AUTH_DROP_VTABLE:
		if schema == "temp" {
			return flagTemp
		}
	}
	return 0
}

// refusedFor returns the refusal of a statement with flags f in a batch, or
// nil.
func refusedFor(f stmtFlags) error {
	switch {
	case f&flagTxControl != 0:
		return errTxControl
	case f&flagSession != 0:
		return errSession
	}
	return nil
}
