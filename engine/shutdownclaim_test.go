package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// stopGateStore holds the first claim of runnable resolutions until Stop
// has begun (Listen's context, the engine's stopCtx, is cancelled by Stop).
type stopGateStore struct {
	store.Store
	stopping chan struct{}
	once     sync.Once
}

func (s *stopGateStore) Listen(ctx context.Context, _ func()) error {
	<-ctx.Done()
	close(s.stopping)
	return nil
}

func (s *stopGateStore) ResolutionClaimRunnable(
	ctx context.Context, id int64, now time.Time, limit int,
) ([]string, error) {
	s.once.Do(func() { <-s.stopping })
	return s.Store.ResolutionClaimRunnable(ctx, id, now, limit)
}

// A stopping engine claims nothing more: what it would claim could not
// start, and a claimed retry (RETRY) is not handed back at Stop; it would
// wait for this instance to be seen dead. A claim in flight when Stop
// begins is cancelled.
func TestStoppingEngineLeavesTheBacklog(t *testing.T) {
	t.Parallel()
	g := &stopGateStore{stopping: make(chan struct{})}
	b := setup(t, func(c *engine.Config) {
		g.Store = c.Store
		c.Store = g
		c.SingleInstance = false
	})
	ctx := context.Background()
	const n = 150
	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = b.create(t, echoTemplate, nil)
		tx, err := b.db.Begin(ctx)
		require.NoError(t, err)
		r, err := tx.ResolutionLock(ctx, ids[i])
		require.NoError(t, err)
		past := b.clock.Now().Add(-time.Minute)
		r.State, r.InstanceID, r.NextRetry, r.RunCount = state.ResError, nil, &past, 1
		require.NoError(t, tx.ResolutionUpdate(ctx, r))
		require.NoError(t, tx.Commit(ctx))
	}
	require.NoError(t, b.engine.Start(ctx))
	time.Sleep(50 * time.Millisecond) // the claim loop waits in its first claim
	b.engine.Stop()

	held := 0
	for _, id := range ids {
		r, err := b.db.ResolutionGet(ctx, id)
		require.NoError(t, err)
		if r.InstanceID != nil && *r.InstanceID == b.engine.InstanceID() {
			held++
		}
	}
	require.Zero(t, held, "%d of %d due retries claimed by the stopping instance and never started", held, n)
}
