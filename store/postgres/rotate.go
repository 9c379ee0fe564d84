package postgres

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
// The rows of the batch are locked (FOR NO KEY UPDATE) while it runs, so a
// concurrent write of one of them waits and is not lost.
func (s *Store) Reseal(ctx context.Context, table, after string, limit int) (store.ResealBatch, error) {
	st, id, name, err := reseal.Start(table, after, limit)
	if err != nil {
		return store.ResealBatch{}, err
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
	update := resealUpdateSQL(st)
	batch, err := reseal.Run(ctx, s.codec.Sealer(), st, after, limit, rows, func(ctx context.Context, args []any) error {
		_, err := tx.Exec(ctx, update, args...)
		return err
	})
	if err != nil {
		return store.ResealBatch{}, err
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return store.ResealBatch{}, fmt.Errorf("reseal %s: commit: %w", table, err)
	}
	return batch, nil
}

// resealRead reads and locks up to limit rows of st after the key (id,
// name), in key order, and closes the cursor before the batch writes.
func resealRead(ctx context.Context, q querier, st reseal.Table, id int64, name string, limit int) ([]reseal.Row, error) {
	keyCols := "t." + strings.Join(st.Key, ", t.")
	where, args := fmt.Sprintf(`t.%s > $1`, st.Key[0]), []any{id, limit}
	if st.Named() {
		where = fmt.Sprintf(`(t.%s, t.%s) > ($1, $3)`, st.Key[0], st.Key[1])
		args = append(args, name)
	}
	query := fmt.Sprintf(`SELECT %s, %s, t.%s FROM %s t WHERE %s ORDER BY %s LIMIT $2 FOR NO KEY UPDATE OF t`,
		keyCols, st.AAD, strings.Join(st.Columns, ", t."), st.Name, where, keyCols)
	rs, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	return reseal.Scan(rs, st)
}

// resealUpdateSQL is the statement that writes the sealed columns of one row
// of st: the column values ($1…), then the key.
func resealUpdateSQL(st reseal.Table) string {
	sets := make([]string, len(st.Columns))
	for i, c := range st.Columns {
		sets[i] = fmt.Sprintf("%s = $%d", c, i+1)
	}
	conds := make([]string, len(st.Key))
	for i, k := range st.Key {
		conds[i] = fmt.Sprintf("%s = $%d", k, len(st.Columns)+i+1)
	}
	return fmt.Sprintf(`UPDATE %s SET %s WHERE %s`, st.Name, strings.Join(sets, ", "), strings.Join(conds, " AND "))
}
