package engine_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/resource"
	"github.com/utask/utask/state"
)

// An instance claims no more due resolutions than it has free execution
// slots: what it could not start is left to the other instances, and
// claimed once a slot frees.
func TestClaimsStopAtTheFreeSlots(t *testing.T) {
	t.Parallel()
	const slots, n = 2, 8
	bs := pgBundles(t, 2, func(c *engine.Config) { c.MaxConcurrentExecutions = slots })
	ws := waitingServer(t)

	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = bs[0].create(t, waitForCallTemplate, map[string]any{"url": ws.url})
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

	ws.answer()
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
		c.PollInterval = 10 * time.Millisecond
	})
	_, accepted := b.create(t, echoTemplate, nil)
	_, due := b.create(t, echoTemplate, nil)
	release(t, b.db, due)
	require.NoError(t, b.engine.Start(context.Background()))
	b.engine.Launch(accepted)
	b.engine.Wake()
	require.ErrorIs(t, b.engine.RunNow(context.Background(), due), engine.ErrNoExecutionSlots)

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

const waitTemplate = `
name: waits
description: one step that waits for a wake-up
title_format: waits
steps:
  wait:
    description: waits for something outside
    action:
      type: wait
`

// pgPair starts two engines on one PostgreSQL schema, the second without
// execution slots, both tuned further by mod.
func pgPair(t *testing.T, mod func(*engine.Config)) (busy, idle *testBundle) {
	t.Helper()
	var (
		mu sync.Mutex
		n  int
	)
	bs := pgBundles(t, 2, func(c *engine.Config) {
		mu.Lock()
		defer mu.Unlock()
		mod(c)
		c.NoExecutionSlots = n == 1
		n++
	})
	return bs[0], bs[1]
}

// A run asked of an instance without execution slots (a callback called,
// or "run resolution", that a load balancer sent there) is refused at once
// with ErrNoExecutionSlots; the wake-up its caller then records (as the
// service does) makes another instance run it.
func TestRunNowOnAnInstanceWithoutSlotsIsLeftToTheOthers(t *testing.T) {
	t.Parallel()
	busy, idle := pgPair(t, func(c *engine.Config) { c.PollInterval = 200 * time.Millisecond })
	ctx := context.Background()

	_, resID := busy.create(t, waitTemplate, nil)
	busy.engine.Launch(resID)
	var before int
	require.Eventually(t, func() bool {
		r, err := busy.db.ResolutionGet(ctx, resID)
		if err != nil {
			return false
		}
		before = r.RunCount
		return r.State == state.ResWaiting
	}, 10*time.Second, 10*time.Millisecond)

	require.ErrorIs(t, idle.engine.RunNow(ctx, resID), engine.ErrNoExecutionSlots)
	require.NoError(t, idle.engine.WakeResolution(ctx, resID))
	require.Eventually(t, func() bool {
		r, err := busy.db.ResolutionGet(ctx, resID)
		return err == nil && r.RunCount > before
	}, 10*time.Second, 10*time.Millisecond, "the instance with slots ran it")
}

