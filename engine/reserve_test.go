package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// A reserved cycle runs a resolution stored RUNNING by its creator, with no
// transaction of its own to start it; a reservation takes a slot, which
// Cancel gives back, and none is given when every slot is taken.
func TestReservedCycleRunsTheStoredResolution(t *testing.T) {
	t.Parallel()
	counter := &countingStore{}
	b := setup(t, func(cfg *engine.Config) {
		cfg.MaxConcurrentExecutions = 1
		counter.Store = cfg.Store
		cfg.Store = counter
	})
	ctx := context.Background()
	tmpl, err := template.Parse([]byte(`
name: reserved
description: two echo steps
title_format: reserved
result_format: {said: "{{.step.b.output.said}}"}
steps:
  a: {description: a, action: {type: echo, configuration: {output: {said: hello}}}}
  b: {description: b, dependencies: [a], action: {type: echo, configuration: {output: {said: "{{.step.a.output.said}}!"}}}}
`))
	require.NoError(t, err)
	require.NoError(t, template.Validate(tmpl, b.catalog))
	doc, err := json.Marshal(tmpl)
	require.NoError(t, err)
	version, err := b.db.TemplateVersionPut(ctx, tmpl.Name, doc)
	require.NoError(t, err)

	resID := uuid.NewString()
	rsv, ok := b.engine.Reserve(resID)
	require.True(t, ok)
	_, ok = b.engine.Reserve(uuid.NewString())
	require.False(t, ok, "the one slot is taken")

	now := b.clock.Now()
	instance := b.engine.InstanceID()
	task := &store.Task{
		PublicID: uuid.NewString(), TemplateName: tmpl.Name, TemplateVersion: version, Title: "reserved",
		RequesterUsername: "tester", Created: now, LastActivity: now, State: state.TaskRunning,
		StepsTotal: len(tmpl.Steps), Result: tmpl.ResultFormat,
	}
	res := &store.Resolution{
		PublicID: resID, ResolverUsername: "tester", State: state.ResRunning, InstanceID: &instance,
		Created: now, LastStart: &now, RunCount: 1, RunMax: tmpl.EffectiveRetryMax(),
	}
	tx, err := b.db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.TaskInsert(ctx, task))
	res.TaskID = task.ID
	require.NoError(t, tx.ResolutionInsert(ctx, res))
	require.NoError(t, tx.Commit(ctx))

	rsv.Start(task, res)
	require.Eventually(t, func() bool {
		r, err := b.db.ResolutionGet(ctx, resID)
		return err == nil && r.State == state.ResDone
	}, 10*time.Second, 5*time.Millisecond)
	_, stored, _ := b.read(t, resID)
	require.Equal(t, map[string]any{"said": "hello!"}, stored.Result)
	require.Equal(t, int64(1), counter.commits.Load(), "the cycle commits once, at its end")

	// The slot is free again once the cycle ended; Cancel frees it too.
	var again *engine.Reservation
	require.Eventually(t, func() bool {
		again, ok = b.engine.Reserve(uuid.NewString())
		return ok
	}, 10*time.Second, 5*time.Millisecond)
	again.Cancel()
	third, ok := b.engine.Reserve(uuid.NewString())
	require.True(t, ok, "Cancel gave the slot back")
	third.Cancel()
}
