package service

import (
	"context"
	"errors"
	"slices"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// CreateResolutionRequest is the body of POST /resolution.
type CreateResolutionRequest struct {
	TaskID         string         `json:"task_id"`
	ResolverInputs map[string]any `json:"resolver_inputs"`
	StartOver      bool           `json:"start_over"`
}

// CreateResolution resolves a task: an administrator or a resolution manager
// of the task (the template's owners and the task's resolvers) creates its
// resolution, which this instance claims and launches at once. An
// administrator is added to the task's resolvers, so that the task shows in
// their resolvable list from then on.
func (s *Service) CreateResolution(ctx context.Context, id auth.Identity,
	req CreateResolutionRequest,
) (*Resolution, error) {
	found, err := s.loadTask(ctx, req.TaskID)
	if err != nil {
		return nil, err
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	t, old, err := lockTask(ctx, tx, found)
	if err != nil {
		return nil, err
	}

	if req.StartOver && old == nil {
		return nil, Errorf(KindBadRequest, "can't start over a task that hasn't been resolved at least once")
	}

	tt, err := s.currentTemplate(ctx, tx, t)
	if err != nil {
		return nil, err
	}

	admin := s.cfg.Policy.IsAdmin(id)
	if !admin && !auth.IsResolutionManager(id, tt, t, "") {
		return nil, Errorf(KindForbidden, "You are not allowed to resolve this task")
	}

	var previous string
	if req.StartOver {
		if previous, err = s.startOver(ctx, tx, admin, tt, t, old); err != nil {
			return nil, err
		}
	}

	if t.State == state.TaskWontfix {
		return nil, Errorf(KindBadRequest, "Failed to create Resolution: Task is in state %s", t.State)
	}

	if t.ResolutionPublicID != "" {
		return nil, errResolutionExists()
	}

	run, err := s.versionTemplate(ctx, tx, t)
	if err != nil {
		return nil, err
	}

	resolverInput, err := template.ValidateInputs(run.ResolverInputs, req.ResolverInputs)
	if err != nil {
		return nil, wrap(KindBadRequest, "Failed to create Resolution", err)
	}

	if admin && !slices.Contains(t.ResolverUsernames, id.Username) {
		t.ResolverUsernames = append(t.ResolverUsernames, id.Username)
		if err := tx.TaskUpdate(ctx, t); err != nil {
			return nil, storeError("Failed to update task", err)
		}
	}

	instance := s.cfg.Runner.InstanceID()
	r := &store.Resolution{
		PublicID:         s.cfg.NewID(),
		TaskID:           t.ID,
		TaskPublicID:     t.PublicID,
		ResolverUsername: id.Username,
		State:            state.ResAutorunning,
		InstanceID:       &instance,
		Created:          s.now(),
		RunMax:           run.EffectiveRetryMax(),
		ResolverInput:    resolverInput,
	}

	if err := tx.ResolutionInsert(ctx, r); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, errResolutionExists()
		}

		return nil, storeError("Failed to create Resolution", err)
	}

	detail := map[string]any{"resolver_input_keys": sortedKeys(req.ResolverInputs), "start_over": req.StartOver}
	if previous != "" {
		detail["previous_resolution_id"] = previous
	}

	if err := s.audit(ctx, tx, id, OpCreateResolution, t, r.PublicID, detail); err != nil {
		return nil, err
	}

	if err := tx.Commit(ctx); err != nil {
		return nil, wrap(KindInternal, "commit new resolution", err)
	}

	s.cfg.Runner.Launch(r.PublicID)

	steps, err := s.cfg.Runner.Steps(ctx, r)
	if err != nil {
		return nil, wrap(KindInternal, "load steps", err)
	}

	return resolutionView(r, t, run, steps), nil
}

// errResolutionExists is the error of a second resolution for one task.
func errResolutionExists() *Error {
	return Errorf(KindBadRequest, "Failed to create Resolution: a resolution already exists for this task")
}

// GetResolution returns a resolution to the administrators, the requester,
// the watchers and the resolution managers of its task. Callers who are
// neither administrators nor managers get a reduced view: no resolver inputs,
// and no step output, metadata, children or item.
func (s *Service) GetResolution(ctx context.Context, id auth.Identity, publicID string) (*Resolution, error) {
	r, t, tt, err := s.loadResolutionAndTask(ctx, publicID)
	if err != nil {
		return nil, err
	}

	admin := s.cfg.Policy.IsAdmin(id)
	manager := auth.IsResolutionManager(id, tt, t, r.ResolverUsername)

	if !admin && !manager && !auth.IsRequester(id, t) && !auth.IsWatcher(id, t) {
		return nil, Errorf(KindForbidden, "Can't display resolution details")
	}

	run, err := s.versionTemplate(ctx, s.cfg.Store, t)
	if err != nil {
		return nil, err
	}

	steps, err := s.cfg.Runner.Steps(ctx, r)
	if err != nil {
		return nil, wrap(KindInternal, "load steps", err)
	}

	v := resolutionView(r, t, run, steps)
	if !admin && !manager {
		reduceResolution(v)
	}

	return v, nil
}

// RunResolution runs a cycle of a resolution now, for an administrator or a
// resolution manager. It returns once the cycle has started, or with the
// engine's reason for refusing to start it.
func (s *Service) RunResolution(ctx context.Context, id auth.Identity, publicID string) error {
	r, t, tt, err := s.loadResolutionAndTask(ctx, publicID)
	if err != nil {
		return err
	}

	if !s.cfg.Policy.IsAdmin(id) && !auth.IsResolutionManager(id, tt, t, r.ResolverUsername) {
		return Errorf(KindForbidden, "You are not allowed to run this resolution")
	}

	if err := s.writeAuditedComment(ctx, t, id, commentRan, OpRunResolution, r.PublicID,
		map[string]any{"state": r.State}); err != nil {
		return err
	}

	if err := s.cfg.Runner.RunNow(ctx, r.PublicID); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}

		return wrap(KindInternal, "run resolution", err)
	}

	return nil
}

// loadResolutionAndTask returns a resolution, its task and the template that
// rules the task now.
func (s *Service) loadResolutionAndTask(ctx context.Context, publicID string) (
	*store.Resolution, *store.Task, *template.Template, error,
) {
	r, err := s.loadResolution(ctx, publicID)
	if err != nil {
		return nil, nil, nil, err
	}

	t, err := s.cfg.Store.TaskGet(ctx, r.TaskPublicID)
	if err != nil {
		return nil, nil, nil, storeError("Failed to load task from public id", err)
	}

	tt, err := s.currentTemplate(ctx, s.cfg.Store, t)
	if err != nil {
		return nil, nil, nil, err
	}

	return r, t, tt, nil
}
