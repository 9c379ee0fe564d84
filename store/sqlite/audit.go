package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
		err := s.reads.QueryRowContext(ctx,
			`SELECT id FROM audit WHERE public_id = ? AND task_id = ?`, f.After, f.TaskID).Scan(&after)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("cursor %s: %w", f.After, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1 // no limit
	}
	rows, err := s.reads.QueryContext(ctx,
		auditSelect+` WHERE a.task_id = ? AND a.id > ? ORDER BY a.id LIMIT ?`, f.TaskID, after, limit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return rowcodec.Collect(rows, func() (*store.AuditEntry, error) { return s.scanAudit(rows) })
}

// scanAudit reads a row of auditSelect and opens its detail.
func (s *Store) scanAudit(row scanner) (*store.AuditEntry, error) {
	var (
		e      store.AuditEntry
		at     int64
		sealed []byte
	)
	if err := row.Scan(&e.ID, &e.PublicID, &e.TaskID, &e.TaskPublicID, &e.ResolutionPublicID, &at,
		&e.Username, &e.Admin, &e.Operation, &sealed); err != nil {
		return nil, err
	}
	e.Time = fromMicros(at)
	if err := s.codec.OpenAudit(&e, sealed); err != nil {
		return nil, err
	}
	return &e, nil
}

// AuditInsert appends an entry to the audit trail of its task and sets its
// ID.
func (t *Tx) AuditInsert(ctx context.Context, e *store.AuditEntry) error {
	sealed, err := t.s.codec.SealAudit(e)
	if err != nil {
		return fmt.Errorf("insert audit entry %s: %w", e.PublicID, err)
	}
	err = t.tx.QueryRowContext(ctx, `
		INSERT INTO audit (public_id, task_id, resolution_public_id, at, username, admin, operation, sealed_detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		e.PublicID, e.TaskID, e.ResolutionPublicID, micros(e.Time), e.Username, e.Admin, e.Operation,
		sealed).Scan(&e.ID)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("insert audit entry %s: task %d: %w", e.PublicID, e.TaskID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("insert audit entry %s: %w", e.PublicID, conflict(err))
	}
	return nil
}

// ResolutionDelete removes a resolution by internal id; its steps go with
// it (ON DELETE CASCADE).
func (t *Tx) ResolutionDelete(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM resolution WHERE id = ?`, id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("delete resolution %d: %w", id, err)
	}
	return nil
}
