package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// CheckReport is the result of [Workspace.Check].
type CheckReport struct {
	// Full reports whether the check was PRAGMA integrity_check rather than
	// the faster PRAGMA quick_check.
	Full bool
	// Problems lists what the integrity check found; it is empty when the
	// database is sound.
	Problems []string
	// ForeignKeys lists the rows whose foreign keys point nowhere.
	ForeignKeys []ForeignKeyViolation
}

// ForeignKeyViolation is one row of PRAGMA foreign_key_check.
type ForeignKeyViolation struct {
	Table  string // the table holding the row
	RowID  int64  // the row, or 0 for a WITHOUT ROWID table
	Parent string // the table the key refers to
	Index  int    // the key's index in PRAGMA foreign_key_list(Table)
}

// String formats v as a line of a report.
func (v ForeignKeyViolation) String() string {
	return fmt.Sprintf("%s row %d: foreign key %d refers to a missing row of %s", v.Table, v.RowID, v.Index, v.Parent)
}

// OK reports whether the check found nothing wrong.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 && len(r.ForeignKeys) == 0 }

// Err returns nil when the check found nothing wrong, or an error matching
// ErrCheckFailed that summarizes the findings.
func (r *CheckReport) Err() error {
	if r.OK() {
		return nil
	}
	var b strings.Builder
	for i, p := range r.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(r.Problems)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p)
	}
	if n := len(r.ForeignKeys); n > 0 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d foreign key violations, first: %v", n, r.ForeignKeys[0])
	}
	return fmt.Errorf("%w: %s", ErrCheckFailed, b.String())
}

// maxCheckProblems bounds the problems an integrity check reports.
const maxCheckProblems = 100

// Check verifies the database: PRAGMA quick_check, or PRAGMA integrity_check
// when full is true (slower: it also checks that indexes match their
// tables), and PRAGMA foreign_key_check. It reads through the read pool, so
// writers go on meanwhile. An error means the check could not run; what it
// found is in the report.
func (w *Workspace) Check(ctx context.Context, full bool) (*CheckReport, error) {
	if err := w.check("check"); err != nil {
		return nil, err
	}
	r, err := check(ctx, w.e.readDB(), full)
	if err != nil {
		return nil, fmt.Errorf("workspace: check %s: %w", w.e.dbPath, err)
	}
	return r, nil
}

func check(ctx context.Context, db *sql.DB, full bool) (*CheckReport, error) {
	r := &CheckReport{Full: full}
	pragma := "quick_check"
	if full {
		pragma = "integrity_check"
	}
	// One read transaction for both pragmas: one snapshot of the database,
	// so that a write between them cannot make them disagree.
	conn, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer conn.Rollback()
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("PRAGMA %s(%d)", pragma, maxCheckProblems))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return nil, err
		}
		if line != "ok" {
			r.Problems = append(r.Problems, line)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	r.ForeignKeys, err = foreignKeyCheck(ctx, conn)
	return r, err
}

// foreignKeyCheck runs PRAGMA foreign_key_check in tx: the rows whose
// foreign keys point nowhere.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) ([]ForeignKeyViolation, error) {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ForeignKeyViolation
	for rows.Next() {
		var v ForeignKeyViolation
		var rowid sql.NullInt64
		if err := rows.Scan(&v.Table, &rowid, &v.Parent, &v.Index); err != nil {
			return nil, err
		}
		v.RowID = rowid.Int64
		out = append(out, v)
	}
	return out, rows.Err()
}
