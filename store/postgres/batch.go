package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
)

// batchRowID returns the internal id of the batch publicID as a query
// argument: NULL for "", ErrNotFound when there is no such batch. A SELECT
// that finds nothing does not abort the transaction.
func batchRowID(ctx context.Context, q querier, publicID string) (*int64, error) {
	if publicID == "" {
		return nil, nil
	}
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM batch WHERE public_id = $1`, publicID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("batch %s: %w", publicID, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// BatchGet returns a batch by public id.
func (s *Store) BatchGet(ctx context.Context, publicID string) (*store.Batch, error) {
	b := store.Batch{PublicID: publicID}
	err := s.pool.QueryRow(ctx, `SELECT id FROM batch WHERE public_id = $1`, publicID).Scan(&b.ID)
	if err != nil {
		return nil, fmt.Errorf("get batch %s: %w", publicID, mapError(err))
	}
	return &b, nil
}

// BatchCountRunning counts the unfinished tasks of a batch.
func (s *Store) BatchCountRunning(ctx context.Context, publicID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM task t
		        WHERE t.batch_id = b.id AND t.state NOT IN ('DONE', 'CANCELLED', 'WONTFIX'))
		FROM batch b WHERE b.public_id = $1`, publicID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count running tasks of batch %s: %w", publicID, mapError(err))
	}
	return n, nil
}

// BatchInsert inserts a batch and sets its ID. A taken public id gives no
// row rather than an error, which would abort the transaction.
func (t *Tx) BatchInsert(ctx context.Context, b *store.Batch) error {
	err := t.p.QueryRow(ctx, `INSERT INTO batch (public_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id`,
		b.PublicID).Scan(&b.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("insert batch %s: public id is taken: %w", b.PublicID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert batch %s: %w", b.PublicID, mapError(err))
	}
	return nil
}

// batchDeleteUnused removes the batches no task refers to. A batch a
// running transaction is adding a task to is locked by that insert's
// reference check, and skipped.
func (s *Store) batchDeleteUnused(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `
		DELETE FROM batch WHERE id IN (
		    SELECT b.id FROM batch b
		    WHERE NOT EXISTS (SELECT 1 FROM task t WHERE t.batch_id = b.id)
		    FOR UPDATE SKIP LOCKED)`); err != nil {
		return fmt.Errorf("delete unused batches: %w", err)
	}
	return nil
}
