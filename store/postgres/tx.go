package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
)

// Tx is a write transaction of the PostgreSQL store, on a connection of its
// own, whose statements are sent in batches (see pipeline). Its Lock methods
// take row locks (FOR NO KEY UPDATE), held until Commit or Rollback: a
// second transaction locking the same row waits for this one to end.
//
// TaskCreate, TaskUpdate, ResolutionHold, ResolutionUpdate and StepUpsert
// are deferred: they return at once, having taken their values, and are
// sent with the transaction's next statement or with COMMIT. A deferred
// write that fails makes the next call fail (errTxFailed, naming the
// cause) and Commit report it (ErrNotFound for a row not there, say),
// committing nothing.
//
// The single inserts (TaskInsert, ResolutionInsert, AuditInsert, …) that
// break a rule (a conflict, a missing template version or task) report it
// without aborting the transaction, as in the embedded store; TaskCreate's
// refusals fail it. Any other failed statement aborts it in PostgreSQL:
// after such an error only Rollback is of use.
type Tx struct {
	s *Store
	p *pipeline
	// due lists the resolutions written runnable or due later, whose
	// wake-up Commit sends.
	due []string
	// inserted holds the ids of the tasks this transaction inserted.
	inserted map[int64]bool
}

var _ store.Tx = (*Tx)(nil)

// Commit makes the transaction's writes durable. It does not consult ctx:
// a commit, once asked for, completes. An aborted transaction does not
// commit: Commit rolls it back and reports an error.
func (t *Tx) Commit(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	err := t.p.commit(ctx, func(b *pgx.Batch) {
		if len(t.due) > 0 {
			b.Queue(`SELECT pg_notify($1, $2)`, t.s.channel, notifyPayload(t.due))
			t.due = nil
		}
	})
	if relErr := t.p.release(ctx); err == nil && relErr != nil {
		err = relErr
	}
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback abandons the transaction; after Commit or Rollback it does
// nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	if err := t.p.release(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// TaskInsert inserts a task and sets its ID.
func (t *Tx) TaskInsert(ctx context.Context, task *store.Task) error {
	if err := t.s.taskInsert(ctx, t.p, task); err != nil {
		return fmt.Errorf("insert task %s: %w", task.PublicID, err)
	}
	if t.inserted == nil {
		t.inserted = map[int64]bool{}
	}
	t.inserted[task.ID] = true
	return nil
}

// TaskCreate inserts a new task, its resolution when r is not nil, and the
// audit entry of the creation, in one statement; the IDs are set when it is
// sent.
//
// The insert is deferred (see Tx).
func (t *Tx) TaskCreate(_ context.Context, task *store.Task, r *store.Resolution,
	e *store.AuditEntry,
) error {
	what := "create task " + task.PublicID
	args, err := t.s.taskCreateArgs(task, r, e)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	t.p.deferQueryRow(what, func(row pgx.Row) error {
		var (
			taskID, auditID int64
			resolutionID    *int64
			woken           bool
		)
		if err := row.Scan(&taskID, &resolutionID, &auditID, &woken); err != nil {
			return err
		}
		task.ID, e.TaskID, e.ID = taskID, taskID, auditID
		if r != nil {
			r.ID, r.TaskID = *resolutionID, taskID
		}
		if t.inserted == nil {
			t.inserted = map[int64]bool{}
		}
		t.inserted[taskID] = true
		return nil
	}, taskCreateSQL, args...)
	return nil
}

// TaskLock reads a task by internal id and locks its row. The lock is FOR NO
// KEY UPDATE: it excludes other locks and updates of the row, but lets other
// transactions insert rows that refer to it.
func (t *Tx) TaskLock(ctx context.Context, id int64) (*store.Task, error) {
	task, err := t.s.taskGet(ctx, t.p, `t.id = $1`, id, `FOR NO KEY UPDATE OF t`)
	if err != nil {
		return nil, fmt.Errorf("lock task %d: %w", id, err)
	}
	return task, nil
}

// TaskUpdate writes every mutable field of a task. The task is found by ID
// and PublicID together.
//
// The update is deferred (see Tx).
func (t *Tx) TaskUpdate(_ context.Context, task *store.Task) error {
	row, err := t.s.taskRow(task)
	if err != nil {
		return fmt.Errorf("update task %s: %w", task.PublicID, err)
	}
	t.p.deferExec("update task "+task.PublicID, taskUpdateSQL, append(row, task.ID, task.PublicID)...)
	return nil
}

// ResolutionInsert inserts a resolution and sets its ID.
func (t *Tx) ResolutionInsert(ctx context.Context, r *store.Resolution) error {
	due, err := t.s.resolutionInsert(ctx, t.p, r)
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
	r, err := t.s.resolutionGet(ctx, t.p, publicID, `FOR NO KEY UPDATE OF r`)
	if err != nil {
		return nil, fmt.Errorf("lock resolution %s: %w", publicID, err)
	}
	return r, nil
}

// ResolutionHold locks a resolution by internal id and requires that
// instance hold it.
//
// The hold is deferred (see Tx).
func (t *Tx) ResolutionHold(_ context.Context, id, instance int64) error {
	t.p.deferExec(fmt.Sprintf("hold resolution %d", id), resolutionHoldSQL, id, instance)
	return nil
}

// ResolutionUpdate writes every mutable field of a resolution, keeping a
// stored next_retry that is earlier and a stored run_max that is higher
// (see [store.Tx]), and sends the wake-up when the resolution, as written,
// is runnable or will become so. The resolution is found by ID and PublicID
// together.
//
// The update is deferred (see Tx).
func (t *Tx) ResolutionUpdate(_ context.Context, r *store.Resolution) error {
	row, err := t.s.resolutionRow(r)
	if err != nil {
		return fmt.Errorf("update resolution %s: %w", r.PublicID, err)
	}
	t.p.deferExec("update resolution "+r.PublicID, resolutionUpdateSQL,
		append(row, r.ID, r.PublicID, t.s.channel)...)
	return nil
}

// StepList returns every step row of a resolution, sorted by name, as this
// transaction sees them.
func (t *Tx) StepList(ctx context.Context, resolutionID int64) ([]*store.Step, error) {
	steps, err := t.s.stepList(ctx, t.p, resolutionID)
	if err != nil {
		return nil, fmt.Errorf("list steps of resolution %d: %w", resolutionID, err)
	}
	return steps, nil
}

// StepUpsert writes the given step rows of r, one row each. r must exist
// with its ID and PublicID (ErrNotFound otherwise). The writes are deferred
// (see Tx).
func (t *Tx) StepUpsert(_ context.Context, r *store.Resolution, steps []*store.Step) error {
	if len(steps) == 0 {
		return nil
	}
	args, err := t.s.stepsArgs(r, steps)
	if err != nil {
		return fmt.Errorf("upsert steps of resolution %s: %w", r.PublicID, err)
	}
	t.p.deferExec(fmt.Sprintf("upsert steps of resolution %s (%d)", r.PublicID, r.ID), stepsUpsertSQL, args...)
	return nil
}

// StepDelete removes step rows of a resolution by name; a name without a row
// is ignored.
func (t *Tx) StepDelete(ctx context.Context, resolutionID int64, names []string) error {
	if err := t.s.stepDelete(ctx, t.p, resolutionID, names); err != nil {
		return fmt.Errorf("delete steps of resolution %d: %w", resolutionID, err)
	}
	return nil
}
