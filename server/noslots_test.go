package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// With max_concurrent_executions 0 an instance accepts tasks and runs
// none; stopped, it hands them back, and the next instance runs them.
func TestZeroExecutionSlotsRunNothing(t *testing.T) {
	t.Parallel()
	workDir := t.TempDir()
	idle := startServer(t, workDir, `CFG_UTASK_CFG={"admin_usernames":["admin"],`+
		`"max_concurrent_executions":0,"max_concurrent_executions_from_crashed":0}`)
	var created taskView
	require.Equal(t, http.StatusCreated, idle.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "three-echo", "input": map[string]any{"who": "idle"}}, &created))
	time.Sleep(300 * time.Millisecond) // three echo steps run in a few ms
	var tv taskView
	require.Equal(t, http.StatusOK, idle.call(t, http.MethodGet, "/task/"+created.ID, "alice", nil, &tv))
	require.NotEqual(t, "DONE", tv.State, "a task ran on an instance without execution slots")
	idle.stop(t)

	busy := startServer(t, workDir)
	require.Equal(t, "DONE", busy.waitTask(t, created.ID, "alice").State)
}
