package service

import (
	"context"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// startOver makes way, in tx, for a new resolution of task t, whose
// resolution old the caller locked: it checks that
// the caller may start the task over (an administrator, or a resolution
// manager when the template allows it), that the resolution is PAUSED,
// BLOCKED_BADREQUEST or CANCELLED and that no engine cycle still runs it,
// then deletes the resolution and its steps and makes the task wait again.
// It returns the public id of the deleted resolution.
func (s *Service) startOver(ctx context.Context, tx store.Tx, admin bool, tt *template.Template, t *store.Task,
	old *store.Resolution,
) (string, error) {
	if !admin && !tt.AllowTaskStartOver {
		return "", Errorf(KindForbidden, "You are not allowed to start over this task")
	}

	switch old.State {
	case state.ResPaused, state.ResBlockedBadRequest, state.ResCancelled:
	default:
		return "", Errorf(KindBadRequest, "can't start over a task that isn't in status %q, %q or %q",
			state.ResPaused, state.ResBlockedBadRequest, state.ResCancelled)
	}

	if engineHolds(old) {
		return "", wrap(KindConflict, "can't start over the task", ErrResolutionBusy)
	}

	if err := tx.ResolutionDelete(ctx, old.ID); err != nil {
		return "", storeError("Failed to delete resolution", err)
	}

	// The result goes back to the version's result format, which the next
	// resolution renders anew.
	version, err := s.versionTemplate(ctx, tx, t)
	if err != nil {
		return "", err
	}

	t.ResolutionPublicID = ""
	t.ResolverUsername = ""
	t.LastStart, t.LastStop = nil, nil
	t.State = state.TaskTodo
	t.StepsDone = 0
	t.Result = deepCopyMap(version.ResultFormat)
	t.LastActivity = s.now()

	if err := tx.TaskUpdate(ctx, t); err != nil {
		return "", storeError("Failed to update task", err)
	}

	return old.PublicID, nil
}
