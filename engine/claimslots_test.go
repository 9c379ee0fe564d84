package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
)

// An instance claims no more due resolutions than it has free execution
// slots: what it could not start is left to the other instances, and
// claimed once a slot frees.
func TestClaimsStopAtTheFreeSlots(t *testing.T) {
	t.Parallel()
	const slots, n = 2, 8
	bs := pgBundles(t, 2, func(c *engine.Config) { c.MaxConcurrentExecutions = slots })
	url, answer := waitingServer(t)

	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = bs[0].create(t, waitForCallTemplate, map[string]any{"url": url})
	}
	for _, id := range ids {
		release(t, bs[0].db, id) // due, held by none: both instances are told
	}

	// held counts the resolutions each instance holds claimed or running.
	held := func() map[int64]int {
		out := map[int64]int{}
		for _, id := range ids {
			r, err := bs[0].db.ResolutionGet(context.Background(), id)
			require.NoError(t, err)
			if r.InstanceID != nil && (r.State == state.ResAutorunning || r.State == state.ResRunning) {
				out[*r.InstanceID]++
			}
		}
		return out
	}
	first, second := bs[0].engine.InstanceID(), bs[1].engine.InstanceID()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h := held()
		require.LessOrEqual(t, h[first], slots, "the first instance claimed more than its slots")
		require.LessOrEqual(t, h[second], slots, "the second instance claimed more than its slots")
		if h[first] == slots && h[second] == slots {
			break
		}
		require.True(t, time.Now().Before(deadline), "each instance runs as many as it has slots: %v", h)
		time.Sleep(10 * time.Millisecond)
	}

	answer()
	require.Eventually(t, func() bool {
		for _, id := range ids {
			r, err := bs[0].db.ResolutionGet(context.Background(), id)
			if err != nil || r.State != state.ResDone {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "the rest is claimed as slots free")
}

// A stopping engine hands back the resolutions it claimed and could not
// start (their cycles waited for a slot), rather than keep them until it is
// seen dead.
func TestStopHandsBackUnstartedClaims(t *testing.T) {
	t.Parallel()
	b, busy, queued, _ := oneSlot(t, func(c *engine.Config) { c.ShutdownGrace = 50 * time.Millisecond })
	require.NoError(t, b.engine.Start(context.Background()))
	b.engine.Launch(busy)
	require.Eventually(t, func() bool {
		r, _, _ := b.read(t, busy)
		return r.State == state.ResRunning
	}, 5*time.Second, 5*time.Millisecond)
	b.engine.Launch(queued) // waits for the only slot

	b.engine.Stop()
	r, _, _ := b.read(t, queued)
	require.Equal(t, state.ResToAutorun, r.State, "handed back")
	require.Nil(t, r.InstanceID, "held by none")
	r, _, _ = b.read(t, busy)
	require.NotEqual(t, state.ResToAutorun, r.State, "a started cycle is not handed back")
	require.NotNil(t, r.InstanceID)
}

// An engine without execution slots (max_concurrent_executions: 0) claims
// nothing and starts nothing; at Stop it hands back what it accepted.
func TestNoExecutionSlotsRunsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *engine.Config) {
		c.NoExecutionSlots = true
		c.RunNowWait = 20 * time.Millisecond
		c.PollInterval = 10 * time.Millisecond
	})
	_, accepted := b.create(t, echoTemplate, nil)
	_, due := b.create(t, echoTemplate, nil)
	release(t, b.db, due)
	require.NoError(t, b.engine.Start(context.Background()))
	b.engine.Launch(accepted)
	b.engine.Wake()
	require.NoError(t, b.engine.RunNow(context.Background(), due), "RunNow answers once it waited")

	time.Sleep(200 * time.Millisecond) // an echo resolution runs in a few ms
	r, _, _ := b.read(t, accepted)
	require.Equal(t, state.ResAutorunning, r.State, "the accepted one waits")
	r, _, _ = b.read(t, due)
	require.Equal(t, state.ResToAutorun, r.State, "the due one is not claimed")
	require.Nil(t, r.InstanceID)

	b.engine.Stop()
	r, _, _ = b.read(t, accepted)
	require.Equal(t, state.ResToAutorun, r.State, "handed back at Stop")
	require.Nil(t, r.InstanceID)
}
