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

// A stopping engine claims no more work after a full batch of claims: it
// would run none of it, and every claimed resolution would wait for this
// instance to be seen dead.
func TestStoppingEngineLeavesTheBacklog(t *testing.T) {
	t.Parallel()
	g := &stopGateStore{stopping: make(chan struct{})}
	b := setup(t, func(c *engine.Config) {
		g.Store = c.Store
		c.Store = g
	})
	const n = 150
	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = b.create(t, echoTemplate, nil)
		release(t, b.db, ids[i])
	}
	require.NoError(t, b.engine.Start(context.Background()))
	time.Sleep(50 * time.Millisecond) // the claim loop waits in its first claim
	b.engine.Stop()

	held := 0
	for _, id := range ids {
		r, err := b.db.ResolutionGet(context.Background(), id)
		require.NoError(t, err)
		if r.State == state.ResAutorunning && r.InstanceID != nil && *r.InstanceID == b.engine.InstanceID() {
			held++
		}
	}
	require.LessOrEqual(t, held, 64,
		"%d of %d resolutions claimed by the stopping instance and never started", held, n)
}
