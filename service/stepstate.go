package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// StepStateRequest is the body of PUT /resolution/{id}/step/{stepName}/state.
type StepStateRequest struct {
	State string `json:"state"`
}

// SetStepState gives a step of a paused resolution a state by hand, for an
// administrator or an owner of the template. The state is a builtin one or
// one of the step's custom states. When the resolution runs again, the
// steps that can no longer run because of it are pruned.
func (s *Service) SetStepState(ctx context.Context, id auth.Identity, publicID, stepName string, req StepStateRequest) error {
	r, t, tt, err := s.loadResolutionAndTask(ctx, publicID)
	if err != nil {
		return err
	}
	steps, err := s.cfg.Runner.Steps(ctx, r)
	if err != nil {
		return wrap(KindInternal, "load steps", err)
	}
	st, ok := steps[stepName]
	if !ok || st == nil {
		return Errorf(KindNotFound, "given stepName %q for this resolution not found", stepName)
	}
	if !s.cfg.Policy.IsAdmin(id) && !auth.IsTemplateOwner(id, tt) {
		return Errorf(KindForbidden, "Can't update resolution step state")
	}
	// The step as the task's version defines it: its own custom states and
	// those of the functions its action uses.
	if !state.IsReserved(req.State) && !slices.Contains(s.catalog().EffectiveCustomStates(st), req.State) {
		return Errorf(KindBadRequest, "invalid state provided: %q is not allowed", req.State)
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	locked, err := tx.ResolutionLock(ctx, publicID)
	if err != nil {
		return storeError("Failed to load resolution from public id", err)
	}
	if locked.State != state.ResPaused {
		return Errorf(KindBadRequest, "Cannot update a resolution which is not in state '%s'", state.ResPaused)
	}
	if engineHolds(locked) {
		// Paused by force while its cycle runs: the cycle's end would
		// overwrite the row.
		return wrap(KindConflict, "Cannot update resolution step state", ErrResolutionBusy)
	}
	rows, err := tx.StepList(ctx, locked.ID)
	if err != nil {
		return wrap(KindInternal, "load steps", err)
	}
	row := &store.Step{Name: stepName, State: st.State, MaxRetries: st.MaxRetries}
	for _, existing := range rows {
		if existing.Name == stepName {
			row = existing
		}
	}
	old := row.State
	row.State = req.State
	if err := tx.StepUpsert(ctx, locked, []*store.Step{row}); err != nil {
		return wrap(KindInternal, "update step", err)
	}
	msg := fmt.Sprintf("manually updated resolution step %s state from %s to %s", stepName, old, req.State)
	if _, err := s.insertComment(ctx, tx, t, id, msg); err != nil {
		return err
	}
	if err := s.audit(ctx, tx, id, OpEditResolutionStepState, t, locked.PublicID,
		map[string]any{"step": stepName, "old_state": old, "new_state": req.State}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap(KindInternal, "commit step state", err)
	}
	return nil
}
