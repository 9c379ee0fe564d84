package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

// When its connection is killed, Listen reconnects and goes on delivering
// wake-ups; a transaction that rolls back sends none, and other schemas'
// commits do not reach it.
func TestListenReconnects(t *testing.T) {
	t.Parallel()
	sealer := storetest.NewSealer(t)
	s := testStore(t, freshSchema(t), sealer, nil)
	other := testStore(t, freshSchema(t), sealer, nil)

	ctx, cancel := context.WithCancel(t.Context())
	woken := make(chan struct{}, 64)
	returned := make(chan error, 1)
	go func() {
		returned <- s.Listen(ctx, func() { woken <- struct{}{} })
	}()
	defer func() {
		cancel()
		require.NoError(t, <-returned)
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-woken:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake-up: %s", what)
		}
	}
	drain := func() {
		for len(woken) > 0 {
			<-woken
		}
	}
	due := func(st store.Store, commit bool) {
		t.Helper()
		task := fixtureTask(t, st.(*Store), nil)
		tx, err := st.Begin(t.Context())
		require.NoError(t, err)
		r := &store.Resolution{PublicID: task.PublicID + "-r", TaskID: task.ID, State: "TO_AUTORUN"}
		require.NoError(t, tx.ResolutionInsert(t.Context(), r))
		if commit {
			require.NoError(t, tx.Commit(t.Context()))
		} else {
			require.NoError(t, tx.Rollback(t.Context()))
		}
	}
	wait("connected")

	// The other schema and a rollback send nothing; the commit that follows
	// them is what wakes the listener. Notifications are delivered in
	// commit order, so no wake-up before the commit's means none was sent.
	drain()
	due(other, true)
	due(s, false)
	due(s, true)
	wait("a commit")
	require.Empty(t, woken, "wake-ups from another schema or a rollback")

	// Kill the listening connection: Listen reconnects (and says so once),
	// then wake-ups flow again.
	var killed bool
	require.NoError(t, s.pool.QueryRow(t.Context(), `
		SELECT coalesce(bool_and(pg_terminate_backend(pid)), false) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND query LIKE '%' || current_schema() || '%' AND pid <> pg_backend_pid()`).Scan(&killed))
	require.True(t, killed, "the listening connection was found and killed")
	wait("reconnected")
	drain()
	due(s, true)
	wait("a commit after the reconnection")
}
