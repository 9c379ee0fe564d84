package service

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/store"
)

// Operation ids of the audited writes: those of the API routes.
const (
	OpCreateTask              = "CreateTask"
	OpBatchCreateTask         = "BatchCreateTask"
	OpEditTask                = "EditTask"
	OpCancelTask              = "CancelTask"
	OpAddComment              = "AddTaskComment"
	OpEditComment             = "EditTaskComment"
	OpDeleteComment           = "DeleteTaskComment"
	OpCreateResolution        = "CreateTaskResolution"
	OpEditResolution          = "EditTaskResolution"
	OpRunResolution           = "ExecuteTask"
	OpPauseResolution         = "PauseTaskExecution"
	OpExtendResolution        = "ExtendTaskResolution"
	OpCancelResolution        = "CancelTaskResolution"
	OpEditResolutionStep      = "EditTaskResolutionStep"
	OpEditResolutionStepState = "EditTaskResolutionStepState"
)

// AuditEntry is the API view of one entry of a task's audit trail: a write
// the API made on the task or on its resolution.
type AuditEntry struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Username string    `json:"username"`
	// Admin says whether the caller was an administrator when they made
	// the write.
	Admin        bool   `json:"admin"`
	Operation    string `json:"operation"`
	TaskID       string `json:"task_id"`
	ResolutionID string `json:"resolution_id,omitempty"`
	// Detail says what changed. It names input keys and states, never an
	// input value nor a comment's text.
	Detail map[string]any `json:"detail,omitempty"`
}

// AuditPage is one page of an audit trail.
type AuditPage struct {
	Entries []*AuditEntry
	// PageSize is the normalised page size; a page holding that many
	// entries may have a next page.
	PageSize int
}

// ListAuditRequest is the query of GET /task/{id}/audit.
type ListAuditRequest struct {
	// PageSize is normalised as in ListTasks.
	PageSize uint64
	// Last is the id of the last entry of the previous page.
	Last string
}

// ListTaskAudit returns a page of the audit trail of a task, oldest entry
// first, to those who may read the task.
func (s *Service) ListTaskAudit(ctx context.Context, id auth.Identity, taskID string, req ListAuditRequest) (
	*AuditPage, error,
) {
	t, err := s.loadVisibleTask(ctx, id, taskID, "Can't display task audit trail")
	if err != nil {
		return nil, err
	}

	f := store.AuditFilter{TaskID: t.ID, Limit: normalisePageSize(req.PageSize)}
	if req.Last != "" {
		if err := checkPublicID("audit entry", req.Last); err != nil {
			return nil, err
		}

		f.After = req.Last
	}

	rows, err := s.cfg.Store.AuditList(ctx, f)
	if errors.Is(err, store.ErrNotFound) {
		// The cursor is unknown, or an entry of another task.
		return nil, Errorf(KindNotFound, "audit entry %q not found", req.Last)
	}
	if err != nil {
		return nil, storeError("Failed to list audit trail", err)
	}

	page := &AuditPage{Entries: make([]*AuditEntry, 0, len(rows)), PageSize: f.Limit}
	for _, e := range rows {
		page.Entries = append(page.Entries, &AuditEntry{
			ID:           e.PublicID,
			Time:         e.Time,
			Username:     e.Username,
			Admin:        e.Admin,
			Operation:    e.Operation,
			TaskID:       e.TaskPublicID,
			ResolutionID: e.ResolutionPublicID,
			Detail:       e.Detail,
		})
	}

	return page, nil
}

// audit appends, in tx, an entry to the audit trail of task t: id made
// the write op, on the resolution resolutionID when it is not "". detail
// must name no input value and no secret.
func (s *Service) audit(ctx context.Context, tx store.Tx, id auth.Identity, op string, t *store.Task,
	resolutionID string, detail map[string]any,
) error {
	if err := tx.AuditInsert(ctx, s.auditEntry(id, op, t, resolutionID, detail)); err != nil {
		return storeError("Failed to write audit trail", err)
	}

	return nil
}

// auditEntry is the audit entry of a write op of id on task t (and on its
// resolution resolutionID, if not "").
func (s *Service) auditEntry(id auth.Identity, op string, t *store.Task, resolutionID string,
	detail map[string]any,
) *store.AuditEntry {
	return &store.AuditEntry{
		PublicID:           s.cfg.NewID(),
		TaskID:             t.ID,
		ResolutionPublicID: resolutionID,
		Time:               s.now(),
		Username:           id.Username,
		Admin:              s.cfg.Policy.IsAdmin(id),
		Operation:          op,
		Detail:             detail,
	}
}

// changeOperation returns the operation id of a change made through
// changeResolution, told by the comment it writes.
func changeOperation(comment string) string {
	switch comment {
	case commentPaused:
		return OpPauseResolution
	case commentCancelled:
		return OpCancelResolution
	case commentExtended:
		return OpExtendResolution
	}

	return comment
}

// sortedKeys returns the keys of m, sorted; never nil.
func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Sorted(maps.Keys(m))
	if keys == nil {
		keys = []string{}
	}

	return keys
}

// writeAuditedComment writes, in a transaction of its own, a comment of task
// t by id and the audit entry of op on the resolution resolutionID.
func (s *Service) writeAuditedComment(ctx context.Context, t *store.Task, id auth.Identity, content, op,
	resolutionID string, detail map[string]any,
) error {
	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	if _, err := s.insertComment(ctx, tx, t, id, content); err != nil {
		return err
	}

	if err := s.audit(ctx, tx, id, op, t, resolutionID, detail); err != nil {
		return err
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit comment", err)
	}

	return nil
}

// auditComment appends the audit entry of op on comment c to its task's
// trail.
func (s *Service) auditComment(ctx context.Context, tx store.Tx, id auth.Identity, op string, c *store.Comment) error {
	t := &store.Task{ID: c.TaskID, PublicID: c.TaskPublicID}

	return s.audit(ctx, tx, id, op, t, "", map[string]any{"comment_id": c.PublicID})
}

// resolutionIDOf returns the public id of r, "" when r is nil.
func resolutionIDOf(r *store.Resolution) string {
	if r == nil {
		return ""
	}

	return r.PublicID
}

// createTaskDetail is the audit detail of the creation of task t, with its
// initial comment c when there is one.
func createTaskDetail(t *store.Task, c *store.Comment) map[string]any {
	d := map[string]any{
		"template_name": t.TemplateName,
		"state":         t.State,
		"input_keys":    sortedKeys(t.Input),
	}
	if c != nil {
		d["comment_id"] = c.PublicID
	}

	if parent := t.Tags[ParentTaskTag]; parent != "" {
		d["parent_task_id"] = parent
	}

	return d
}
