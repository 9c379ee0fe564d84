package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// auditEntry is what the test reads of an audit entry.
type auditEntry struct {
	ID           string         `json:"id"`
	Username     string         `json:"username"`
	Admin        bool           `json:"admin"`
	Operation    string         `json:"operation"`
	TaskID       string         `json:"task_id"`
	ResolutionID string         `json:"resolution_id"`
	Detail       map[string]any `json:"detail"`
}

// trail reads a whole audit trail, page by page, as user.
func (b *bundle) trail(t *testing.T, user, taskID string) []auditEntry {
	t.Helper()

	var all []auditEntry

	next := "/task/" + taskID + "/audit?page_size=10"
	for next != "" {
		resp := b.get(t, user, next)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		require.Equal(t, "10", resp.header.Get("X-Paging-PageSize"))

		var page []auditEntry
		resp.json(t, &page)
		all = append(all, page...)

		next = ""
		if link := resp.header.Get("Link"); link != "" {
			require.Len(t, page, 10, "a next page only after a full one")
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), ">; rel=next")
		}
	}

	return all
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	ok := func(resp response, status int) response {
		t.Helper()
		require.Equal(t, status, resp.status, "body: %s", resp.body)

		return resp
	}

	secretValue := "value-that-must-not-be-audited"
	task := b.createTask(t, "bob", `{"template_name": "manual", "watcher_usernames": ["walt"], "comment": "first words"}`)
	taskID, _ := task["id"].(string)
	ok(b.put(t, "bob", "/task/"+taskID, `{"input": {"why": "`+secretValue+`"}, "watcher_usernames": ["walt"]}`),
		http.StatusOK)
	comment := ok(b.post(t, "walt", "/task/"+taskID+"/comment", `{"content": "a watcher speaks"}`), http.StatusCreated)
	commentID, _ := comment.object(t)["id"].(string)
	res := ok(b.post(t, "owner", "/resolution", `{"task_id": "`+taskID+`", "resolver_inputs": {"ri1": "x"}}`),
		http.StatusCreated)
	resID, _ := res.object(t)["id"].(string)
	b.manualSteps(resID)
	ok(b.post(t, "owner", "/resolution/"+resID+"/run", ""), http.StatusNoContent)
	ok(b.post(t, "owner", "/resolution/"+resID+"/pause", ""), http.StatusNoContent)
	ok(b.put(t, "admin", "/resolution/"+resID+"/step/first", editedFirst), http.StatusNoContent)
	ok(b.put(t, "owner", "/resolution/"+resID+"/step/second/state", `{"state": "PRUNE"}`), http.StatusNoContent)
	ok(b.put(t, "admin", "/resolution/"+resID, `{"resolver_inputs": {"ri1": "y"}}`), http.StatusNoContent)
	ok(b.put(t, "walt", "/task/"+taskID+"/comment/"+commentID, `{"content": "a watcher speaks again"}`), http.StatusOK)
	ok(b.do(t, request{method: http.MethodDelete, path: "/task/" + taskID + "/comment/" + commentID, user: "ada"}),
		http.StatusNoContent)
	again := ok(b.post(t, "admin", "/resolution", `{"task_id": "`+taskID+`", "start_over": true, "resolver_inputs": {"ri1": "z"}}`),
		http.StatusCreated)
	againID, _ := again.object(t)["id"].(string)
	b.changeResolution(t, againID, func(r *store.Resolution) { r.State = state.ResBlockedMaxRetries })
	ok(b.post(t, "owner", "/resolution/"+againID+"/extend", ""), http.StatusNoContent)
	ok(b.post(t, "grace", "/resolution/"+againID+"/cancel", ""), http.StatusNoContent)

	type want struct {
		op, user   string
		admin      bool
		resolution string
	}

	wants := []want{
		{"CreateTask", "bob", false, ""},
		{"EditTask", "bob", false, ""},
		{"AddTaskComment", "walt", false, ""},
		{"CreateTaskResolution", "owner", false, resID},
		{"ExecuteTask", "owner", false, resID},
		{"PauseTaskExecution", "owner", false, resID},
		{"EditTaskResolutionStep", "admin", true, resID},
		{"EditTaskResolutionStepState", "owner", false, resID},
		{"EditTaskResolution", "admin", true, resID},
		{"EditTaskComment", "walt", false, ""},
		{"DeleteTaskComment", "ada", true, ""},
		{"CreateTaskResolution", "admin", true, againID},
		{"ExtendTaskResolution", "owner", false, againID},
		{"CancelTaskResolution", "grace", false, againID},
	}

	entries := b.trail(t, "walt", taskID)
	require.Len(t, entries, len(wants), "the watcher reads the whole trail: %+v", entries)

	seen := map[string]bool{}
	for i, w := range wants {
		e := entries[i]
		require.Equal(t, want{e.Operation, e.Username, e.Admin, e.ResolutionID}, w, "entry %d", i)
		require.Equal(t, taskID, e.TaskID)
		require.False(t, seen[e.ID], "entry ids are unique")
		seen[e.ID] = true
	}

	require.Equal(t, []any{"why"}, entries[1].Detail["changed_input_keys"])
	require.Equal(t, map[string]any{"step": "second", "old_state": "TODO", "new_state": "PRUNE"}, entries[7].Detail)
	require.Equal(t, map[string]any{"step": "first", "old_state": "DONE", "new_state": "TODO"}, entries[6].Detail)
	require.Equal(t, commentID, entries[2].Detail["comment_id"])
	require.Equal(t, resID, entries[11].Detail["previous_resolution_id"])
	require.Equal(t, true, entries[11].Detail["start_over"])
	require.Equal(t, map[string]any{"old_state": state.ResBlockedMaxRetries, "new_state": state.ResError}, entries[12].Detail)

	raw := b.get(t, "admin", "/task/"+taskID+"/audit")
	require.Equal(t, http.StatusOK, raw.status)
	require.NotContains(t, string(raw.body), secretValue, "no input value in the trail")
	require.NotContains(t, string(raw.body), "a watcher speaks", "no comment text in the trail")

	for _, user := range []string{"bob", "owner", "admin"} {
		require.Len(t, b.trail(t, user, taskID), len(wants), user)
	}

	resp := b.get(t, "eve", "/task/"+taskID+"/audit")
	require.Equal(t, http.StatusForbidden, resp.status)
	require.Equal(t, "Can't display task audit trail", resp.errorMessage(t))

	resp = b.get(t, "bob", "/task/"+taskID+"/audit?last="+url.QueryEscape(unknownUUID))
	require.Equal(t, http.StatusNotFound, resp.status)
	require.Equal(t, "audit entry \""+unknownUUID+"\" not found", resp.errorMessage(t), "no internal id in the message")
	resp = b.get(t, "bob", "/task/"+unknownUUID+"/audit")
	require.Equal(t, http.StatusNotFound, resp.status)

	// A refused write leaves no entry.
	ok(b.put(t, "eve", "/task/"+taskID, `{}`), http.StatusForbidden)
	require.Len(t, b.trail(t, "bob", taskID), len(wants))

	rejected := b.createTask(t, "bob", `{"template_name": "manual"}`)
	rejectedID, _ := rejected["id"].(string)
	ok(b.post(t, "bob", "/task/"+rejectedID+"/wontfix", ""), http.StatusNoContent)

	entries = b.trail(t, "bob", rejectedID)
	require.Len(t, entries, 2)
	require.Equal(t, "CreateTask", entries[0].Operation)
	require.Equal(t, "CancelTask", entries[1].Operation)
	require.Equal(t, map[string]any{"old_state": "TODO", "new_state": "WONTFIX"}, entries[1].Detail)

	// The trail goes with its task.
	ok(b.do(t, request{method: http.MethodDelete, path: "/task/" + rejectedID, user: "admin"}), http.StatusNoContent)
	resp = b.get(t, "admin", "/task/"+rejectedID+"/audit")
	require.Equal(t, http.StatusNotFound, resp.status)
}
