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
)

// A resolution that this instance claims again while its cycle is ending
// (the final save made it due, and the claim came before the cycle let go
// of it in this process) runs the claimed cycle once the ending one is
// over, instead of staying claimed and never run.
func TestClaimWhileACycleEndsRunsAfterIt(t *testing.T) {
	t.Parallel()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)

	var hold atomic.Bool
	ending := make(chan struct{}, 1)
	proceed := make(chan struct{})
	b := setup(t, func(cfg *engine.Config) {
		cfg.PollInterval = time.Hour // the test claims the resolution itself
		cfg.Events = func(ev engine.Event) {
			if ev.Step == "" && ev.State == state.ResError && hold.CompareAndSwap(true, false) {
				ending <- struct{}{}
				<-proceed
			}
		}
	})
	_, resID := b.create(t, `
name: fails-and-retries
description: a call that fails with a server error
title_format: fails
inputs:
  - name: url
steps:
  call:
    description: the failing call
    action:
      type: http
      configuration:
        url: "{{.input.url}}"
        method: GET
`, map[string]any{"url": failing.URL})

	hold.Store(true)
	b.engine.Launch(resID)
	<-ending // the first cycle saved its end (ERROR, due later) and still runs

	ctx := context.Background()
	claimed, err := b.db.ResolutionClaimRunnable(ctx, b.engine.InstanceID(), b.clock.Now().Add(24*time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, []string{resID}, claimed)
	b.engine.Launch(resID)
	require.Eventually(t, func() bool { return b.engine.RelaunchPending(resID) },
		10*time.Second, time.Millisecond)
	close(proceed)

	require.Eventually(t, func() bool {
		res, err := b.db.ResolutionGet(ctx, resID)
		require.NoError(t, err)
		return res.RunCount == 2 && res.State == state.ResError
	}, 10*time.Second, 5*time.Millisecond, "the claimed cycle ran after the ending one")
}