// An instance without execution slots does not bid for leadership: as
// leader it could run none of the dead instances' work it takes over. The
// instance with slots leads and recovers it.
func TestInstanceWithoutSlotsDoesNotLead(t *testing.T) {
	t.Parallel()
	busy, idle := pgPair(t, func(*engine.Config) {})
	ctx := context.Background()
	require.Eventually(t, busy.engine.IsLeader, 10*time.Second, 10*time.Millisecond)

	dead, err := busy.db.InstanceRegister(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	_, resID := busy.create(t, echoTemplate, nil)
	orphan(t, busy.db, resID, dead)
	require.Eventually(t, func() bool {
		r, err := busy.db.ResolutionGet(ctx, resID)
		return err == nil && r.State == state.ResDone
	}, 10*time.Second, 10*time.Millisecond, "the dead instance's resolution is recovered")
	require.False(t, idle.engine.IsLeader())
}

// A run asked while every slot is taken, still waiting for one when the
// instance stops, is not lost: Stop records a wake-up, so that the
// resolution (waiting) is due for another instance or the next start.
func TestRunNowWaitingForASlotIsKeptAtStop(t *testing.T) {
	t.Parallel()
	b, busy, _, _ := oneSlot(t, func(c *engine.Config) {
		c.RunNowWait = 20 * time.Millisecond
		c.ShutdownGrace = 50 * time.Millisecond
	})
	ctx := context.Background()
	_, waiting := b.create(t, waitTemplate, nil)
	r, _, _ := b.run(t, waiting)
	require.Equal(t, state.ResWaiting, r.State)

	require.NoError(t, b.engine.Start(ctx))
	b.engine.Launch(busy)
	require.Eventually(t, func() bool {
		r, _, _ := b.read(t, busy)
		return r.State == state.ResRunning
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, b.engine.RunNow(ctx, waiting), "answered while the cycle waits for the slot")
	b.engine.Stop()

	r, _, _ = b.read(t, waiting)
	require.NotNil(t, r.NextRetry, "no wake-up recorded")
	require.True(t, r.LastStart == nil || r.NextRetry.After(*r.LastStart), "the wake-up is after the last start")
}

// A stopping instance heartbeats while its steps finish in the grace
// period: no other instance takes its resolutions over meanwhile and runs
// a step a second time, at once.
func TestStoppingInstanceIsNotTakenOverDuringTheGrace(t *testing.T) {
	t.Parallel()
	ws := waitingServer(t)
	bs := pgBundles(t, 2, func(c *engine.Config) {
		c.HeartbeatInterval = 50 * time.Millisecond
		c.DeadAfter = 200 * time.Millisecond
		c.MaintenanceInterval = 50 * time.Millisecond
		c.ShutdownGrace = 10 * time.Second
	})
	stopping, other := bs[0], bs[1]
	ctx := context.Background()
	_, resID := stopping.create(t, waitForCallTemplate, map[string]any{"url": ws.url})
	stopped := callThenStop(t, stopping, resID, ws)
	time.Sleep(time.Second) // five times DeadAfter: the other instance leads by now
	require.Eventually(t, other.engine.IsLeader, 10*time.Second, 5*time.Millisecond)
	r, err := other.db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	require.Equal(t, state.ResRunning, r.State, "taken over while its step ran")
	require.Equal(t, stopping.engine.InstanceID(), *r.InstanceID)

	ws.answer()
	<-stopped
	require.Eventually(t, func() bool {
		r, err := other.db.ResolutionGet(ctx, resID)
		return err == nil && r.State == state.ResDone
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, int32(1), ws.calls.Load(), "the step ran once")
}

const oneRunTemplate = `
name: one-run
description: a call that waits, then an echo, with a single run allowed
title_format: one run
retry_max: 1
inputs:
  - {name: url, description: url}
steps:
  call:
    description: wait
    action: {type: http, configuration: {url: "{{.input.url}}", method: GET}}
  after:
    description: after the call
    dependencies: [call]
    action: {type: echo, configuration: {output: {said: "after"}}}
`

// A run that a stop cuts short (the steps not started yet end TO_RETRY)
// does not count against the run limit, and the resolution is due at once:
// a stop is no failure, and must not block a resolution allowed one run.
func TestRunCutByAStopIsNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *engine.Config) { c.ShutdownGrace = 10 * time.Second })
	ws := waitingServer(t)
	_, resID := b.create(t, oneRunTemplate, map[string]any{"url": ws.url})
	require.NoError(t, b.engine.Start(context.Background()))
	stopped := callThenStop(t, b, resID, ws)
	time.Sleep(50 * time.Millisecond) // Stop has begun: "after" will not start
	ws.answer()
	<-stopped

	r, _, steps := b.read(t, resID)
	require.Equal(t, state.ResError, r.State, "not BLOCKED_MAXRETRIES: the run was cut, not failed")
	require.Equal(t, 0, r.RunCount, "the cut run is not counted")
	require.NotNil(t, r.NextRetry)
	require.False(t, r.NextRetry.After(b.clock.Now()), "due at once")
	require.Equal(t, state.Done, steps["call"].State)
	require.Equal(t, state.ToRetry, steps["after"].State)
}

// A run whose step fails for real while the instance is stopping is a
// failed run, counted as any other: with a single run allowed, the
// resolution is blocked.
func TestRealFailureDuringAStopIsCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *engine.Config) { c.ShutdownGrace = 10 * time.Second })
	ws := waitingServerAnswering(t, http.StatusInternalServerError)
	_, resID := b.create(t, oneRunTemplate, map[string]any{"url": ws.url})
	require.NoError(t, b.engine.Start(context.Background()))
	stopped := callThenStop(t, b, resID, ws)
	time.Sleep(50 * time.Millisecond) // Stop has begun
	ws.answer()                       // the step fails, well within the grace
	<-stopped

	r, _, steps := b.read(t, resID)
	require.Equal(t, state.ServerError, steps["call"].State)
	require.Equal(t, 1, r.RunCount, "the failed run is counted")
	require.Equal(t, state.ResBlockedMaxRetries, r.State)
}

// A cycle still waiting for its template's resource when the stop's grace
// ends is cut short too: not counted, and due at once (not in the ten
// minutes of a resource refused).
func TestRunWaitingForTheTemplateAtAStopIsDueAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *engine.Config) {
		c.ShutdownGrace = 300 * time.Millisecond
		l, err := resource.NewLimiter(map[string]int{"template:one-run": 1}, time.Minute)
		require.NoError(t, err)
		c.Resources = l
	})
	ws := waitingServer(t)
	_, holder := b.create(t, oneRunTemplate, map[string]any{"url": ws.url})
	_, waiter := b.create(t, oneRunTemplate, map[string]any{"url": ws.url})
	require.NoError(t, b.engine.Start(context.Background()))
	b.engine.Launch(holder)
	require.Eventually(t, func() bool { return ws.calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	b.engine.Launch(waiter) // waits for the template's resource
	require.Eventually(t, func() bool {
		r, _, _ := b.read(t, waiter)
		return r.State == state.ResRunning
	}, 10*time.Second, 5*time.Millisecond)
	b.engine.Stop()

	r, _, _ := b.read(t, waiter)
	require.Equal(t, 0, r.RunCount, "the cut run is not counted (state %s)", r.State)
	require.NotNil(t, r.NextRetry)
	require.False(t, r.NextRetry.After(b.clock.Now()), "due at once, not at %v", r.NextRetry)
}

// callThenStop launches resID on b, waits until its step calls ws, then
// begins b's Stop in the background: the channel is closed once Stop
// returns.
func callThenStop(t *testing.T, b *testBundle, resID string, ws *waitServer) <-chan struct{} {
	t.Helper()
	b.engine.Launch(resID)
	require.Eventually(t, func() bool { return ws.calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		b.engine.Stop()
	}()
	return stopped
}
