package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/utask/utask/store"
)

// sealedTable describes a table with sealed columns for a key rotation. Its
// rows are read in key order; a row's associated data is computed by SQL so
// that it is the one the table's writes use.
type sealedTable struct {
	name string
	// key is the row key, in order: an integer id, then optionally a text
	// column (step rows: resolution_id, name).
	key []string
	// aad is the SQL expression of a row's associated data, over alias t.
	aad string
	// columns are the sealed columns; NULL ones are left as they are.
	columns []string
}

// sealedTables lists every table holding sealed columns, in the order a key
// rotation reseals them. A new sealed table needs one entry here and one in
// the embedded store.
var sealedTables = []sealedTable{ //nolint:gochecknoglobals // constant table
	{
		name: "callback", key: []string{"id"}, aad: "t.public_id",
		columns: []string{"sealed_schema", "sealed_secret", "sealed_body"},
	},
	{name: "task", key: []string{"id"}, aad: "t.public_id", columns: []string{"sealed_input", "sealed_result"}},
	{name: "resolution", key: []string{"id"}, aad: "t.public_id", columns: []string{"sealed_resolver_input"}},
	{
		name: "step", key: []string{"resolution_id", "name"},
		aad:     "(SELECT r.public_id FROM resolution r WHERE r.id = t.resolution_id) || '/' || t.name",
		columns: []string{"sealed_data"},
	},
	{name: "comment", key: []string{"id"}, aad: "t.public_id", columns: []string{"sealed_content"}},
	{name: "audit", key: []string{"id"}, aad: "t.public_id", columns: []string{"sealed_detail"}},
}

// SealedTables returns the tables holding sealed columns, in rotation order.
func (s *Store) SealedTables() []string {
	names := make([]string, len(sealedTables))
	for i, t := range sealedTables {
		names[i] = t.name
	}
	return names
}

// Reseal re-seals with the newest key the sealed columns of up to limit rows
// of table after the cursor after, in one transaction; see [store.Store].
// The rows of the batch are locked (FOR NO KEY UPDATE) while it runs, so a
// concurrent write of one of them waits and is not lost.
func (s *Store) Reseal(ctx context.Context, table, after string, limit int) (store.ResealBatch, error) {
	st, err := findSealedTable(table)
	if err != nil {
		return store.ResealBatch{}, err
	}
	if limit <= 0 {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: limit %d is not positive", table, limit)
	}
	id, name, err := store.ParseResealCursor(after, len(st.key) > 1)
	if err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: %w", table, err)
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: begin: %w", table, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	rows, err := resealRead(ctx, tx, st, id, name, limit)
	if err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: %w", table, err)
	}
	batch := store.ResealBatch{Next: after, Rows: len(rows), Done: len(rows) < limit}
	update := resealUpdateSQL(st)
	for _, r := range rows {
		changed, err := store.ResealRow(s.sealer, r.aad, r.values)
		if err != nil {
			return store.ResealBatch{}, fmt.Errorf("reseal %s row %s: %w", table, r.cursor, err)
		}
		if changed {
			args := make([]any, 0, len(r.values)+len(r.key))
			for _, v := range r.values {
				args = append(args, v)
			}
			args = append(args, r.key...)
			if _, err := tx.Exec(ctx, update, args...); err != nil {
				return store.ResealBatch{}, fmt.Errorf("reseal %s row %s: %w", table, r.cursor, err)
			}
			batch.Resealed++
		}
		batch.Next = r.cursor
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: commit: %w", table, err)
	}
	return batch, nil
}

// findSealedTable returns the entry of a table, or an error wrapping
// store.ErrNotFound.
func findSealedTable(table string) (sealedTable, error) {
	for _, t := range sealedTables {
		if t.name == table {
			return t, nil
		}
	}
	return sealedTable{}, fmt.Errorf("reseal %s: no such sealed table: %w", table, store.ErrNotFound)
}

// resealRow is one row read by a rotation batch.
type resealRow struct {
	key    []any    // the key column values, for the update
	cursor string   // the key as a cursor
	aad    []byte   // the associated data
	values [][]byte // the sealed columns, nil for NULL
}

// resealRead reads and locks up to limit rows of st after the key (id,
// name), in key order, and closes the cursor before the batch writes.
func resealRead(ctx context.Context, q querier, st sealedTable, id int64, name string, limit int) ([]resealRow, error) {
	keyCols := "t." + strings.Join(st.key, ", t.")
	where, args := fmt.Sprintf(`t.%s > $1`, st.key[0]), []any{id, limit}
	if len(st.key) > 1 {
		where = fmt.Sprintf(`(t.%s, t.%s) > ($1, $3)`, st.key[0], st.key[1])
		args = append(args, name)
	}
	query := fmt.Sprintf(`SELECT %s, %s, t.%s FROM %s t WHERE %s ORDER BY %s LIMIT $2 FOR NO KEY UPDATE OF t`,
		keyCols, st.aad, strings.Join(st.columns, ", t."), st.name, where, keyCols)
	rs, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()

	var out []resealRow
	for rs.Next() {
		var (
			rowID   int64
			rowName string
			aad     string
		)
		values := make([][]byte, len(st.columns))
		dest := []any{&rowID}
		if len(st.key) > 1 {
			dest = append(dest, &rowName)
		}
		dest = append(dest, &aad)
		for i := range values {
			dest = append(dest, &values[i])
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, err
		}
		r := resealRow{aad: []byte(aad), values: values, cursor: store.ResealCursor(rowID, rowName)}
		r.key = []any{rowID}
		if len(st.key) > 1 {
			r.key = append(r.key, rowName)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// resealUpdateSQL is the statement that writes the sealed columns of one row
// of st: the column values ($1…), then the key.
func resealUpdateSQL(st sealedTable) string {
	sets := make([]string, len(st.columns))
	for i, c := range st.columns {
		sets[i] = fmt.Sprintf("%s = $%d", c, i+1)
	}
	conds := make([]string, len(st.key))
	for i, k := range st.key {
		conds[i] = fmt.Sprintf("%s = $%d", k, len(st.columns)+i+1)
	}
	return fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, st.name, strings.Join(sets, ", "), strings.Join(conds, " AND "))
}
