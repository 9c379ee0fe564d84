package service

import (
	"context"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// WontfixTask rejects a task that waits for a resolver: its state becomes
// WONTFIX. The task must be TODO, which is checked before the permissions;
// administrators, the requester and the resolution managers of the task
// (not counting the resolver of its resolution) may do it.
func (s *Service) WontfixTask(ctx context.Context, id auth.Identity, publicID string) error {
	found, err := s.loadTask(ctx, publicID)
	if err != nil {
		return err
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	t, err := tx.TaskLock(ctx, found.ID)
	if err != nil {
		return storeError("Failed to load task from public id", err)
	}

	if t.State != state.TaskTodo {
		return Errorf(KindBadRequest, "Can't set task's state to %s: task is in state %s", state.TaskWontfix, t.State)
	}

	tt, err := s.currentTemplate(ctx, tx, t)
	if err != nil {
		return err
	}

	if !s.cfg.Policy.IsAdmin(id) && !auth.IsRequester(id, t) && !auth.IsResolutionManager(id, tt, t, "") {
		return Errorf(KindForbidden, "Can't set task's state to %s", state.TaskWontfix)
	}

	t.State = state.TaskWontfix
	t.LastActivity = s.now()

	if err := tx.TaskUpdate(ctx, t); err != nil {
		return storeError("Failed to update task", err)
	}

	if _, err := s.insertComment(ctx, tx, t, id, commentWontfix); err != nil {
		return err
	}

	if err := s.audit(ctx, tx, id, OpCancelTask, t, t.ResolutionPublicID,
		map[string]any{"old_state": state.TaskTodo, "new_state": state.TaskWontfix}); err != nil {
		return err
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit task state", err)
	}

	// TODO: no task_state_update notification is sent, because there is no
	// notifier yet; send it here, after Commit, once one exists.

	s.wakeParent(ctx, t)

	return nil
}

// wakeParent resumes the task that created t (a subtask that was refused
// or cancelled): its waiting step sees the new state at once.
//
// It runs after the change was committed: a caller gone by then (its
// context ended) must not cost the parent its wake-up, or the parent waits
// forever.
func (s *Service) wakeParent(ctx context.Context, t *store.Task) {
	parent := t.Tags[ParentTaskTag]
	if parent == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if t.Batch != "" {
		// A batch's parent waits for the last of its tasks.
		n, err := s.cfg.Store.BatchCountRunning(ctx, t.Batch)
		if err != nil {
			s.cfg.Logger.WarnContext(ctx, "service: count unfinished tasks of batch", "batch_id", t.Batch, "err", err)
		}
		if err != nil || n > 0 {
			return
		}
	}
	p, err := s.cfg.Store.TaskGet(ctx, parent)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "service: read parent task", "task_id", parent, "err", err)
		return
	}
	if p.ResolutionPublicID == "" {
		return
	}
	if err := s.cfg.Runner.WakeResolution(ctx, p.ResolutionPublicID); err != nil {
		s.cfg.Logger.WarnContext(ctx, "service: wake parent resolution", "resolution_id", p.ResolutionPublicID, "err", err)
	}
}

// PauseResolution pauses a resolution, for an administrator or a resolution
// manager. A resolution that is CANCELLED, RUNNING or DONE cannot be paused,
// unless force is set, which only administrators may use (to rescue a
// resolution stuck in RUNNING). The task's state is left as it is.
func (s *Service) PauseResolution(ctx context.Context, id auth.Identity, publicID string, force bool) error {
	admin := s.cfg.Policy.IsAdmin(id)

	return s.changeResolution(ctx, id, publicID, commentPaused, func(_ store.Tx, r *store.Resolution, t *store.Task, tt *template.Template) error {
		if !admin && !auth.IsResolutionManager(id, tt, t, r.ResolverUsername) {
			return Errorf(KindForbidden, "You are not allowed to pause this task")
		}

		if force {
			if !admin {
				return Errorf(KindForbidden, "Not an admin user")
			}
		} else if isFinalOrRunning(r.State) {
			return Errorf(KindBadRequest, "Can't pause resolution while in state %s", r.State)
		}

		r.State = state.ResPaused

		return nil
	})
}

// CancelResolution cancels a resolution and its task, for an administrator
// or a resolution manager. A resolution that is CANCELLED, RUNNING or DONE
// cannot be cancelled. The parent of a subtask resumes at once (µTask
// leaves it waiting).
func (s *Service) CancelResolution(ctx context.Context, id auth.Identity, publicID string) error {
	var cancelled *store.Task
	err := s.changeResolution(ctx, id, publicID, commentCancelled, func(_ store.Tx, r *store.Resolution, t *store.Task,
		tt *template.Template,
	) error {
		cancelled = t
		if !s.cfg.Policy.IsAdmin(id) && !auth.IsResolutionManager(id, tt, t, r.ResolverUsername) {
			return Errorf(KindForbidden, "You are not allowed to cancel this task")
		}

		if isFinalOrRunning(r.State) {
			return Errorf(KindBadRequest, "Can't cancel resolution: state %s", r.State)
		}

		if engineHolds(r) {
			// Paused by force while its cycle runs: the cycle's end would
			// write its own state over the cancellation.
			return wrap(KindConflict, "Can't cancel resolution", ErrResolutionBusy)
		}

		r.State = state.ResCancelled
		t.State = state.TaskCancelled
		t.LastActivity = s.now()

		// TODO: no task_state_update notification is sent, because there is
		// no notifier yet; send it after the commit once one exists.
		return nil
	})
	if err != nil {
		return err
	}

	s.wakeParent(ctx, cancelled)

	return nil
}

