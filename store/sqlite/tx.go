package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/utask/utask/store"
)

// Tx is a write transaction of the embedded store. It holds the store's one
// write connection, hence the database's write lock, from Begin to Commit or
// Rollback: its Lock methods need take no further lock.
type Tx struct {
	conn *sql.Conn
	s    *Store
	tx   *sql.Tx
}

var _ store.Tx = (*Tx)(nil)

// Commit makes the transaction's writes durable. It does not consult ctx:
// a commit, once asked for, completes.
func (t *Tx) Commit(ctx context.Context) error {
	err := t.tx.Commit()
	if errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("commit: %w", err)
	}
	if err != nil {
		// A failed COMMIT can leave the transaction open on the connection;
		// end it before the connection serves the next Begin. With no
		// transaction left, this ROLLBACK fails, harmlessly.
		_, _ = t.conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	}
	err = errors.Join(err, t.conn.Close())
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback abandons the transaction; after Commit or Rollback it does
// nothing.
func (t *Tx) Rollback(_ context.Context) error {
	err := t.tx.Rollback()
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	err = errors.Join(err, t.conn.Close())
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// TaskInsert inserts a task and sets its ID.
func (t *Tx) TaskInsert(ctx context.Context, task *store.Task) error {
	if err := t.s.taskInsert(ctx, t.tx, task); err != nil {
		return fmt.Errorf("insert task %s: %w", task.PublicID, err)
	}
	return nil
}

// TaskLock reads a task by internal id.
func (t *Tx) TaskLock(ctx context.Context, id int64) (*store.Task, error) {
	task, err := t.s.taskGet(ctx, t.tx, `t.id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("lock task %d: %w", id, err)
	}
	return task, nil
}

// TaskUpdate writes every mutable field of a task. The task is found by ID
// and PublicID together.
func (t *Tx) TaskUpdate(ctx context.Context, task *store.Task) error {
	if err := t.s.taskUpdate(ctx, t.tx, task); err != nil {
		return fmt.Errorf("update task %s: %w", task.PublicID, err)
	}
	return nil
}

// ResolutionInsert inserts a resolution and sets its ID.
func (t *Tx) ResolutionInsert(ctx context.Context, r *store.Resolution) error {
	if err := t.s.resolutionInsert(ctx, t.tx, r); err != nil {
		return fmt.Errorf("insert resolution %s: %w", r.PublicID, err)
	}
	return nil
}

// ResolutionLock reads a resolution by public id.
func (t *Tx) ResolutionLock(ctx context.Context, publicID string) (*store.Resolution, error) {
	r, err := t.s.resolutionGet(ctx, t.tx, publicID)
	if err != nil {
		return nil, fmt.Errorf("lock resolution %s: %w", publicID, err)
	}
	return r, nil
}

// ResolutionUpdate writes every mutable field of a resolution. The
// resolution is found by ID and PublicID together.
func (t *Tx) ResolutionUpdate(ctx context.Context, r *store.Resolution) error {
	if err := t.s.resolutionUpdate(ctx, t.tx, r); err != nil {
		return fmt.Errorf("update resolution %s: %w", r.PublicID, err)
	}
	return nil
}

// StepList returns every step row of a resolution, sorted by name, as this
// transaction sees them.
func (t *Tx) StepList(ctx context.Context, resolutionID int64) ([]*store.Step, error) {
	steps, err := t.s.stepList(ctx, t.tx, resolutionID)
	if err != nil {
		return nil, fmt.Errorf("list steps of resolution %d: %w", resolutionID, err)
	}
	return steps, nil
}

// StepUpsert writes the given step rows of r, one row each. r must exist
// with its ID and PublicID (ErrNotFound otherwise).
func (t *Tx) StepUpsert(ctx context.Context, r *store.Resolution, steps []*store.Step) error {
	if err := t.s.stepUpsert(ctx, t.tx, r, steps); err != nil {
		return fmt.Errorf("upsert steps of resolution %s: %w", r.PublicID, err)
	}
	return nil
}

// StepDelete removes step rows of a resolution by name; a name without a row
// is ignored.
func (t *Tx) StepDelete(ctx context.Context, resolutionID int64, names []string) error {
	if err := t.s.stepDelete(ctx, t.tx, resolutionID, names); err != nil {
		return fmt.Errorf("delete steps of resolution %d: %w", resolutionID, err)
	}
	return nil
}
