package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
)

// Tx is a write transaction of the PostgreSQL store, on a connection of its
// own. Its Lock methods take row locks (FOR NO KEY UPDATE), held until
// Commit or Rollback: a second transaction locking the same row waits for
// this one to end.
//
// Inserts that break a rule (a conflict, a missing template version or
// task) report it without aborting the transaction, as in the embedded
// store. Any other failed statement aborts it in PostgreSQL: after such an
// error only Rollback is of use.
type Tx struct {
	s  *Store
	tx pgx.Tx
	// due lists the resolutions written runnable or due later, whose
	// wake-up Commit sends.
	due []string
}

var _ store.Tx = (*Tx)(nil)

// Commit makes the transaction's writes durable. It does not consult ctx:
// a commit, once asked for, completes. An aborted transaction does not
// commit: Commit rolls it back and reports an error.
func (t *Tx) Commit(ctx context.Context) error {
	if len(t.due) > 0 {
		if err := t.s.notify(context.WithoutCancel(ctx), t.tx, t.due); err != nil {
			_ = t.tx.Rollback(context.WithoutCancel(ctx))
			return fmt.Errorf("commit: %w", err)
		}
		t.due = nil
	}
	if err := t.tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback abandons the transaction; after Commit or Rollback it does
// nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	err := t.tx.Rollback(context.WithoutCancel(ctx))
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
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

// TaskLock reads a task by internal id and locks its row. The lock is FOR NO
// KEY UPDATE: it excludes other locks and updates of the row, but lets other
// transactions insert rows that refer to it.
func (t *Tx) TaskLock(ctx context.Context, id int64) (*store.Task, error) {
	task, err := t.s.taskGet(ctx, t.tx, `t.id = $1`, id, `FOR NO KEY UPDATE OF t`)
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
	due, err := t.s.resolutionInsert(ctx, t.tx, r)
	if err != nil {
		return fmt.Errorf("insert resolution %s: %w", r.PublicID, err)
	}
	if due {
		t.due = append(t.due, r.PublicID)
	}
	return nil
}

// ResolutionLock reads a resolution by public id and locks its row, FOR NO
// KEY UPDATE as TaskLock does. Claims skip the locked row rather than wait.
func (t *Tx) ResolutionLock(ctx context.Context, publicID string) (*store.Resolution, error) {
	r, err := t.s.resolutionGet(ctx, t.tx, publicID, `FOR NO KEY UPDATE OF r`)
	if err != nil {
		return nil, fmt.Errorf("lock resolution %s: %w", publicID, err)
	}
	return r, nil
}

// ResolutionHolder locks a resolution by internal id and returns the
// instance holding it and its run limit.
func (t *Tx) ResolutionHolder(ctx context.Context, id int64) (*int64, int, error) {
	var (
		holder *int64
		runMax int32
	)
	err := t.tx.QueryRow(ctx, `SELECT instance_id, run_max FROM resolution WHERE id = $1 FOR NO KEY UPDATE`, id).
		Scan(&holder, &runMax)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("lock resolution %d: %w", id, err)
	}
	return holder, int(runMax), nil
}

// ResolutionUpdate writes every mutable field of a resolution, keeping a
// stored next_retry that is earlier (see [store.Tx]). The resolution is
// found by ID and PublicID together.
func (t *Tx) ResolutionUpdate(ctx context.Context, r *store.Resolution) error {
	due, err := t.s.resolutionUpdate(ctx, t.tx, r)
	if err != nil {
		return fmt.Errorf("update resolution %s: %w", r.PublicID, err)
	}
	if due {
		t.due = append(t.due, r.PublicID)
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

// StepUpsert writes the given step rows of r, one row each, in one round
// trip. r must exist with its ID and PublicID (ErrNotFound otherwise).
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
