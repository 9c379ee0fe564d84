package server_test

import (
	"bytes"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitResolution polls a resolution until its state is one of states.
func (ts *testServer) waitResolution(t *testing.T, id string, states ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var res struct {
			State string `json:"state"`
		}
		require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+id, "admin", nil, &res))
		for _, s := range states {
			if res.State == s {
				return s
			}
		}
		require.True(t, time.Now().Before(deadline), "resolution %s still %s", id, res.State)
		time.Sleep(5 * time.Millisecond)
	}
}

// blockedManualFix creates a manual-fix task and waits until its failing
// step blocks it; it returns the task and its resolution.
func blockedManualFix(t *testing.T, ts *testServer, user string) (taskView, string) {
	t.Helper()
	var created taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", user,
		map[string]any{"template_name": "manual-fix"}, &created))
	require.NotEmpty(t, created.Resolution)
	tv := ts.waitTask(t, created.ID, user)
	require.Equal(t, "BLOCKED", tv.State)
	ts.waitResolution(t, created.Resolution, "BLOCKED_BADREQUEST")
	return tv, created.Resolution
}

func TestEditedStepRunsWithItsNewDefinition(t *testing.T) {
	t.Parallel()
	workDir := t.TempDir()
	ts := startServer(t, workDir)
	tv, resID := blockedManualFix(t, ts, "bob")

	fixed := map[string]any{
		"description": "fixed by hand",
		"action": map[string]any{
			"type":          "echo",
			"configuration": map[string]any{"output": map[string]any{"fixed": "yes"}},
		},
		"custom_states": []string{"IGNORED"},
		"state":         "TODO",
	}
	var failure map[string]any
	require.Equal(t, http.StatusBadRequest, ts.call(t, http.MethodPut, "/resolution/"+resID+"/step/probe", "admin",
		fixed, &failure), "a blocked resolution must be paused first")

	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/resolution/"+resID+"/pause", "admin", nil, nil))
	bad := map[string]any{"action": map[string]any{"type": "no-such-action"}, "custom_states": []string{"IGNORED"}}
	require.Equal(t, http.StatusBadRequest, ts.call(t, http.MethodPut, "/resolution/"+resID+"/step/probe", "admin",
		bad, &failure))
	require.Equal(t, "invalid step probe: Invalid executor action: No runner for type 'no-such-action'", failure["error"])
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPut, "/resolution/"+resID+"/step/probe", "admin",
		fixed, nil))

	var step map[string]any
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+resID+"/step/probe", "admin", nil, &step))
	require.Equal(t, "fixed by hand", step["description"], "the step shows its new definition")

	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/resolution/"+resID+"/run", "admin", nil, nil))
	done := ts.waitTask(t, tv.ID, "bob")
	require.Equal(t, "DONE", done.State)

	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+resID+"/step/probe", "admin", nil, &step))
	require.Equal(t, "DONE", step["state"])
	require.Equal(t, map[string]any{"fixed": "yes"}, step["output"], "the step ran with its new configuration")
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+resID+"/step/onDone", "admin", nil, &step))
	require.Equal(t, "DONE", step["state"], "its dependants follow")
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+resID+"/step/onIgnored", "admin", nil, &step))
	require.Equal(t, "PRUNE", step["state"])

	// The audit trail tells the story, and the database file keeps neither
	// a comment nor an audit detail in clear.
	note := "a-note-only-the-cipher-may-hold"
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task/"+tv.ID+"/comment", "bob",
		map[string]any{"content": note}, nil))
	var trail []struct {
		Operation string         `json:"operation"`
		Username  string         `json:"username"`
		Detail    map[string]any `json:"detail"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+tv.ID+"/audit", "bob", nil, &trail))
	var ops []string
	for _, e := range trail {
		ops = append(ops, e.Username+" "+e.Operation)
	}
	require.Equal(t, []string{
		"bob CreateTask", "admin PauseTaskExecution", "admin EditTaskResolutionStep", "admin ExecuteTask",
		"bob AddTaskComment",
	}, ops)
	commentID, _ := trail[4].Detail["comment_id"].(string)
	require.NotEmpty(t, commentID)

	dump := dumpDir(t, workDir)
	require.NotEmpty(t, dump)
	require.False(t, bytes.Contains(dump, []byte(note)), "a comment is in clear in the database files")
	require.False(t, bytes.Contains(dump, []byte("comment_id")), "an audit detail key is in clear in the database files")
	require.False(t, bytes.Contains(dump, []byte("old_state")), "an audit detail key is in clear in the database files")
}

// dumpDir returns the bytes of every file under dir.
func dumpDir(t *testing.T, dir string) []byte {
	t.Helper()
	var out []byte
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, b...)
		return nil
	}))
	return out
}

func TestStartOverRunsAgain(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	tv, resID := blockedManualFix(t, ts, "bob")

	var failure map[string]any
	body := map[string]any{"task_id": tv.ID, "start_over": true}
	require.Equal(t, http.StatusForbidden, ts.call(t, http.MethodPost, "/resolution", "bob", body, &failure),
		"the resolver of the resolution does not count as a manager here")
	require.Equal(t, "You are not allowed to resolve this task", failure["error"])

	var fresh struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/resolution", "admin", body, &fresh))
	require.NotEqual(t, resID, fresh.ID)
	require.Equal(t, http.StatusNotFound, ts.call(t, http.MethodGet, "/resolution/"+resID, "admin", nil, nil))

	again := ts.waitTask(t, tv.ID, "bob")
	require.Equal(t, "BLOCKED", again.State, "the new resolution ran by itself and failed the same way")
	require.Equal(t, fresh.ID, again.Resolution)
}
