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
	st, err := sqlite.Open(ctx, sqlite.Config{
		Path:   filepath.Join(t.TempDir(), "utask.db"),
		Sealer: storetest.NewSealer(t),
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	reg := action.NewRegistry()
	require.NoError(t, reg.Register(echo.Name, echo.New()))
	catalog := &template.Catalog{Actions: reg, Templates: map[string]bool{}}

	tt, err := template.Parse([]byte(startoverAgainTemplate))
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
				cycles <- ev
			}
		},
	})
	require.NoError(t, err)
	t.Cleanup(eng.Stop)

	svc := service.New(service.Config{
		Store:     st,
		Runner:    eng,
		Templates: service.NewTemplates([]*template.Template{tt}, map[string]int64{tt.Name: version}),
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
		Catalog:   catalog,
	})
	root := auth.Identity{Username: "root"}

	waitDone := func() {
		t.Helper()
		select {
		case ev := <-cycles:
			require.Equal(t, state.ResDone, ev.State)
		case <-time.After(10 * time.Second):
			t.Fatal("the cycle did not end")
		}
	}

	task, err := svc.CreateTask(ctx, auth.Identity{Username: "bob"}, service.CreateTaskRequest{TemplateName: "startover-again"})
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
	require.Equal(t, map[string]any{"who": "second"}, got.Result, "result_format rendered for the new resolution")
}
