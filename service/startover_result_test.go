package service_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
)

const startoverAgainTemplate = `
name: startover-again
description: its result names the resolver input
title_format: "again task"
allowed_resolver_usernames: [owner]
resolver_inputs:
  - name: ri
    description: a resolver input
result_format:
  who: "{{.resolver_input.ri}}"
steps:
  one:
    description: one
    action: {type: echo, configuration: {output: {}}}
`

// A task started over gets its template's result format back: the new
// resolution renders its own result, not the deleted one's.
func TestStartOverRendersANewResult(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rig := newEngineRig(t, startoverAgainTemplate, nil, nil)
	svc, st, root := rig.svc, rig.st, rig.admin
	waitDone := func() {
		t.Helper()
		require.Equal(t, state.ResDone, rig.cycleEnd(t))
	}

	task, err := svc.CreateTask(ctx, auth.Identity{Username: "bob"},
		service.CreateTaskRequest{TemplateName: "startover-again"})
	require.NoError(t, err)
	first, err := svc.CreateResolution(ctx, root, service.CreateResolutionRequest{
		TaskID: task.ID, ResolverInputs: map[string]any{"ri": "first"}})
	require.NoError(t, err)
	waitDone()

	got, err := st.TaskGet(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"who": "first"}, got.Result)

	require.NoError(t, svc.PauseResolution(ctx, root, first.ID, true))
	second, err := svc.CreateResolution(ctx, root, service.CreateResolutionRequest{
		TaskID: task.ID, StartOver: true, ResolverInputs: map[string]any{"ri": "second"}})
	require.NoError(t, err)
	require.NotEqual(t, first.ID, second.ID)
	waitDone()

	got, err = st.TaskGet(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, state.TaskDone, got.State)
	require.Equal(t, map[string]any{"who": "second"}, got.Result,
		"result_format rendered for the new resolution")
}
