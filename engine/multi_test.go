package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/echo"
	httpaction "github.com/utask/utask/action/http"
	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/postgres"
	"github.com/utask/utask/store/postgres/pgtest"
	"github.com/utask/utask/store/storetest"
	"github.com/utask/utask/template"
)

// pgBundles starts n engines, each an instance of its own with a store of
// its own, on one fresh PostgreSQL schema, and returns a bundle per engine
// (they share the catalog). mod tunes every engine's configuration.
func pgBundles(t *testing.T, n int, mod func(*engine.Config)) []*testBundle {
	t.Helper()
	return pgBundlesWithPool(t, n, 8, mod)
}

// pgBundlesWithPool is pgBundles with maxConns connections per store.
func pgBundlesWithPool(t *testing.T, n int, maxConns int32, mod func(*engine.Config)) []*testBundle {
	t.Helper()
	ctx := context.Background()
	url := pgtest.FreshSchema(t)
	sealer := storetest.NewSealer(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := action.NewRegistry()
	require.NoError(t, reg.Register(echo.Name, echo.New()))
	require.NoError(t, reg.Register(httpaction.Name, httpaction.New(httpaction.Options{})))
	require.NoError(t, reg.Register("wait", waitAction{}))
	fns, err := template.LoadFunctions(filepath.Join("testdata", "functions"), reg)
	require.NoError(t, err)
	cat := &template.Catalog{Actions: reg, Functions: fns, Templates: map[string]bool{}}
	out := make([]*testBundle, n)
	for i := range out {
		db, err := postgres.Open(ctx, postgres.Config{URL: url, Sealer: sealer, Logger: logger, MaxConns: maxConns})
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		id, err := db.InstanceRegister(ctx, time.Now())
		require.NoError(t, err)
		cfg := engine.Config{
			Store: db, Catalog: cat, Logger: logger, InstanceID: id,
			PollInterval: time.Hour, HeartbeatInterval: time.Second, ElectInterval: 200 * time.Millisecond,
			MaintenanceInterval: 200 * time.Millisecond,
		}
		if mod != nil {
			mod(&cfg)
		}
		eng, err := engine.New(cfg)
		require.NoError(t, err)
		require.NoError(t, eng.Start(ctx))
		t.Cleanup(eng.Stop)
		out[i] = &testBundle{db: db, engine: eng, catalog: cat, clock: &clock{now: time.Now().UTC()}}
	}
	return out
}

// waitAction always waits for something outside: its step is WAITING.
type waitAction struct{}

func (waitAction) ValidateConfig(_, _ json.RawMessage) error { return nil }

func (waitAction) Run(context.Context, action.Request) action.Result {
	return action.Result{Err: action.WaitingError(errors.New("waiting for a wake-up"))}
}

func (waitAction) Resources(_, _ json.RawMessage) []string { return nil }

// release makes a resolution created by create runnable by any instance
// (TO_AUTORUN, held by none), in one committed transaction.
func release(t *testing.T, db store.Store, resID string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res, err := tx.ResolutionLock(ctx, resID)
	require.NoError(t, err)
	res.State, res.InstanceID = state.ResToAutorun, nil
	require.NoError(t, tx.ResolutionUpdate(ctx, res))
	require.NoError(t, tx.Commit(ctx))
}

const echoTemplate = `
name: one-echo
description: one echo step
title_format: one echo
steps:
  say:
    description: say it
    action:
      type: echo
      configuration:
        output: {said: "yes"}
`

// An idle engine polls once an hour here: only the notification of the
// commit that made a resolution runnable can start it within the test.
func TestNotificationWakesAnIdleInstance(t *testing.T) {
	t.Parallel()
	bs := pgBundles(t, 2, nil)
	// Let both engines finish their first look for work and go idle.
	time.Sleep(300 * time.Millisecond)
	_, resID := bs[0].create(t, echoTemplate, nil)
	release(t, bs[1].db, resID)
	require.Eventually(t, func() bool {
		res, err := bs[1].db.ResolutionGet(context.Background(), resID)
		require.NoError(t, err)
		return res.State == state.ResDone
	}, 20*time.Second, 10*time.Millisecond, "the resolution ran long before the next poll")
}

// A wake-up that another instance records while a cycle runs (a subtask
// ended) survives that cycle's final save: the resolution, which ends
// WAITING, runs again.
func TestWakeDuringACycleOnAnotherInstance(t *testing.T) {
	t.Parallel()
	wakeDuringACycle(t, 0, 10*time.Millisecond)
}

// The same wake-up from an instance whose clock reads a time before the
// cycle's start is kept too: the clocks of instances differ a little, and a
// subtask that ends on another instance soon after its parent's cycle
// started must still wake the parent.
func TestWakeFromAnInstanceWithASlowerClockIsKept(t *testing.T) {
	t.Parallel()
	wakeDuringACycle(t, 200*time.Millisecond, 50*time.Millisecond)
}

// wakeDuringACycle has the second of two instances, whose clock is behind
// the first's by lag, wake a resolution after (in real time) the first
// started a cycle of it, and checks that the resolution runs again.
func wakeDuringACycle(t *testing.T, lag, after time.Duration) {
	slow := waitingServer(t)
	var (
		mu sync.Mutex
		n  int
	)
	bs := pgBundles(t, 2, func(c *engine.Config) {
		c.PollInterval = 200 * time.Millisecond
		mu.Lock()
		defer mu.Unlock()
		if n == 1 && lag > 0 {
			c.Now = func() time.Time { return time.Now().Add(-lag) }
		}
		n++
	})
	_, resID := bs[0].create(t, `
name: wait-after-call
description: a slow call, then a step that waits
title_format: wait after call
inputs:
  - name: url
steps:
  call:
    description: the slow call
    action:
      type: http
      configuration:
        url: "{{.input.url}}"
        method: GET
  wait:
    description: waits for something outside
    dependencies: [call]
    action:
      type: wait
`, map[string]any{"url": slow.url})
	bs[0].engine.Launch(resID)
	require.Eventually(t, func() bool { return slow.calls.Load() == 1 }, 10*time.Second, 5*time.Millisecond)

	ctx := context.Background()
	running, err := bs[1].db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	require.Equal(t, state.ResRunning, running.State)
	require.Equal(t, 1, running.RunCount)
	time.Sleep(after) // a wake-up strictly after the start, in real time
	require.NoError(t, bs[1].engine.WakeResolution(ctx, resID))
	slow.answer()

	require.Eventually(t, func() bool {
		res, err := bs[1].db.ResolutionGet(ctx, resID)
		require.NoError(t, err)
		return res.RunCount >= 2 && res.State == state.ResWaiting
	}, 20*time.Second, 10*time.Millisecond, "the woken resolution ran again after its cycle")
}

// orphan turns a resolution made by create into one that a dead instance
// was running.
func orphan(t *testing.T, db store.Store, resID string, dead int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res, err := tx.ResolutionLock(ctx, resID)
	require.NoError(t, err)
	now := time.Now().UTC()
	res.State, res.InstanceID, res.LastStart, res.RunCount = state.ResRunning, &dead, &now, 1
	require.NoError(t, tx.ResolutionUpdate(ctx, res))
	require.NoError(t, tx.Commit(ctx))
}

// Recovered resolutions run through a semaphore of their own: with room
// for one, the recovered cycles never overlap, though the engine would run
// them all at once otherwise.
func TestRecoveredResolutionsHaveTheirOwnLimit(t *testing.T) {
	t.Parallel()
	var (
		mu             sync.Mutex
		inflight, most int
		calls          int
	)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inflight++
		calls++
		most = max(most, inflight)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		inflight--
		mu.Unlock()
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(slow.Close)
	b := setup(t, func(c *engine.Config) { c.MaxConcurrentExecutionsFromCrashed = 1 })
	dead, err := b.db.InstanceRegister(context.Background(), b.clock.Now().Add(-time.Hour))
	require.NoError(t, err)
	const n = 4
	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = b.create(t, `
name: one-call
description: one call
title_format: one call
inputs:
  - name: url
steps:
  call:
    description: the call
    idempotent: true
    action:
      type: http
      configuration:
        url: "{{.input.url}}"
        method: GET
`, map[string]any{"url": slow.URL})
		orphan(t, b.db, ids[i], dead)
	}
	require.NoError(t, b.engine.Start(context.Background()))
	require.Eventually(t, func() bool {
		for _, id := range ids {
			res, _, _ := b.read(t, id)
			if res.State != state.ResDone {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, n, calls)
	require.Equal(t, 1, most, "recovered cycles that ran at once")
}

// The leader deletes the finished tasks older than the expiration, and
// only those.
func TestLeaderCollectsOldFinishedTasks(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *engine.Config) {
		c.CompletedTaskExpiration = time.Hour
		c.MaintenanceInterval = 20 * time.Millisecond
		c.ElectInterval = 20 * time.Millisecond
	})
	ctx := context.Background()
	doneTask, doneRes := b.create(t, echoTemplate, nil)
	_, _, _ = b.run(t, doneRes)
	waitingTask, waitingRes := b.create(t, `
name: waits
description: waits for something outside
title_format: waits
steps:
  wait:
    description: waits
    action:
      type: wait
`, nil)
	_, _, _ = b.run(t, waitingRes)
	res, _, _ := b.read(t, waitingRes)
	require.Equal(t, state.ResWaiting, res.State)
	require.NoError(t, b.engine.Start(ctx))

	// Not old enough yet: nothing goes.
	time.Sleep(100 * time.Millisecond)
	_, err := b.db.TaskGet(ctx, doneTask)
	require.NoError(t, err)

	b.clock.Add(2 * time.Hour)
	require.Eventually(t, func() bool {
		_, err := b.db.TaskGet(ctx, doneTask)
		return errors.Is(err, store.ErrNotFound)
	}, 20*time.Second, 10*time.Millisecond, "the old DONE task is collected")
	_, err = b.db.TaskGet(ctx, waitingTask)
	require.NoError(t, err, "a WAITING task is never collected")
}

// A resolution that an alive instance runs is refused by every other
// instance, with nothing written, and the leader leaves it alone.
func TestRunningOnAnAliveInstanceIsLeftAlone(t *testing.T) {
	t.Parallel()
	bs := pgBundles(t, 2, nil)
	ctx := context.Background()
	_, resID := bs[0].create(t, echoTemplate, nil)
	orphan(t, bs[0].db, resID, bs[1].engine.InstanceID())
	before, err := bs[0].db.ResolutionGet(ctx, resID)
	require.NoError(t, err)

	require.ErrorIs(t, bs[0].engine.RunNow(ctx, resID), engine.ErrAlreadyRunning)
	require.ErrorIs(t, bs[0].engine.RunSync(ctx, resID), engine.ErrAlreadyRunning)

	// Launch runs only what this instance claimed.
	_, claimedID := bs[1].create(t, echoTemplate, nil)
	claimed, err := bs[0].db.ResolutionGet(ctx, claimedID)
	require.NoError(t, err)
	bs[0].engine.Launch(claimedID)

	// Several maintenance rounds of whichever engine leads.
	time.Sleep(time.Second)
	after, err := bs[0].db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	require.Equal(t, before, after)
	afterClaimed, err := bs[0].db.ResolutionGet(ctx, claimedID)
	require.NoError(t, err)
	require.Equal(t, claimed, afterClaimed, "a resolution another instance claimed is not run")
}

// One instance leads at a time; when it stops it resigns, and another
// takes over at once rather than when the lease (an hour here) expires.
func TestLeaderResignsWhenItStops(t *testing.T) {
	t.Parallel()
	bs := pgBundles(t, 3, func(c *engine.Config) { c.LeaderTTL = time.Hour })
	leaders := func() []int {
		var out []int
		for i, b := range bs {
			if b.engine.IsLeader() {
				out = append(out, i)
			}
		}
		return out
	}
	var first int
	require.Eventually(t, func() bool {
		l := leaders()
		if len(l) == 1 {
			first = l[0]
		}
		return len(l) == 1
	}, 20*time.Second, 10*time.Millisecond, "one leader is elected")
	for range 20 {
		require.LessOrEqual(t, len(leaders()), 1, "leaders at once")
		time.Sleep(10 * time.Millisecond)
	}

	bs[first].engine.Stop()
	require.False(t, bs[first].engine.IsLeader())
	require.Eventually(t, func() bool {
		l := leaders()
		return len(l) == 1 && l[0] != first
	}, 20*time.Second, 10*time.Millisecond, "another instance leads once the first resigned")
}

// A cycle whose resolution another instance claimed meanwhile (this one
// was taken for dead) writes nothing more and starts nothing more: the new
// owner's state stands.
func TestCycleTakenOverWritesNothing(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	var (
		mu    sync.Mutex
		calls []string
	)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.URL.Path)
		mu.Unlock()
		select {
		case entered <- struct{}{}:
		default:
		}
		if r.URL.Path == "/first" {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(slow.Close)
	bs := pgBundles(t, 2, nil)
	ctx := context.Background()
	_, resID := bs[0].create(t, `
name: two-calls
description: a slow call, then another
title_format: two calls
inputs:
  - name: url
steps:
  first:
    description: the slow call
    action:
      type: http
      configuration:
        url: "{{.input.url}}/first"
        method: GET
  second:
    description: the call after it
    dependencies: [first]
    action:
      type: http
      configuration:
        url: "{{.input.url}}/second"
        method: GET
`, map[string]any{"url": slow.URL})
	bs[0].engine.Launch(resID)
	<-entered

	// What the leader's claim does when it takes this instance for dead.
	tx, err := bs[1].db.Begin(ctx)
	require.NoError(t, err)
	res, err := tx.ResolutionLock(ctx, resID)
	require.NoError(t, err)
	require.Equal(t, state.ResRunning, res.State)
	other := bs[1].engine.InstanceID()
	res.State, res.InstanceID = state.ResBlockedToCheck, &other
	require.NoError(t, tx.ResolutionUpdate(ctx, res))
	require.NoError(t, tx.Commit(ctx))
	taken, err := bs[1].db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	close(hold)

	// The abandoned cycle ends: Stop waits for it.
	bs[0].engine.Stop()
	after, err := bs[1].db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	require.Equal(t, taken, after, "the new owner's resolution is left as it was")
	_, _, steps := bs[1].read(t, resID)
	require.Equal(t, state.Running, steps["first"].State, "the result of the abandoned attempt is not written")
	require.Equal(t, state.Todo, steps["second"].State)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"/first"}, calls, "nothing more started")
}

