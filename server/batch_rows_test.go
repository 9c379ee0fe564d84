package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The callback row of µTask's acceptance checklist: a template that creates
// a callback and waits for it runs the creation, then waits, and so does its
// resolution.
func TestExpectationResolveCallback(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	task, out := ts.waitingCallbackTask(t)
	require.NotEmpty(t, out["id"])
	var res struct {
		State string `json:"state"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+task.Resolution, "admin", nil, &res))
	require.Equal(t, "WAITING", res.State)
}

// The batch row of µTask's acceptance checklist: two batch steps, one from
// json_inputs and one from a YAML list of inputs, each make a batch of two
// tasks that wait for a resolver; the parent waits, is woken by the last
// child of each batch only, and ends DONE once both batches are.
func TestExpectationBatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTemplate(t, dir, "batched.yaml", `
name: batched
description: a child that waits for its resolver
title_format: "batched {{.input.id}}"
inputs:
  - name: id
steps:
  say:
    description: say its id
    action: {type: echo, configuration: {output: {id: "{{.input.id}}"}}}
`)
	writeTemplate(t, dir, "two-batches.yaml", `
name: two-batches
description: two batches of two children
title_format: two batches
auto_runnable: true
allow_all_resolver_usernames: true
steps:
  batchJsonInputs:
    description: children from json_inputs
    action:
      type: batch
      configuration:
        template_name: batched
        json_inputs: '[{"id": "j1"}, {"id": "j2"}]'
  batchYamlInputs:
    description: children from a YAML list
    action:
      type: batch
      configuration:
        template_name: batched
        inputs:
          - {id: y1}
          - {id: y2}
`)
	ts := startServerWithTemplates(t, dir)
	var parent taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "two-batches",
	}, &parent))

	type step struct {
		State    string          `json:"state"`
		Output   json.RawMessage `json:"output"`
		Metadata json.RawMessage `json:"metadata"`
	}
	var steps map[string]step
	require.Eventually(t, func() bool {
		var res struct {
			State string          `json:"state"`
			Steps map[string]step `json:"steps"`
		}
		ts.call(t, http.MethodGet, "/resolution/"+parent.Resolution, "admin", nil, &res)
		steps = res.Steps
		return res.State == "WAITING"
	}, 20*time.Second, 5*time.Millisecond)

	var children []batchTask
	for _, name := range []string{"batchJsonInputs", "batchYamlInputs"} {
		s := steps[name]
		require.Equal(t, "WAITING", s.State, name)
		require.True(t, len(s.Output) == 0 || string(s.Output) == "null", "%s: output is null", name)
		var text string
		require.NoError(t, json.Unmarshal(s.Metadata, &text), "%s: the metadata is a string", name)
		var meta struct {
			BatchID string `json:"batch_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(text, `\"`, `"`)), &meta), name)
		require.NotEmpty(t, meta.BatchID, name)
		batch := ts.listBatch(t, "alice", meta.BatchID)
		require.Len(t, batch, 2, name)
		for _, c := range batch {
			require.Equal(t, "TODO", c.State, name)
		}
		children = append(children, batch...)
	}

	// Only the last child of each batch wakes the parent: after its first
	// run, one run at the end of each batch. The second batch starts once
	// the parent ran for the first, so that the two wake-ups cannot meet
	// in one run.
	type parentRun struct {
		State    string          `json:"state"`
		RunCount int             `json:"run_count"`
		Steps    map[string]step `json:"steps"`
	}
	for i, name := range []string{"batchJsonInputs", "batchYamlInputs"} {
		for _, c := range children[2*i : 2*i+2] {
			require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/resolution", "admin", map[string]any{
				"task_id": c.ID,
			}, nil))
			require.Equal(t, "DONE", ts.waitTask(t, c.ID, "admin").State)
		}
		var res parentRun
		require.Eventually(t, func() bool {
			res = parentRun{}
			ts.call(t, http.MethodGet, "/resolution/"+parent.Resolution, "admin", nil, &res)
			return res.Steps[name].State == "DONE" && res.State != "RUNNING"
		}, 20*time.Second, 5*time.Millisecond, name)
		require.Equal(t, 2+i, res.RunCount, name)
	}
	require.Equal(t, "DONE", ts.waitTask(t, parent.ID, "alice").State)
}
