package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

func TestError(t *testing.T) {
	t.Parallel()

	cause := errors.New("no rows")

	tests := []struct {
		name string
		err  error
		msg  string
		kind service.Kind
	}{
		{"NoCause", service.Errorf(service.KindForbidden, "Can't %s", "do"), "Can't do", service.KindForbidden},
		{"WithCause", &service.Error{Kind: service.KindNotFound, Msg: "load task", Err: cause}, "load task: no rows", service.KindNotFound},
		{"Wrapped", fmt.Errorf("outer: %w", service.Errorf(service.KindBadRequest, "bad")), "outer: bad", service.KindBadRequest},
		{"Plain", cause, "no rows", service.KindInternal},
		{"ZeroKind", &service.Error{Msg: "x"}, "x", service.KindInternal},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.msg, tc.err.Error())
			require.Equal(t, tc.kind, service.KindOf(tc.err))
		})
	}

	t.Run("Unwrap", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, &service.Error{Kind: service.KindNotFound, Msg: "m", Err: cause}, cause)
	})
}

func TestTemplates(t *testing.T) {
	t.Parallel()

	a1 := &template.Template{Name: "a", Description: "first"}
	a2 := &template.Template{Name: "a", Description: "second"}
	b := &template.Template{Name: "b"}
	set := service.NewTemplates([]*template.Template{b, a1, a2}, map[string]int64{"a": 7, "b": 9})

	got, version, ok := set.Get("a")
	require.True(t, ok)
	require.Same(t, a2, got, "a later template replaces an earlier one of the same name")
	require.Equal(t, int64(7), version)

	_, _, ok = set.Get("c")
	require.False(t, ok)

	list := set.List()
	require.Equal(t, []*template.Template{a2, b}, list)

	list[0] = nil
	require.Equal(t, []*template.Template{a2, b}, set.List(), "List returns a copy")

	var empty *service.Templates
	require.Empty(t, empty.List())
}

// recordingRunner stands in for the engine.
type recordingRunner struct {
	mu       sync.Mutex
	launched []string
}

func (r *recordingRunner) Launch(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.launched = append(r.launched, id)
}

func (r *recordingRunner) RunNow(context.Context, string) error { return nil }
func (r *recordingRunner) Wake()                                {}
func (r *recordingRunner) WakeResolution(context.Context, string) error {
	return nil
}
func (r *recordingRunner) InstanceID() int64 { return 1 }

func (r *recordingRunner) Steps(context.Context, *store.Resolution) (map[string]*template.Step, error) {
	return map[string]*template.Step{}, nil
}

const (
	oldVersion = `
name: job
description: the first version
title_format: "job of {{.task.requester_username}} in {{.task.region}}"
allowed_resolver_usernames: [olduser]
retry_max: 3
base_configurations:
  http: {"timeout": "1s"}
resolver_inputs:
  - name: why
    description: reason
    optional: true
    default: because
steps:
  one:
    description: one
    action: {type: echo, configuration: {output: {}}}
`
	newVersion = `
name: job
description: the second version
title_format: "new job"
allowed_resolver_usernames: [newuser]
retry_max: 9
steps: {}
`
)

// TestTemplateVersions checks that a resolution runs with the template
// version its task was created from, while permissions follow the template
// loaded now, and that a task whose template is no longer loaded still reads.
func TestTemplateVersions(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	st := openStore(t)

	load := func(src string) (*template.Template, int64) {
		tt, err := template.Parse([]byte(src))
		require.NoError(t, err)

		doc, err := json.Marshal(tt)
		require.NoError(t, err)

		v, err := st.TemplateVersionPut(ctx, tt.Name, doc)
		require.NoError(t, err)

		return tt, v
	}

	oldT, oldV := load(oldVersion)
	newT, newV := load(newVersion)
	require.NotEqual(t, oldV, newV)

	runner := &recordingRunner{}
	cfg := service.Config{
		Store:     st,
		Runner:    runner,
		Templates: service.NewTemplates([]*template.Template{oldT}, map[string]int64{"job": oldV}),
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
		Region:    "eu-west",
	}
	bob := auth.Identity{Username: "bob"}

	task, err := service.New(cfg).CreateTask(ctx, bob, service.CreateTaskRequest{TemplateName: "job"})
	require.NoError(t, err)
	require.Equal(t, "job of bob in eu-west", task.Title)
	require.Equal(t, state.TaskTodo, task.State)
	require.Empty(t, task.Resolution)

	stored, err := st.TaskGet(ctx, task.ID)
	require.NoError(t, err)
	require.Equal(t, oldV, stored.TemplateVersion)

	t.Run("UpdatedTemplate", func(t *testing.T) {
		t.Parallel()

		updated := cfg
		updated.Templates = service.NewTemplates([]*template.Template{newT}, map[string]int64{"job": newV})
		svc := service.New(updated)

		_, err := svc.CreateResolution(ctx, auth.Identity{Username: "olduser"}, service.CreateResolutionRequest{TaskID: task.ID})
		require.Equal(t, service.KindForbidden, service.KindOf(err), "the old owner no longer owns the template")

		res, err := svc.CreateResolution(ctx, auth.Identity{Username: "newuser"}, service.CreateResolutionRequest{TaskID: task.ID})
		require.NoError(t, err)
		require.Equal(t, 3, res.RunMax, "retry_max of the task's version")
		require.Equal(t, map[string]any{"why": "because"}, res.ResolverInputs, "resolver inputs of the task's version")
		require.JSONEq(t, `{"timeout": "1s"}`, string(res.BaseConfigurations["http"]))
		require.Equal(t, state.ResAutorunning, res.State)

		runner.mu.Lock()
		require.Contains(t, runner.launched, res.ID)
		runner.mu.Unlock()
	})

	t.Run("UnloadedTemplate", func(t *testing.T) {
		t.Parallel()

		gone := cfg
		gone.Templates = service.NewTemplates(nil, nil)
		svc := service.New(gone)

		got, err := svc.GetTask(ctx, bob, task.ID)
		require.NoError(t, err)
		require.Equal(t, task.Title, got.Title)

		_, err = svc.GetTask(ctx, auth.Identity{Username: "olduser"}, task.ID)
		require.NoError(t, err, "the owner of the task's version manages it when no template is loaded")

		_, err = svc.GetTask(ctx, auth.Identity{Username: "stranger"}, task.ID)
		require.Equal(t, service.KindForbidden, service.KindOf(err))

		_, err = svc.CreateTask(ctx, bob, service.CreateTaskRequest{TemplateName: "job"})
		require.Equal(t, service.KindNotFound, service.KindOf(err))
	})
}