// ExtendResolution gives a resolution blocked by its retry limit more
// execution cycles, for an administrator or a resolution manager: run_max
// grows by the template's retry_max (or DefaultRetryMax), the state becomes
// ERROR with next_retry now, and the engine is woken to retry it.
func (s *Service) ExtendResolution(ctx context.Context, id auth.Identity, publicID string) error {
	err := s.changeResolution(ctx, id, publicID, commentExtended, func(tx store.Tx, r *store.Resolution, t *store.Task,
		tt *template.Template,
	) error {
		if !s.cfg.Policy.IsAdmin(id) && !auth.IsResolutionManager(id, tt, t, r.ResolverUsername) {
			return Errorf(KindForbidden, "Not allowed to extend resolution")
		}

		if r.State != state.ResBlockedMaxRetries {
			return Errorf(KindBadRequest, "Cannot extend a resolution which is not in state '%s'",
				state.ResBlockedMaxRetries)
		}

		run, err := s.versionTemplate(ctx, tx, t)
		if err != nil {
			return err
		}

		now := s.now()
		r.RunMax += run.EffectiveRetryMax()
		r.State = state.ResError
		r.NextRetry = &now

		return nil
	})
	if err != nil {
		return err
	}

	s.cfg.Runner.Wake()

	return nil
}

// isFinalOrRunning reports whether a resolution in state st can be neither
// paused nor cancelled.
func isFinalOrRunning(st string) bool {
	return st == state.ResCancelled || st == state.ResRunning || st == state.ResDone
}

// changeResolution locks a resolution and its task, lets change check the
// caller and modify them, and writes both back with a comment of id saying
// what was done. change sees the template that rules the task now; an error
// it returns aborts the change.
func (s *Service) changeResolution(ctx context.Context, id auth.Identity, publicID, comment string,
	change func(tx store.Tx, r *store.Resolution, t *store.Task, tt *template.Template) error,
) error {
	if err := checkPublicID("resolution", publicID); err != nil {
		return err
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	r, err := tx.ResolutionLock(ctx, publicID)
	if err != nil {
		return storeError("Failed to load resolution from public id", err)
	}

	t, err := tx.TaskLock(ctx, r.TaskID)
	if err != nil {
		return storeError("Failed to load task from public id", err)
	}

	tt, err := s.currentTemplate(ctx, tx, t)
	if err != nil {
		return err
	}

	taskBefore := *t
	oldState := r.State

	if err := change(tx, r, t, tt); err != nil {
		return err
	}

	if err := tx.ResolutionUpdate(ctx, r); err != nil {
		return storeError("Failed to update resolution", err)
	}

	if t.State != taskBefore.State || !t.LastActivity.Equal(taskBefore.LastActivity) {
		if err := tx.TaskUpdate(ctx, t); err != nil {
			return storeError("Failed to update task", err)
		}
	}

	if _, err := s.insertComment(ctx, tx, t, id, comment); err != nil {
		return err
	}

	if err := s.audit(ctx, tx, id, changeOperation(comment), t, r.PublicID,
		map[string]any{"old_state": oldState, "new_state": r.State}); err != nil {
		return err
	}

	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit resolution", err)
	}

	return nil
}

// GetResolutionStep returns one step of a resolution, with the same
// permissions and the same reduced view as GetResolution. An unknown step
// is reported before the permissions are checked.
func (s *Service) GetResolutionStep(ctx context.Context, id auth.Identity, publicID, stepName string) (
	*template.Step, error,
) {
	r, t, tt, err := s.loadResolutionAndTask(ctx, publicID)
	if err != nil {
		return nil, err
	}

	steps, err := s.cfg.Runner.Steps(ctx, r)
	if err != nil {
		return nil, wrap(KindInternal, "load steps", err)
	}

	st, ok := steps[stepName]
	if !ok || st == nil {
		return nil, Errorf(KindNotFound, "given stepName %q for this resolution not found", stepName)
	}

	admin := s.cfg.Policy.IsAdmin(id)
	manager := auth.IsResolutionManager(id, tt, t, r.ResolverUsername)

	if !admin && !manager && !auth.IsRequester(id, t) && !auth.IsWatcher(id, t) {
		return nil, Errorf(KindForbidden, "Can't display resolution details")
	}

	c := *st
	if !admin && !manager {
		reduceStep(&c)
	}

	return &c, nil
}
