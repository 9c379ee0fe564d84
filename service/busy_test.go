package service_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// blockAction runs until the test releases it.
type blockAction struct {
	started chan struct{}
	release chan struct{}
}

func (blockAction) ValidateConfig(_, _ json.RawMessage) error { return nil }
func (blockAction) Resources(_, _ json.RawMessage) []string   { return nil }
func (a blockAction) Run(ctx context.Context, _ action.Request) action.Result {
	select {
	case a.started <- struct{}{}:
	default:
	}
	select {
	case <-a.release:
	case <-ctx.Done():
		return action.Result{Err: ctx.Err()}
	}
	return action.Result{Output: map[string]any{"ok": true}}
}

const blockTemplate = `
name: held-block
description: a step that blocks until released
title_format: block
allowed_resolver_usernames: [owner]
steps:
  wait:
    description: waits for the test
    action: {type: block, configuration: {}}
  after:
    description: runs after wait
    dependencies: [wait]
    action: {type: echo, configuration: {output: {}}}
`

type heldRig struct {
	*engineRig
	block   blockAction
	taskID  string
	resID   string
	cleanup func()
}

// heldCycle sets up a real engine and a resolution whose cycle is in
// flight (its step "wait" runs until block.release is closed), paused by
// force.
func heldCycle(t *testing.T) *heldRig {
	t.Helper()
	ctx := context.Background()
	block := blockAction{started: make(chan struct{}, 1), release: make(chan struct{})}
	rig := &heldRig{engineRig: newEngineRig(t, blockTemplate, map[string]action.Action{"block": block}, nil),
		block: block}
	released := false
	rig.cleanup = func() {
		if !released {
			released = true
			close(block.release)
		}
	}
	t.Cleanup(rig.cleanup) // runs before the engine stops

	task, err := rig.svc.CreateTask(ctx, auth.Identity{Username: "bob"},
		service.CreateTaskRequest{TemplateName: "held-block"})
	require.NoError(t, err)
	res, err := rig.svc.CreateResolution(ctx, rig.admin, service.CreateResolutionRequest{TaskID: task.ID})
	require.NoError(t, err)
	rig.taskID, rig.resID = task.ID, res.ID

	select {
	case <-block.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the cycle did not start")
	}

	// The rescue of a resolution stuck in RUNNING: pause by force.
	require.NoError(t, rig.svc.PauseResolution(ctx, rig.admin, rig.resID, true))

	return rig
}

// finishCycle lets the blocked step end and waits for the end of the cycle.
func (rig *heldRig) finishCycle(t *testing.T) {
	t.Helper()
	rig.cleanup()
	rig.cycleEnd(t)
}

// A resolution paused by force while its cycle runs cannot be cancelled
// until the cycle ends: the cycle's final save would write the state the
// steps call for over the cancellation.
func TestCancelIsRefusedWhileACycleRuns(t *testing.T) {
	t.Parallel()

	rig := heldCycle(t)
	ctx := context.Background()

	err := rig.svc.CancelResolution(ctx, rig.admin, rig.resID)
	require.ErrorIs(t, err, service.ErrResolutionBusy)
	r, err := rig.st.ResolutionGet(ctx, rig.resID)
	require.NoError(t, err)
	require.Equal(t, state.ResPaused, r.State, "the refused cancel wrote nothing")

	rig.finishCycle(t)
}

// A step's state cannot be set by hand while a cycle still runs the
// resolution (paused by force): the cycle's own write of the step would
// overwrite it.
func TestStepStateIsRefusedWhileACycleRuns(t *testing.T) {
	t.Parallel()

	rig := heldCycle(t)
	ctx := context.Background()

	err := rig.svc.SetStepState(ctx, rig.admin, rig.resID, "wait", service.StepStateRequest{State: state.Prune})
	require.ErrorIs(t, err, service.ErrResolutionBusy)
	rows, err := rig.st.StepList(ctx, mustResolution(t, rig).ID)
	require.NoError(t, err)
	for _, row := range rows {
		require.NotEqual(t, state.Prune, row.State, "the refused edit wrote nothing")
	}
	rig.finishCycle(t)
}

func mustResolution(t *testing.T, rig *heldRig) *store.Resolution {
	t.Helper()
	r, err := rig.st.ResolutionGet(context.Background(), rig.resID)
	require.NoError(t, err)
	return r
}
