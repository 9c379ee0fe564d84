package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stepsOf reads the steps of a resolution through the API.
func (ts *testServer) stepsOf(t *testing.T, resolution string) map[string]struct {
	State    string         `json:"state"`
	Output   map[string]any `json:"output"`
	Metadata map[string]any `json:"metadata"`
} {
	t.Helper()
	var res struct {
		Steps map[string]struct {
			State    string         `json:"state"`
			Output   map[string]any `json:"output"`
			Metadata map[string]any `json:"metadata"`
		} `json:"steps"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+resolution, "alice", nil, &res))
	return res.Steps
}

// The script plugin row of µTask's acceptance checklist: the last line of
// the script is the output, the metadata describes the process.
func TestExpectationScriptPlugin(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	var created taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "exec-script", "input": map[string]any{"argv": "world"}}, &created))
	require.Equal(t, "DONE", ts.waitTask(t, created.ID, "alice").State)
	step := ts.stepsOf(t, created.Resolution)["stepOne"]
	require.Equal(t, map[string]any{"dumb_string": "Hello world!", "random_object": map[string]any{"foo": "bar"}}, step.Output)
	require.Equal(t, "0", step.Metadata["exit_code"])
	require.Equal(t, "exit status 0", step.Metadata["process_state"])
	require.Equal(t, "Hello world script\n{\"dumb_string\":\"Hello world!\",\"random_object\":{\"foo\":\"bar\"}}\n", step.Metadata["output"])
	require.NotEmpty(t, step.Metadata["execution_time"])
	require.Equal(t, "", step.Metadata["error"])
}

// The script environment row: task, resolution and step ids, and the
// configured variables, templated.
func TestExpectationScriptPluginEnvironmentVariables(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	var created taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "exec-script-env"}, &created))
	require.Equal(t, "DONE", ts.waitTask(t, created.ID, "alice").State)
	step := ts.stepsOf(t, created.Resolution)["stepOne"]
	require.Equal(t, "DONE", step.State)
	require.Equal(t, map[string]any{
		"UTASK_TASK_ID":       created.ID,
		"UTASK_RESOLUTION_ID": created.Resolution,
		"UTASK_STEP_NAME":     "stepOne",
		"static_value":        "foo",
		"variable_value":      "bar",
	}, step.Output)
}

// The subtask row: children a human resolves; the parent waits, then
// resumes and finishes when the last child is done.
func TestExpectationResolveSubTask(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	var parent taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "parent-of-manual"}, &parent))
	require.Eventually(t, func() bool {
		var tv taskView
		ts.call(t, http.MethodGet, "/task/"+parent.ID, "alice", nil, &tv)
		return tv.State == "WAITING"
	}, 10*time.Second, 5*time.Millisecond)

	steps := ts.stepsOf(t, parent.Resolution)
	for _, name := range []string{"fixed", "evaluated"} {
		require.Equal(t, "WAITING", steps[name].State, name)
		child, _ := steps[name].Output["id"].(string)
		require.NotEmpty(t, child, name)
		var ct taskView
		require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+child, "admin", nil, &ct))
		require.Equal(t, "TODO", ct.State, "a manual child waits for a resolver")
		// An administrator resolves the child; it runs at once.
		require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/resolution", "admin",
			map[string]any{"task_id": child}, nil), name)
		require.Equal(t, "DONE", ts.waitTask(t, child, "admin").State, name)
	}
	done := ts.waitTask(t, parent.ID, "alice")
	require.Equal(t, "DONE", done.State)
	require.Equal(t, map[string]any{"fixed": "2674", "evaluated": "84"}, done.Result)
}

// A subtask refused (WONTFIX) wakes its parent at once, whose step then
// fails with a client error.
func TestRefusedSubtaskWakesItsParent(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	var parent taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "parent-of-manual"}, &parent))
	require.Eventually(t, func() bool {
		var tv taskView
		ts.call(t, http.MethodGet, "/task/"+parent.ID, "alice", nil, &tv)
		return tv.State == "WAITING"
	}, 10*time.Second, 5*time.Millisecond)
	child, _ := ts.stepsOf(t, parent.Resolution)["fixed"].Output["id"].(string)
	require.NotEmpty(t, child)
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/task/"+child+"/wontfix", "admin", nil, nil))
	done := ts.waitTask(t, parent.ID, "alice")
	require.Equal(t, "BLOCKED", done.State)
	steps := ts.stepsOf(t, parent.Resolution)
	require.Equal(t, "CLIENT_ERROR", steps["fixed"].State)
	require.Equal(t, "WONTFIX", steps["fixed"].Output["state"])
}

// An administrator sets a step's state by hand on a paused resolution; the
// next run prunes what can no longer run instead of deadlocking (µTask
// leaves the other branch TODO and ends BLOCKED_DEADLOCK).
func TestStepStateSetByHandPrunes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	var created taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "manual-fix"}, &created))
	require.Equal(t, "BLOCKED", ts.waitTask(t, created.ID, "alice").State)
	res := "/resolution/" + created.Resolution

	// Only while paused, only a state the step allows.
	require.Equal(t, http.StatusBadRequest, ts.call(t, http.MethodPut, res+"/step/probe/state", "admin", map[string]any{"state": "IGNORED"}, nil))
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, res+"/pause", "admin", nil, nil))
	require.Equal(t, http.StatusBadRequest, ts.call(t, http.MethodPut, res+"/step/probe/state", "admin", map[string]any{"state": "NOPE"}, nil))
	require.Equal(t, http.StatusForbidden, ts.call(t, http.MethodPut, res+"/step/probe/state", "alice", map[string]any{"state": "IGNORED"}, nil))
	require.Equal(t, http.StatusNotFound, ts.call(t, http.MethodPut, res+"/step/ghost/state", "admin", map[string]any{"state": "DONE"}, nil))
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPut, res+"/step/probe/state", "admin", map[string]any{"state": "IGNORED"}, nil))

	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, res+"/run", "admin", nil, nil))
	require.Equal(t, "DONE", ts.waitTask(t, created.ID, "alice").State)
	var view struct {
		Steps map[string]struct {
			State string `json:"state"`
		} `json:"steps"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, res, "admin", nil, &view))
	require.Equal(t, "IGNORED", view.Steps["probe"].State)
	require.Equal(t, "PRUNE", view.Steps["onDone"].State)
	require.Equal(t, "DONE", view.Steps["onIgnored"].State)

	var comments []struct {
		Content string `json:"content"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+created.ID+"/comment", "admin", nil, &comments))
	var texts []string
	for _, c := range comments {
		texts = append(texts, c.Content)
	}
	require.Contains(t, texts, "manually updated resolution step probe state from CLIENT_ERROR to IGNORED")
}

// The paused-parent row: a subtask that ends does not resume a parent an
// administrator paused.
func TestExpectationResolveSubTaskParentTaskPaused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	var parent taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "parent-of-manual"}, &parent))
	require.Eventually(t, func() bool {
		var tv taskView
		ts.call(t, http.MethodGet, "/task/"+parent.ID, "alice", nil, &tv)
		return tv.State == "WAITING"
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/resolution/"+parent.Resolution+"/pause", "admin", nil, nil))

	child, _ := ts.stepsOf(t, parent.Resolution)["fixed"].Output["id"].(string)
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/resolution", "admin", map[string]any{"task_id": child}, nil))
	require.Equal(t, "DONE", ts.waitTask(t, child, "admin").State)

	// The parent stays paused, its step still waiting.
	var res struct {
		State string `json:"state"`
	}
	require.Never(t, func() bool {
		ts.call(t, http.MethodGet, "/resolution/"+parent.Resolution, "admin", nil, &res)
		return res.State != "PAUSED"
	}, 300*time.Millisecond, 20*time.Millisecond)
	require.Equal(t, "WAITING", ts.stepsOf(t, parent.Resolution)["fixed"].State)
}
