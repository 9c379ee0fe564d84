package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/internal/rowcodec"
)

// auditSelect reads the columns scanAudit expects.
const auditSelect = `SELECT a.id, a.public_id, a.task_id, t.public_id, a.resolution_public_id, a.at,
	a.username, a.admin, a.operation, a.sealed_detail FROM audit a JOIN task t ON t.id = a.task_id`

// AuditList returns one page of the audit trail of a task, oldest first.
func (s *Store) AuditList(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	es, err := s.auditList(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list audit of task %d: %w", f.TaskID, err)
	}
	return es, nil
}

func (s *Store) auditList(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, error) {
	after := int64(0)
	if f.After != "" {
		err := s.pool.QueryRow(ctx,
			`SELECT id FROM audit WHERE public_id = $1 AND task_id = $2`, f.After, f.TaskID).Scan(&after)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("cursor %s: %w", f.After, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	var limit any // NULL: no limit
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := s.pool.Query(ctx,
		auditSelect+` WHERE a.task_id = $1 AND a.id > $2 ORDER BY a.id LIMIT $3`, f.TaskID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return rowcodec.Collect(rows, func() (*store.AuditEntry, error) { return s.scanAudit(rows) })
}

// scanAudit reads a row of auditSelect and opens its detail.
func (s *Store) scanAudit(row pgx.Row) (*store.AuditEntry, error) {
	var (
		e      store.AuditEntry
		sealed []byte
	)
	if err := row.Scan(&e.ID, &e.PublicID, &e.TaskID, &e.TaskPublicID, &e.ResolutionPublicID, &e.Time,
		&e.Username, &e.Admin, &e.Operation, &sealed); err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	if err := s.codec.OpenAudit(&e, sealed); err != nil {
		return nil, err
	}
	return &e, nil
}

// The insert takes its task from the task row and does nothing on a taken
// public id, so that neither a missing task nor a conflict aborts the
// transaction.
const auditInsertSQL = `
	INSERT INTO audit (public_id, task_id, resolution_public_id, at, username, admin, operation, sealed_detail)
	SELECT $1, t.id, $3, $4, $5, $6, $7, $8 FROM task t WHERE t.id = $2
	ON CONFLICT DO NOTHING
	RETURNING id`

// AuditInsert appends an entry to the audit trail of its task and sets its
// ID.
func (t *Tx) AuditInsert(ctx context.Context, e *store.AuditEntry) error {
	if err := t.auditInsert(ctx, e); err != nil {
		return fmt.Errorf("insert audit entry %s: %w", e.PublicID, err)
	}
	return nil
}

func (t *Tx) auditInsert(ctx context.Context, e *store.AuditEntry) error {
	sealed, err := t.s.codec.SealAudit(e)
	if err != nil {
		return err
	}
	// Entries are listed in id order, ids are taken at insert and entries
	// seen at commit: two transactions writing entries of one task must
	// commit in the order of their ids, or a client paging the trail past
	// the later one never sees the earlier. The task's row lock orders
	// them; a task inserted by this transaction is seen by no other yet.
	if !t.inserted[e.TaskID] {
		if _, err := t.p.Exec(ctx, `SELECT 1 FROM task WHERE id = $1 FOR NO KEY UPDATE`, e.TaskID); err != nil {
			return err
		}
	}
	err = t.p.QueryRow(ctx, auditInsertSQL, e.PublicID, e.TaskID, e.ResolutionPublicID, ts(e.Time),
		e.Username, e.Admin, e.Operation, sealed).Scan(&e.ID)
	if !errors.Is(err, pgx.ErrNoRows) {
		return insertError(err, "task", e.TaskID)
	}
	return noRowInserted(ctx, t.p, fmt.Sprintf("task %d", e.TaskID),
		`SELECT EXISTS (SELECT 1 FROM task WHERE id = $1)`, e.TaskID)
}

// ResolutionDelete removes a resolution by internal id; its steps go with
// it (ON DELETE CASCADE).
func (t *Tx) ResolutionDelete(ctx context.Context, id int64) error {
	tag, err := t.p.Exec(ctx, `DELETE FROM resolution WHERE id = $1`, id)
	if err == nil {
		err = affectedOne(tag)
	}
	if err != nil {
		return fmt.Errorf("delete resolution %d: %w", id, err)
	}
	return nil
}
