package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
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
	resID := uuid.NewString()
	rsv, ok := b.engine.Reserve(resID)
	require.True(t, ok)
	_, ok = b.engine.Reserve(uuid.NewString())
	require.False(t, ok, "the one slot is taken")
	task, res := storeReserved(t, b, resID)

	rsv.Start(task, res)
	b.waitDone(t, resID)
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

const reservedTemplate = `
name: reserved
description: two echo steps
title_format: reserved
result_format: {said: "{{.step.b.output.said}}"}
steps:
  a: {description: a, action: {type: echo, configuration: {output: {said: hello}}}}
  b: {description: b, dependencies: [a], action: {type: echo, configuration: {output: {said: "{{.step.a.output.said}}!"}}}}
`

// storeReserved stores, as a creator that reserved its cycle does, a task
// of reservedTemplate with its resolution resID: RUNNING, held by b's
// instance, run once.
func storeReserved(t *testing.T, b *testBundle, resID string) (*store.Task, *store.Resolution) {
	t.Helper()
	ctx := context.Background()
	tmpl, err := template.Parse([]byte(reservedTemplate))
	require.NoError(t, err)
	require.NoError(t, template.Validate(tmpl, b.catalog))
	doc, err := json.Marshal(tmpl)
	require.NoError(t, err)
	version, err := b.db.TemplateVersionPut(ctx, tmpl.Name, doc)
	require.NoError(t, err)

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
	return task, res
}

// versionOnceFailing fails the first read of a template version.
type versionOnceFailing struct {
	store.Store
	failed atomic.Bool
}

func (s *versionOnceFailing) TemplateVersionGet(ctx context.Context, id int64) ([]byte, error) {
	if s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("the database is away for a moment")
	}
	return s.Store.TemplateVersionGet(ctx, id)
}

// A reserved cycle that cannot start (its template version could not be
// read) gives its resolution back, not counting the run: it is claimed and
// runs at once, not once this instance is seen dead.
func TestReservedCycleThatCannotStartIsGivenBack(t *testing.T) {
	t.Parallel()
	flaky := &versionOnceFailing{}
	b := setup(t, func(cfg *engine.Config) {
		flaky.Store = cfg.Store
		cfg.Store = flaky
	})
	ctx := context.Background()
	require.NoError(t, b.engine.Start(ctx))
	resID := uuid.NewString()
	rsv, ok := b.engine.Reserve(resID)
	require.True(t, ok)
	task, res := storeReserved(t, b, resID)

	rsv.Start(task, res)
	b.waitDone(t, resID)
	require.True(t, flaky.failed.Load(), "the first start failed")
	r, _, _ := b.read(t, resID)
	require.Equal(t, 1, r.RunCount, "the failed start is not counted")
}

// waitDone waits until the resolution resID is DONE.
func (b *testBundle) waitDone(t *testing.T, resID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		r, err := b.db.ResolutionGet(context.Background(), resID)
		return err == nil && r.State == state.ResDone
	}, 10*time.Second, 5*time.Millisecond)
}
