package service_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action/echo"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/template"
)

const functionStateTemplate = `
name: function-state
description: a step whose action is a function with a custom state
title_format: "fn task"
allowed_resolver_usernames: [owner]
steps:
  one:
    description: calls the function
    action: {type: fn-ok, configuration: {}}
`

// The custom states a step may be given by hand are its own and those of
// the function its action uses, as for PUT /resolution/{id}/step/{name}.
func TestStepStateAcceptsTheFunctionsCustomStates(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	functions := map[string]*template.Function{"fn-ok": {
		Name: "fn-ok",
		Action: template.Action{
			Type: echo.Name, Configuration: json.RawMessage(`{"output": {"x": 1}}`),
		},
		CustomStates: []string{"FN_OK"},
	}}
	rig := newEngineRig(t, functionStateTemplate, nil, functions)
	svc, root := rig.svc, rig.admin
	owner := auth.Identity{Username: "owner"}

	task, err := svc.CreateTask(ctx, auth.Identity{Username: "bob"},
		service.CreateTaskRequest{TemplateName: "function-state"})
	require.NoError(t, err)
	res, err := svc.CreateResolution(ctx, owner, service.CreateResolutionRequest{TaskID: task.ID})
	require.NoError(t, err)

	require.Equal(t, state.ResDone, rig.cycleEnd(t))
	require.NoError(t, svc.PauseResolution(ctx, root, res.ID, true))

	view, err := svc.GetResolutionStep(ctx, root, res.ID, "one")
	require.NoError(t, err)
	require.Equal(t, state.Done, view.State)

	// The same state through the full step edit is accepted.
	edited := *view
	edited.State = "FN_OK"
	require.NoError(t, svc.EditResolutionStep(ctx, root, res.ID, "one", edited),
		"PUT …/step/one accepts FN_OK")

	for _, who := range []auth.Identity{owner, root} {
		err = svc.SetStepState(ctx, who, res.ID, "one", service.StepStateRequest{State: "FN_OK"})
		require.NoError(t, err, "%s: a custom state contributed by the step's function", who.Username)
	}
}
