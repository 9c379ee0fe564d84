package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/echo"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/engine"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store/sqlite"
	"github.com/utask/utask/store/storetest"
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
	st, err := sqlite.Open(ctx, sqlite.Config{
		Path:   filepath.Join(t.TempDir(), "utask.db"),
		Sealer: storetest.NewSealer(t),
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	functions := map[string]*template.Function{"fn-ok": {
		Name:         "fn-ok",
		Action:       template.Action{Type: echo.Name, Configuration: json.RawMessage(`{"output": {"x": 1}}`)},
		CustomStates: []string{"FN_OK"},
	}}
	reg := action.NewRegistry()
	require.NoError(t, reg.Register(echo.Name, echo.New()))
	catalog := &template.Catalog{Actions: reg, Functions: functions, Templates: map[string]bool{}}

	tt, err := template.Parse([]byte(functionStateTemplate))
	require.NoError(t, err)
	require.NoError(t, template.Validate(tt, catalog))
	doc, err := json.Marshal(tt)
	require.NoError(t, err)
	version, err := st.TemplateVersionPut(ctx, tt.Name, doc)
	require.NoError(t, err)

	cycles := make(chan engine.Event, 16)
	eng, err := engine.New(engine.Config{
		Store: st, Catalog: catalog, Logger: slog.New(slog.DiscardHandler), InstanceID: 7,
		Events: func(ev engine.Event) {
			if ev.Step == "" {
				select {
				case cycles <- ev:
				default:
				}
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(eng.Stop)

	svc := service.New(service.Config{
		Store:     st,
		Runner:    eng,
		Templates: service.NewTemplates([]*template.Template{tt}, map[string]int64{tt.Name: version}),
		Functions: functions,
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
		Catalog:   catalog,
	})
	root := auth.Identity{Username: "root"}
	owner := auth.Identity{Username: "owner"}

	task, err := svc.CreateTask(ctx, auth.Identity{Username: "bob"}, service.CreateTaskRequest{TemplateName: "function-state"})
	require.NoError(t, err)
	res, err := svc.CreateResolution(ctx, owner, service.CreateResolutionRequest{TaskID: task.ID})
	require.NoError(t, err)

	select {
	case ev := <-cycles:
		require.Equal(t, state.ResDone, ev.State)
	case <-time.After(10 * time.Second):
		t.Fatal("the cycle did not end")
	}
	require.NoError(t, svc.PauseResolution(ctx, root, res.ID, true))

	view, err := svc.GetResolutionStep(ctx, root, res.ID, "one")
	require.NoError(t, err)
	require.Equal(t, state.Done, view.State)

	// The same state through the full step edit is accepted.
	edited := *view
	edited.State = "FN_OK"
	require.NoError(t, svc.EditResolutionStep(ctx, root, res.ID, "one", edited), "PUT …/step/one accepts FN_OK")

	for _, who := range []auth.Identity{owner, root} {
		err = svc.SetStepState(ctx, who, res.ID, "one", service.StepStateRequest{State: "FN_OK"})
		require.NoError(t, err, "%s: a custom state contributed by the step's function", who.Username)
	}
}
