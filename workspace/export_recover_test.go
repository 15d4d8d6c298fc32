package workspace

import (
	"context"
	"os"
	"path/filepath"
	"slices"

	"github.com/litedir/litedir/internal/salvage"
)

// RowPlace is where a row of a healthy database is stored: its leaf page and
// the overflow pages of its payload.
type RowPlace struct {
	Leaf               uint32
	CellStart, CellEnd int // the cell's bytes on Leaf
	Overflow           []uint32
}

// RowPlaces reads the healthy workspace in dir with the salvage reader and
// returns where each row of each table is, by table and rowid, with the
// root page of each table: what a test needs to know which rows a damage
// leaves intact.
func RowPlaces(ctx context.Context, dir string) (map[string]map[int64]RowPlace, map[string]uint32, error) {
	ws, err := OpenReadOnly(ctx, dir, nil)
	if err != nil {
		return nil, nil, err
	}
	defer ws.Close()
	f, err := os.Open(filepath.Join(dir, DefaultName+".db"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	r, err := salvage.Open(ctx, salvage.Input{DB: f, DBSize: info.Size()})
	if err != nil {
		return nil, nil, err
	}
	entries, _, err := r.Schema(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx, err := ws.ReadDB().BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	rc := &recovery{ctx: ctx, tx: tx}
	if err := rc.describeTables(entries); err != nil {
		return nil, nil, err
	}
	roots := map[string]uint32{}
	var tables []*salvage.Table
	for _, t := range rc.tables {
		tables = append(tables, t.salvage)
		roots[t.name] = t.salvage.Root
	}
	places := placeSink{}
	if _, err := r.Tables(ctx, tables, places); err != nil {
		return nil, nil, err
	}
	return places, roots, nil
}

type placeSink map[string]map[int64]RowPlace

func (s placeSink) Row(row salvage.Row) error {
	m := s[row.Table.Name]
	if m == nil {
		m = map[int64]RowPlace{}
		s[row.Table.Name] = m
	}
	m[row.RowID] = RowPlace{Leaf: row.Page, CellStart: row.CellStart, CellEnd: row.CellEnd, Overflow: slices.Clone(row.Overflow)}
	return nil
}

func (s placeSink) Lost(salvage.Lost) error { return nil }

// SalvageRows reads every table of the workspace in dir with the salvage
// reader alone, writing nothing, and returns how many rows it found: the
// reading half of Recover, for its benchmark.
func SalvageRows(ctx context.Context, dir string) (int, error) {
	places, _, err := RowPlaces(ctx, dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range places {
		n += len(m)
	}
	return n, nil
}
