package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// createChild is create with the parent tag set on the task.
func (b *testBundle) createChild(t *testing.T, yaml string, input map[string]any, parentTaskID string) (
	taskID, resID string,
) {
	t.Helper()
	return b.createTagged(t, yaml, input, map[string]string{engine.ParentTaskTag: parentTaskID})
}

const waitingParentTemplate = `
name: waiting-parent
description: waits for its subtask
title_format: parent
steps:
  wait:
    description: waits
    action:
      type: wait
`

const oneCallTemplate = `
name: one-call
description: one call, not idempotent
title_format: one call
inputs:
  - name: url
steps:
  call:
    description: the call
    action:
      type: http
      configuration:
        url: "{{.input.url}}"
        method: GET
`

// woken reports whether the resolution was made due since its last start.
func wokenSince(t *testing.T, db store.Store, resID string) bool {
	t.Helper()
	r, err := db.ResolutionGet(context.Background(), resID)
	require.NoError(t, err)
	return r.NextRetry != nil && r.LastStart != nil && r.NextRetry.After(*r.LastStart)
}

// A child whose instance died while its non-idempotent step ran, recovered
// as BLOCKED_TOCHECK without running a cycle, wakes its parent as a child
// that blocks at the end of a cycle does.
func TestCrashedChildBlockedAtRecoveryWakesItsParent(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)

	t.Run("control: a child blocked at the end of a cycle wakes its parent", func(t *testing.T) {
		b := setup(t)
		parentTask, parentRes := b.create(t, waitingParentTemplate, nil)
		r, _, _ := b.run(t, parentRes)
		require.Equal(t, state.ResWaiting, r.State)
		b.clock.Add(time.Minute)
		_, childRes := b.createChild(t, oneCallTemplate, map[string]any{"url": srv.URL}, parentTask)
		c, _, _ := b.run(t, childRes)
		require.Equal(t, state.ResBlockedBadRequest, c.State)
		require.Eventually(t, func() bool { return wokenSince(t, b.db, parentRes) },
			5*time.Second, 5*time.Millisecond)
	})

	t.Run("crashed child recovered as BLOCKED_TOCHECK", func(t *testing.T) {
		b := setup(t)
		ctx := context.Background()
		parentTask, parentRes := b.create(t, waitingParentTemplate, nil)
		r, _, _ := b.run(t, parentRes)
		require.Equal(t, state.ResWaiting, r.State)
		b.clock.Add(time.Minute)

		// The child ran on an instance that died while its call was in flight.
		_, childRes := b.createChild(t, oneCallTemplate, map[string]any{"url": srv.URL}, parentTask)
		dead, err := b.db.InstanceRegister(ctx, b.clock.Now().Add(-time.Hour))
		require.NoError(t, err)
		tx, err := b.db.Begin(ctx)
		require.NoError(t, err)
		cr, err := tx.ResolutionLock(ctx, childRes)
		require.NoError(t, err)
		require.NoError(t, tx.StepUpsert(ctx, cr, []*store.Step{{Name: "call", State: state.Running}}))
		require.NoError(t, tx.Commit(ctx))
		orphan(t, b.db, childRes, dead)

		require.NoError(t, b.engine.Start(ctx)) // recovers the child at once
		require.Eventually(t, func() bool {
			c, err := b.db.ResolutionGet(ctx, childRes)
			require.NoError(t, err)
			return c.State == state.ResBlockedToCheck
		}, 5*time.Second, 5*time.Millisecond)
		// Woken: due again, or already run again by the started engine.
		require.Eventually(t, func() bool {
			p, err := b.db.ResolutionGet(ctx, parentRes)
			require.NoError(t, err)
			return wokenSince(t, b.db, parentRes) || p.RunCount >= 2
		}, 3*time.Second, 5*time.Millisecond, "the parent of a child now BLOCKED_TOCHECK was never woken")
	})
}

// gateStore blocks the second Begin after it is armed until release is
// closed.
type gateStore struct {
	store.Store
	armed   atomic.Bool
	begins  atomic.Int32
	blocked chan struct{}
	release chan struct{}
}

func (s *gateStore) Begin(ctx context.Context) (store.Tx, error) {
	if s.armed.Load() && s.begins.Add(1) == 2 {
		close(s.blocked)
		<-s.release
	}
	return s.Store.Begin(ctx)
}

// A child cycle whose final save commits after the engine's grace period
// (the engine is stopping) still wakes its parent.
func TestParentIsWokenWhenTheChildEndsAfterTheGracePeriod(t *testing.T) {
	t.Parallel()
	g := &gateStore{blocked: make(chan struct{}), release: make(chan struct{})}
	b := setup(t, func(c *engine.Config) {
		c.ShutdownGrace = 200 * time.Millisecond
		g.Store = c.Store
		c.Store = g
	})
	parentTask, parentRes := b.create(t, waitingParentTemplate, nil)
	r, _, _ := b.run(t, parentRes)
	require.Equal(t, state.ResWaiting, r.State)
	b.clock.Add(time.Minute)
	_, childRes := b.createChild(t, echoTemplate, nil, parentTask)

	g.armed.Store(true)
	b.engine.Launch(childRes) // Begin 1: the start; Begin 2: the final save
	<-g.blocked
	stopped := make(chan struct{})
	go func() {
		b.engine.Stop()
		close(stopped)
	}()
	time.Sleep(500 * time.Millisecond) // past the grace period
	close(g.release)
	<-stopped

	c, err := b.db.ResolutionGet(context.Background(), childRes)
	require.NoError(t, err)
	require.Equal(t, state.ResDone, c.State, "the child's end was saved")
	require.True(t, wokenSince(t, b.db, parentRes), "the parent of a DONE child was not woken")
}
