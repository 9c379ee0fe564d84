package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

// A task that an instance accepts while its execution slots are all taken
// is left to the instances that have one free, rather than waiting there.
func TestTaskWithoutASlotRunsOnAnotherInstance(t *testing.T) {
	t.Parallel()
	db := pgtest.FreshSchema(t)
	const oneSlot = `{"admin_usernames":["admin"],"database_config":{"max_open_conns":12},` +
		`"max_concurrent_executions":1,"max_concurrent_executions_from_crashed":1}`
	busy := startInstanceWith(t, db, server.EngineTuning{}, oneSlot)
	startInstanceWith(t, db, server.EngineTuning{}, oneSlot)

	c := newCounter()
	c.gate = make(chan struct{})
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	opened := false
	t.Cleanup(func() {
		if !opened {
			close(c.gate)
		}
	})

	create := func() string {
		var created taskView
		require.Equal(t, http.StatusCreated, busy.call(t, http.MethodPost, "/task", "alice",
			map[string]any{"template_name": "multi-count", "input": map[string]any{"target": srv.URL}}, &created))
		return created.ID
	}
	first := create()
	require.Eventually(t, func() bool { _, _, total := c.snapshot(); return total == 1 },
		10*time.Second, 5*time.Millisecond, "the first task holds the instance's only slot")
	second := create()
	require.Eventually(t, func() bool { _, _, total := c.snapshot(); return total == 2 },
		10*time.Second, 5*time.Millisecond, "the other instance runs the second task meanwhile")

	close(c.gate)
	opened = true
	for _, id := range []string{first, second} {
		require.Equal(t, "DONE", busy.waitTask(t, id, "alice").State)
	}
}