func TestNewRefusesIncoherentTimings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mod     func(*engine.Config)
		wantErr string
	}{
		{"DeadBeforeNextHeartbeat", func(c *engine.Config) {
			c.HeartbeatInterval, c.DeadAfter = time.Second, time.Second
		}, "DeadAfter 1s must exceed HeartbeatInterval 1s"},
		{"LeaseShorterThanRenewal", func(c *engine.Config) {
			c.ElectInterval, c.LeaderTTL = 2*time.Second, time.Second
		}, "LeaderTTL 1s must exceed ElectInterval 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := engine.Config{
				Store: &postgres.Store{}, Catalog: &template.Catalog{},
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			tc.mod(&cfg)
			_, err := engine.New(cfg)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// Cycles starting together, each with a template version not compiled yet,
// never wait for a second connection while holding one: with a pool of two
// they would otherwise wait for each other for good.
func TestColdCyclesDoNotStarveThePool(t *testing.T) {
	t.Parallel()
	b := pgBundlesWithPool(t, 1, 2, nil)[0]
	const n = 12
	ids := make([]string, n)
	for i := range ids {
		_, ids[i] = b.create(t, fmt.Sprintf(`
name: cold-%d
description: a template of its own
title_format: cold
steps:
  say:
    description: say it
    action: {type: echo, configuration: {output: "%d"}}
`, i, i), nil)
	}
	for _, id := range ids {
		b.engine.Launch(id)
	}
	require.Eventually(t, func() bool {
		for _, id := range ids {
			res, err := b.db.ResolutionGet(context.Background(), id)
			if err != nil || res.State != state.ResDone {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "every cycle ended")
}
