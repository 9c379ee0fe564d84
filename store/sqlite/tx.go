package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/utask/utask/store"
)

// Tx is a write transaction of the embedded store: a savepoint in the group
// transaction on the store's one write connection (see group.go). It holds
// the write connection, hence the database's write lock, from Begin to
// Commit or Rollback: its Lock methods need take no further lock.
type Tx struct {
	s    *Store
	g    *group
	tx   querier // the write connection, inside the group's transaction
	done bool
	// failed is the error of a call that fails the transaction: Commit
	// then rolls it back and reports it.
	failed error
}

var _ store.Tx = (*Tx)(nil)

// Commit makes the transaction's writes durable: it returns once the group
// they joined is committed. It does not consult ctx: a commit, once asked
// for, completes.
func (t *Tx) Commit(ctx context.Context) error {
	if t.failed != nil && !t.done {
		_ = t.rollback() //nolint:errcheck // rollback reports nothing
		return fmt.Errorf("commit: %w", t.failed)
	}
	return t.commit(ctx)
}

// Rollback abandons the transaction; after Commit or Rollback it does
// nothing.
func (t *Tx) Rollback(_ context.Context) error {
	return t.rollback()
}

// TaskInsert inserts a task and sets its ID.
func (t *Tx) TaskInsert(ctx context.Context, task *store.Task) error {
	if err := t.s.taskInsert(ctx, t.tx, task); err != nil {
		return fmt.Errorf("insert task %s: %w", task.PublicID, err)
	}
	return nil
}

// TaskCreate inserts a new task, its resolution when r is not nil, and the
// audit entry of the creation. A refused insert fails the transaction:
// Commit then commits nothing.
func (t *Tx) TaskCreate(ctx context.Context, task *store.Task, r *store.Resolution,
	e *store.AuditEntry,
) error {
	err := t.TaskInsert(ctx, task)
	if err == nil && r != nil {
		r.TaskID = task.ID
		err = t.ResolutionInsert(ctx, r)
	}
	if err == nil {
		e.TaskID = task.ID
		err = t.AuditInsert(ctx, e)
	}
	if err != nil && t.failed == nil {
		t.failed = err
	}
	return err
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

// ResolutionHold requires that instance hold the resolution of internal id
// id; the transaction already holds the database's write lock.
func (t *Tx) ResolutionHold(ctx context.Context, id, instance int64) error {
	var holder sql.NullInt64
	err := t.tx.QueryRowContext(ctx, `SELECT instance_id FROM resolution WHERE id = ?`, id).Scan(&holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = store.ErrNotFound
	case err == nil && (!holder.Valid || holder.Int64 != instance):
		err = store.ErrNotHeld
	}
	if err != nil {
		return fmt.Errorf("hold resolution %d: %w", id, err)
	}
	return nil
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
