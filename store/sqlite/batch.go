package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/utask/utask/store"
)

// batchRowID returns the internal id of the batch publicID as a query
// argument: NULL for "", ErrNotFound when there is no such batch.
func batchRowID(ctx context.Context, q querier, publicID string) (any, error) {
	if publicID == "" {
		return nil, nil
	}
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM batch WHERE public_id = ?`, publicID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("batch %s: %w", publicID, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return id, nil
}

// BatchGet returns a batch by public id.
func (s *Store) BatchGet(ctx context.Context, publicID string) (*store.Batch, error) {
	b := store.Batch{PublicID: publicID}
	err := s.reads.QueryRowContext(ctx, `SELECT id FROM batch WHERE public_id = ?`, publicID).Scan(&b.ID)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get batch %s: %w", publicID, err)
	}
	return &b, nil
}

// BatchCountRunning counts the unfinished tasks of a batch.
func (s *Store) BatchCountRunning(ctx context.Context, publicID string) (int, error) {
	var n int
	err := s.reads.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM task t
		        WHERE t.batch_id = b.id AND t.state NOT IN ('DONE', 'CANCELLED', 'WONTFIX'))
		FROM batch b WHERE b.public_id = ?`, publicID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("count running tasks of batch %s: %w", publicID, err)
	}
	return n, nil
}

// BatchInsert inserts a batch and sets its ID.
func (t *Tx) BatchInsert(ctx context.Context, b *store.Batch) error {
	err := t.tx.QueryRowContext(ctx, `INSERT INTO batch (public_id) VALUES (?) RETURNING id`,
		b.PublicID).Scan(&b.ID)
	if err != nil {
		return fmt.Errorf("insert batch %s: %w", b.PublicID, conflict(err))
	}
	return nil
}

// batchDeleteUnused removes the batches no task refers to.
func (s *Store) batchDeleteUnused(ctx context.Context) error {
	if _, err := s.directExec(ctx, `
		DELETE FROM batch WHERE NOT EXISTS (SELECT 1 FROM task t WHERE t.batch_id = batch.id)`); err != nil {
		return fmt.Errorf("delete unused batches: %w", err)
	}
	return nil
}
