package engine_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
)

// On the embedded store, a pause of the leader longer than DeadAfter (a
// suspended VM, a stalled disk) lets its maintenance run before its next
// heartbeat: it keeps its own row, so that a later process does not get its
// id, and the resolution it left RUNNING when it died is recovered by the
// next process.
func TestLeaderKeepsItsOwnRowAndItsWorkIsRecovered(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *engine.Config) {
		c.HeartbeatInterval = 500 * time.Millisecond
		c.DeadAfter = time.Second
		c.ElectInterval = 20 * time.Millisecond
		c.LeaderTTL = time.Second
		c.MaintenanceInterval = 20 * time.Millisecond
	})
	ctx := context.Background()
	require.NoError(t, b.engine.Start(ctx))
	first := b.engine.InstanceID()
	require.Eventually(t, b.engine.IsLeader, 5*time.Second, 5*time.Millisecond)

	// The process is paused for a minute: its clock jumps.
	b.clock.Add(time.Minute)
	time.Sleep(1200 * time.Millisecond) // maintenance rounds, then heartbeats
	require.NoError(t, b.db.InstanceHeartbeat(ctx, first, b.clock.Now()), "the leader kept its own row")

	// It then runs a resolution and dies while a step is in flight.
	_, resID := b.create(t, echoTemplate, nil)
	orphan(t, b.db, resID, first)
	b.engine.Stop()

	// A new process on the same database.
	id, err := b.db.InstanceRegister(ctx, b.clock.Now())
	require.NoError(t, err)
	eng, err := engine.New(engine.Config{
		Store: b.db, Catalog: b.catalog, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		InstanceID: id, Now: b.clock.Now, SingleInstance: true, PollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, eng.Start(ctx))
	t.Cleanup(eng.Stop)
	require.Eventually(t, func() bool {
		r, err := b.db.ResolutionGet(ctx, resID)
		require.NoError(t, err)
		return r.State != state.ResRunning
	}, 3*time.Second, 10*time.Millisecond,
		"the crashed process's RUNNING resolution was never recovered (old id %d, new id %d)", first, id)
}
