package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
)

// A wake-up recorded while a cycle runs by another instance whose clock
// reads a time before the cycle's start is kept: the clocks of instances
// differ a little, and a subtask that ends on another instance soon after
// its parent's cycle started must still wake the parent.
func TestWakeFromAnInstanceWithASlowerClockIsKept(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(slow.Close)
	var (
		mu sync.Mutex
		n  int
	)
	bs := pgBundles(t, 2, func(c *engine.Config) {
		c.PollInterval = 200 * time.Millisecond
		mu.Lock()
		defer mu.Unlock()
		if n == 1 {
			// The second instance's clock is 200 ms behind the first's.
			c.Now = func() time.Time { return time.Now().Add(-200 * time.Millisecond) }
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
`, map[string]any{"url": slow.URL})
	bs[0].engine.Launch(resID)
	<-entered

	ctx := context.Background()
	running, err := bs[1].db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	require.Equal(t, state.ResRunning, running.State)
	time.Sleep(50 * time.Millisecond) // the wake-up comes 50 ms after the start
	require.NoError(t, bs[1].engine.WakeResolution(ctx, resID))
	close(hold)

	require.Eventually(t, func() bool {
		res, err := bs[1].db.ResolutionGet(ctx, resID)
		require.NoError(t, err)
		return res.RunCount >= 2 && res.State == state.ResWaiting
	}, 5*time.Second, 10*time.Millisecond, "the woken resolution never ran again: the wake-up was dropped")
}
