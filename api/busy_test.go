package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// forcePausedWhileRunning leaves a resolution as a pause by force leaves it while
// the engine still runs its cycle: PAUSED, held by an instance, started and
// not stopped since.
func forcePausedWhileRunning(t *testing.T, b *bundle, resID string) {
	t.Helper()

	started := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	b.changeResolution(t, resID, func(r *store.Resolution) {
		r.State = state.ResPaused
		r.LastStart = &started
		r.LastStop = nil
	})
	require.NotNil(t, b.resolution(t, resID).InstanceID)
}

// Start over (POST /resolution on a task that has one) while the engine
// still runs a cycle of the old resolution answers 409, as every edit does.
func TestStartOverWhileACycleRunsIs409(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	taskID, resID := b.manualResolution(t)
	forcePausedWhileRunning(t, b, resID)

	resp := b.post(t, "admin", "/resolution",
		`{"task_id": "`+taskID+`", "start_over": true, "resolver_inputs": {"ri1": "again"}}`)
	require.Contains(t, resp.errorMessage(t), service.ErrResolutionBusy.Error(),
		"refused because the engine holds it")
	require.Equal(t, http.StatusConflict, resp.status, "body: %s", resp.body)
}

// PUT /resolution/{id}/step/{name}/state while the engine still runs a
// cycle of the resolution (paused by force) answers 409 and writes nothing:
// the cycle's final save would overwrite the step.
func TestStepStateWhileACycleRunsIs409(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	_, resID := b.manualResolution(t)
	b.manualSteps(resID)
	forcePausedWhileRunning(t, b, resID)

	resp := b.put(t, "admin", "/resolution/"+resID+"/step/second/state", `{"state": "PRUNE"}`)
	require.Equal(t, http.StatusConflict, resp.status, "body: %s", resp.body)
	require.Nil(t, b.stepRow(t, resID, "second"), "nothing is written while the engine holds the resolution")
}
