package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// partitionStore fails the heartbeats of its instance while partitioned:
// what an instance sees when it cannot reach the database for a while.
type partitionStore struct {
	store.Store
	partitioned atomic.Bool
}

func (s *partitionStore) InstanceHeartbeat(ctx context.Context, id int64, now time.Time) error {
	if s.partitioned.Load() {
		return errors.New("partitioned")
	}
	return s.Store.InstanceHeartbeat(ctx, id, now)
}

// An instance that missed its heartbeats for DeadAfter while it held
// nothing has its row removed by the leader. Once it reaches the database
// again it rejoins under its id: what it claims and runs from then on is
// its own, not orphaned work for the leader to take over.
func TestInstanceTakenForDeadRejoins(t *testing.T) {
	t.Parallel()
	slow := waitingServer(t)

	var (
		mu    sync.Mutex
		parts = map[int64]*partitionStore{}
	)
	bs := pgBundles(t, 2, func(c *engine.Config) {
		p := &partitionStore{Store: c.Store}
		mu.Lock()
		parts[c.InstanceID] = p
		mu.Unlock()
		c.Store = p
	})

	var leader, victim *testBundle
	require.Eventually(t, func() bool {
		n := 0
		for _, b := range bs {
			if b.engine.IsLeader() {
				n++
				leader = b
			}
		}
		return n == 1
	}, 20*time.Second, 10*time.Millisecond)
	for _, b := range bs {
		if b != leader {
			victim = b
		}
	}

	// The victim cannot heartbeat for a while (DeadAfter is 2 s here);
	// it holds nothing, so the leader removes its row.
	mu.Lock()
	p := parts[victim.engine.InstanceID()]
	mu.Unlock()
	p.partitioned.Store(true)
	time.Sleep(3500 * time.Millisecond)
	p.partitioned.Store(false)
	// It reaches the database again and heartbeats (every second here).
	time.Sleep(2500 * time.Millisecond)

	// It now runs a resolution, alive and well.
	_, resID := victim.create(t, waitForCallTemplate, map[string]any{"url": slow.url})
	victim.engine.Launch(resID)
	require.Eventually(t, func() bool { return slow.calls.Load() >= 1 }, 10*time.Second, 5*time.Millisecond)

	// A few maintenance rounds of the leader (every 200 ms here).
	time.Sleep(1500 * time.Millisecond)
	res, err := victim.db.ResolutionGet(context.Background(), resID)
	require.NoError(t, err)
	require.Equal(t, state.ResRunning, res.State,
		"the live instance's running resolution was taken over (holder %d, victim %d, leader %d)",
		*res.InstanceID, victim.engine.InstanceID(), leader.engine.InstanceID())
	require.Equal(t, victim.engine.InstanceID(), *res.InstanceID)
}
