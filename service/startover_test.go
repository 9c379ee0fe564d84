package service_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

const startOverTemplate = `
name: again
description: may be started over by its owners
title_format: again
allowed_resolver_usernames: [owner]
allow_task_start_over: true
steps:
  one:
    description: one
    action: {type: echo, configuration: {output: {}}}
`

func TestStartOverByManager(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	st := openStore(t)

	tt, err := template.Parse([]byte(startOverTemplate))
	require.NoError(t, err)
	doc, err := json.Marshal(tt)
	require.NoError(t, err)
	version, err := st.TemplateVersionPut(ctx, tt.Name, doc)
	require.NoError(t, err)

	svc := service.New(service.Config{
		Store:     st,
		Runner:    &recordingRunner{},
		Templates: service.NewTemplates([]*template.Template{tt}, map[string]int64{tt.Name: version}),
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
	})
	owner := auth.Identity{Username: "owner"}

	setState := func(resolutionID, s string) {
		t.Helper()
		tx, err := st.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		r, err := tx.ResolutionLock(ctx, resolutionID)
		require.NoError(t, err)
		r.State = s
		require.NoError(t, tx.ResolutionUpdate(ctx, r))
		require.NoError(t, tx.Commit(ctx))
	}

	task, err := svc.CreateTask(ctx, auth.Identity{Username: "bob"}, service.CreateTaskRequest{TemplateName: "again"})
	require.NoError(t, err)
	first, err := svc.CreateResolution(ctx, owner, service.CreateResolutionRequest{TaskID: task.ID})
	require.NoError(t, err)

	_, err = svc.CreateResolution(ctx, owner, service.CreateResolutionRequest{TaskID: task.ID, StartOver: true})
	require.Equal(t, service.KindBadRequest, service.KindOf(err), "a running resolution cannot be started over")

	_, err = svc.CreateResolution(ctx, auth.Identity{Username: "bob"},
		service.CreateResolutionRequest{TaskID: task.ID, StartOver: true})
	require.Equal(t, service.KindForbidden, service.KindOf(err), "the requester is no manager")

	setState(first.ID, state.ResCancelled)
	second, err := svc.CreateResolution(ctx, owner, service.CreateResolutionRequest{TaskID: task.ID, StartOver: true})
	require.NoError(t, err, "a manager may start over when the template allows it")
	require.NotEqual(t, first.ID, second.ID)
	require.Equal(t, "owner", second.ResolverUsername)

	got, err := st.TaskGet(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, second.ID, got.ResolutionPublicID)
	require.Equal(t, state.TaskTodo, got.State, "the task waits again for its new resolution")
	_, err = st.ResolutionGet(ctx, first.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	trail, err := svc.ListTaskAudit(ctx, owner, task.ID, service.ListAuditRequest{})
	require.NoError(t, err)
	ops := make([]string, 0, len(trail.Entries))
	for _, e := range trail.Entries {
		ops = append(ops, e.Operation)
	}
	require.Equal(t, []string{service.OpCreateTask, service.OpCreateResolution, service.OpCreateResolution}, ops,
		"refused attempts leave no entry")
	require.Equal(t, first.ID, trail.Entries[2].Detail["previous_resolution_id"])
}
