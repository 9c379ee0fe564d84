// Package reseal is the part of a key rotation that the embedded store and
// the PostgreSQL store share: the list of the tables holding sealed columns,
// the checks of a batch's arguments, the reading of the rows a batch got and
// the resealing of each. Each store keeps the transaction, the SQL that reads
// and writes the rows, and its driver calls.
package reseal

import (
	"context"
	"fmt"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// Table describes a table with sealed columns. Its rows are read in key
// order; a row's associated data is computed by SQL, so that it is the one
// the table's writes use.
type Table struct {
	Name string
	// Key is the row key, in order: an integer id, then optionally a text
	// column (step rows: resolution_id, name).
	Key []string
	// AAD is the SQL expression of a row's associated data, over alias t;
	// both stores take it as it is.
	AAD string
	// Columns are the sealed columns; NULL ones are left as they are.
	Columns []string
}

// Named reports whether the key of t has a name after its id.
func (t Table) Named() bool { return len(t.Key) > 1 }

// Tables returns every table holding sealed columns, in the order a key
// rotation reseals them. A new sealed table needs an entry here, and nowhere
// else.
func Tables() []Table {
	return []Table{
		{
			Name: "callback", Key: []string{"id"}, AAD: "t.public_id",
			Columns: []string{"sealed_schema", "sealed_secret", "sealed_body"},
		},
		{Name: "task", Key: []string{"id"}, AAD: "t.public_id", Columns: []string{"sealed_input", "sealed_result"}},
		{Name: "resolution", Key: []string{"id"}, AAD: "t.public_id", Columns: []string{"sealed_resolver_input"}},
		{
			Name: "step", Key: []string{"resolution_id", "name"},
			AAD:     "(SELECT r.public_id FROM resolution r WHERE r.id = t.resolution_id) || '/' || t.name",
			Columns: []string{"sealed_data"},
		},
		{Name: "comment", Key: []string{"id"}, AAD: "t.public_id", Columns: []string{"sealed_content"}},
		{Name: "audit", Key: []string{"id"}, AAD: "t.public_id", Columns: []string{"sealed_detail"}},
	}
}

// Names returns the names of Tables, in rotation order.
func Names() []string {
	tables := Tables()
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	return names
}

// Start checks the arguments of a batch of Store.Reseal: it returns the
// table named table and the key after which the batch starts, or an error
// (wrapping store.ErrNotFound for an unknown table).
func Start(table, after string, limit int) (t Table, id int64, name string, err error) {
	t, err = find(table)
	if err != nil {
		return Table{}, 0, "", err
	}
	if limit <= 0 {
		return Table{}, 0, "", fmt.Errorf("reseal %s: limit %d is not positive", table, limit)
	}
	id, name, err = store.ParseResealCursor(after, t.Named())
	if err != nil {
		return Table{}, 0, "", fmt.Errorf("reseal %s: %w", table, err)
	}
	return t, id, name, nil
}

// find returns the entry of a table, or an error wrapping store.ErrNotFound.
func find(table string) (Table, error) {
	for _, t := range Tables() {
		if t.Name == table {
			return t, nil
		}
	}
	return Table{}, fmt.Errorf("reseal %s: no such sealed table: %w", table, store.ErrNotFound)
}

// Row is one row read by a batch.
type Row struct {
	Key    []any    // the key column values, for the update
	Cursor string   // the key as a cursor
	AAD    []byte   // the associated data
	Values [][]byte // the sealed columns, nil for NULL
}

// Scan reads the rows of a batch of t: each row holds the key columns, the
// associated data, then the sealed columns, in the order of t.
func Scan(rows rowcodec.Rows, t Table) ([]Row, error) {
	return rowcodec.Collect(rows, func() (Row, error) {
		var (
			id   int64
			name string
			aad  string
		)
		values := make([][]byte, len(t.Columns))
		dest := []any{&id}
		if t.Named() {
			dest = append(dest, &name)
		}
		dest = append(dest, &aad)
		for i := range values {
			dest = append(dest, &values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return Row{}, err
		}
		r := Row{AAD: []byte(aad), Values: values, Cursor: store.ResealCursor(id, name), Key: []any{id}}
		if t.Named() {
			r.Key = append(r.Key, name)
		}
		return r, nil
	})
}

// Update writes the sealed columns of one row: args are the values of the
// columns of the table, in order (nil for NULL), then its key.
type Update func(ctx context.Context, args []any) error

// Run reseals with sealer the rows of a batch of table t that started after
// the cursor after and asked for limit rows, writing each changed row with
// update. The caller commits the batch when Run succeeds.
func Run(ctx context.Context, sealer store.Sealer, t Table, after string, limit int, rows []Row,
	update Update,
) (store.ResealBatch, error) {
	batch := store.ResealBatch{Next: after, Rows: len(rows), Done: len(rows) < limit}
	for _, r := range rows {
		changed, err := store.ResealRow(sealer, r.AAD, r.Values)
		if err != nil {
			return store.ResealBatch{}, fmt.Errorf("reseal %s row %s: %w", t.Name, r.Cursor, err)
		}
		if changed {
			args := make([]any, 0, len(r.Values)+len(r.Key))
			for _, v := range r.Values {
				args = append(args, rowcodec.Bytes(v))
			}
			args = append(args, r.Key...)
			if err := update(ctx, args); err != nil {
				return store.ResealBatch{}, fmt.Errorf("reseal %s row %s: %w", t.Name, r.Cursor, err)
			}
			batch.Resealed++
		}
		batch.Next = r.Cursor
	}
	return batch, nil
}
