package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
)

// A cycle of steps without effects that another instance takes over before
// its end commits nothing: it must not report step states or a resolution
// state that were never committed.
func TestTakenOverEchoCycleEmitsNoUncommittedEvents(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		events []engine.Event
	)
	b := setup(t, func(cfg *engine.Config) {
		cfg.Events = func(ev engine.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	})
	_, res := b.create(t, `
name: echo-takeover
description: two echo steps, the second delayed
title_format: echo takeover
steps:
  a: {description: a, action: {type: echo, configuration: {output: {x: 1}}}}
  b: {description: b, dependencies: [a], execution_delay: 400000000, action: {type: echo, configuration: {output: {x: 2}}}}
`, nil)
	ctx := context.Background()
	other, err := b.db.InstanceRegister(ctx, b.clock.Now())
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- b.engine.RunSync(ctx, res) }()
	// Once the cycle has marked the resolution RUNNING, another instance
	// takes it over.
	for {
		r, err := b.db.ResolutionGet(ctx, res)
		require.NoError(t, err)
		if r.State == state.ResRunning {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	tx, err := b.db.Begin(ctx)
	require.NoError(t, err)
	r, err := tx.ResolutionLock(ctx, res)
	require.NoError(t, err)
	r.InstanceID = &other
	require.NoError(t, tx.ResolutionUpdate(ctx, r))
	require.NoError(t, tx.Commit(ctx))
	<-done

	stored, _, steps := b.read(t, res)
	require.Equal(t, state.ResRunning, stored.State)
	mu.Lock()
	defer mu.Unlock()
	// The latest event of each step must be a state the database holds
	// (earlier ones may have been committed and overwritten since); the
	// resolution's event must be its stored state.
	last := map[string]string{}
	var resEvent string
	for _, ev := range events {
		if ev.Step == "" {
			resEvent = ev.State
			continue
		}
		last[ev.Step] = ev.State
	}
	for name, st := range last {
		require.Equal(t, steps[name].State, st, "step %s: event for a state never committed: %+v", name, events)
	}
	if resEvent != "" {
		require.Equal(t, stored.State, resEvent, "resolution event for a state never committed: %+v", events)
	}
}
