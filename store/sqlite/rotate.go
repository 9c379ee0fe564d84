package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/reseal"
)

// SealedTables returns the tables holding sealed columns, in rotation order.
func (s *Store) SealedTables() []string { return reseal.Names() }

// Reseal re-seals with the newest key the sealed columns of up to limit rows
// of table after the cursor after, in one transaction; see [store.Store].
func (s *Store) Reseal(ctx context.Context, table, after string, limit int) (store.ResealBatch, error) {
	st, id, name, err := reseal.Start(table, after, limit)
	if err != nil {
		return store.ResealBatch{}, err
	}

	tx, err := s.Begin(ctx)
	if err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: %w", table, err)
	}
	t := tx.(*Tx) //nolint:forcetypeassert // Begin returns *Tx
	defer func() { _ = t.Rollback(ctx) }()

	rows, err := resealRead(ctx, t, st, id, name, limit)
	if err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: %w", table, err)
	}
	update := resealUpdateSQL(st)
	batch, err := reseal.Run(ctx, s.codec.Sealer(), st, after, limit, rows, func(ctx context.Context, args []any) error {
		_, err := t.tx.ExecContext(ctx, update, args...)
		return err
	})
	if err != nil {
		return store.ResealBatch{}, err
	}
	if err := t.Commit(ctx); err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: %w", table, err)
	}
	return batch, nil
}

// resealRead reads up to limit rows of st after the key (id, name), in key
// order, and closes the cursor before the batch writes.
func resealRead(ctx context.Context, t *Tx, st reseal.Table, id int64, name string, limit int) ([]reseal.Row, error) {
	keyCols := "t." + strings.Join(st.Key, ", t.")
	where, args := fmt.Sprintf(`t.%s > ?`, st.Key[0]), []any{id}
	if st.Named() {
		where = fmt.Sprintf(`(t.%s, t.%s) > (?, ?)`, st.Key[0], st.Key[1])
		args = []any{id, name}
	}
	query := fmt.Sprintf(`SELECT %s, %s, t.%s FROM %s t WHERE %s ORDER BY %s LIMIT ?`,
		keyCols, st.AAD, strings.Join(st.Columns, ", t."), st.Name, where, keyCols)
	rs, err := t.tx.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rs.Close() }()
	return reseal.Scan(rs, st)
}

// resealUpdateSQL is the statement that writes the sealed columns of one row
// of st: the column values, then the key.
func resealUpdateSQL(st reseal.Table) string {
	sets := make([]string, len(st.Columns))
	for i, c := range st.Columns {
		sets[i] = c + " = ?"
	}
	conds := make([]string, len(st.Key))
	for i, k := range st.Key {
		conds[i] = k + " = ?"
	}
	return fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, st.Name, strings.Join(sets, ", "), strings.Join(conds, " AND "))
}
