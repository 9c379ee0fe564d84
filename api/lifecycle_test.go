package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

const unknownID = "00000000-0000-4000-8000-000000000000"

func TestWontfix(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		user   string
		status int
		msg    string
	}{
		{"Admin", "admin", http.StatusNoContent, ""},
		{"AdminGroup", "ada", http.StatusNoContent, ""},
		{"Requester", "bob", http.StatusNoContent, ""},
		{"TemplateOwner", "owner", http.StatusNoContent, ""},
		{"OwnerGroup", "grace", http.StatusNoContent, ""},
		{"Stranger", "eve", http.StatusForbidden, "Can't set task's state to WONTFIX"},
		{"Watcher", "walt", http.StatusForbidden, "Can't set task's state to WONTFIX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t, options{})
			task := b.createTask(t, "bob", `{"template_name": "manual", "watcher_usernames": ["walt"]}`)
			id, _ := task["id"].(string)
			before := b.task(t, id)

			resp := b.post(t, tc.user, "/task/"+id+"/wontfix", "")
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

			after := b.task(t, id)
			if tc.status != http.StatusNoContent {
				require.Equal(t, tc.msg, resp.errorMessage(t))
				require.Equal(t, state.TaskTodo, after.State)

				return
			}

			require.Empty(t, resp.body)
			require.Equal(t, state.TaskWontfix, after.State)
			require.True(t, after.LastActivity.After(before.LastActivity), "last_activity is bumped")

			again := b.post(t, tc.user, "/task/"+id+"/wontfix", "")
			require.Equal(t, http.StatusBadRequest, again.status)
			require.Equal(t, "Can't set task's state to WONTFIX: task is in state WONTFIX", again.errorMessage(t))

			res := b.post(t, "owner", "/resolution", `{"task_id": "`+id+`", "resolver_inputs": {"ri1": "x"}}`)
			require.Equal(t, http.StatusBadRequest, res.status, "a rejected task cannot be resolved")
		})
	}

	t.Run("StateBeforePermissions", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)
		id, _ := task["id"].(string)
		b.setTaskState(t, id, state.TaskRunning)

		resp := b.post(t, "eve", "/task/"+id+"/wontfix", "")
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "Can't set task's state to WONTFIX: task is in state RUNNING", resp.errorMessage(t))
	})

	t.Run("UnknownAndInvalidIDs", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		require.Equal(t, http.StatusNotFound, b.post(t, "admin", "/task/"+unknownID+"/wontfix", "").status)
		require.Equal(t, http.StatusBadRequest, b.post(t, "admin", "/task/not-a-uuid/wontfix", "").status)
	})
}

func TestPauseResolution(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		user   string
		state  string
		query  string
		status int
		msg    string
	}{
		{"OwnerWhileAutorunning", "owner", state.ResAutorunning, "", http.StatusNoContent, ""},
		{"AdminWhileBlocked", "admin", state.ResBlockedFatal, "", http.StatusNoContent, ""},
		{"ResolverGroup", "grace", state.ResError, "", http.StatusNoContent, ""},
		{"Requester", "bob", state.ResError, "", http.StatusForbidden, "You are not allowed to pause this task"},
		{"Stranger", "eve", state.ResError, "?force=true", http.StatusForbidden, "You are not allowed to pause this task"},
		{"Running", "owner", state.ResRunning, "", http.StatusBadRequest, "Can't pause resolution while in state RUNNING"},
		{"Done", "admin", state.ResDone, "", http.StatusBadRequest, "Can't pause resolution while in state DONE"},
		{"Cancelled", "owner", state.ResCancelled, "?force=false", http.StatusBadRequest,
			"Can't pause resolution while in state CANCELLED"},
		{"ForceByManager", "owner", state.ResRunning, "?force=true", http.StatusForbidden, "Not an admin user"},
		{"ForceByAdmin", "admin", state.ResRunning, "?force=true", http.StatusNoContent, ""},
		{"ForceBadValue", "admin", state.ResRunning, "?force=maybe", http.StatusBadRequest,
			"expected 'force' to be of type bool"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t, options{})
			taskID, resID := b.manualResolution(t)
			b.changeResolution(t, resID, func(r *store.Resolution) { r.State = tc.state })
			taskBefore := b.task(t, taskID)

			resp := b.post(t, tc.user, "/resolution/"+resID+"/pause"+tc.query, "")
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

			want := tc.state
			if tc.status == http.StatusNoContent {
				require.Empty(t, resp.body)

				want = state.ResPaused
			} else {
				require.Equal(t, tc.msg, resp.errorMessage(t))
			}

			require.Equal(t, want, b.resolution(t, resID).State)
			require.Equal(t, taskBefore.State, b.task(t, taskID).State, "the task's state is left as it is")
		})
	}

	t.Run("UnknownResolution", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		require.Equal(t, http.StatusNotFound, b.post(t, "admin", "/resolution/"+unknownID+"/pause", "").status)
		require.Equal(t, http.StatusBadRequest, b.post(t, "admin", "/resolution/nope/pause", "").status)
	})
}

func TestCancelResolution(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		user   string
		state  string
		status int
		msg    string
	}{
		{"Owner", "owner", state.ResAutorunning, http.StatusNoContent, ""},
		{"Admin", "admin", state.ResPaused, http.StatusNoContent, ""},
		{"Requester", "bob", state.ResPaused, http.StatusForbidden, "You are not allowed to cancel this task"},
		{"Stranger", "eve", state.ResPaused, http.StatusForbidden, "You are not allowed to cancel this task"},
		{"Running", "admin", state.ResRunning, http.StatusBadRequest, "Can't cancel resolution: state RUNNING"},
		{"Done", "owner", state.ResDone, http.StatusBadRequest, "Can't cancel resolution: state DONE"},
		{"Cancelled", "owner", state.ResCancelled, http.StatusBadRequest, "Can't cancel resolution: state CANCELLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t, options{})
			taskID, resID := b.manualResolution(t)
			b.changeResolution(t, resID, func(r *store.Resolution) { r.State = tc.state })
			b.setTaskState(t, taskID, state.TaskBlocked)
			taskBefore := b.task(t, taskID)

			resp := b.post(t, tc.user, "/resolution/"+resID+"/cancel", "")
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

			taskAfter := b.task(t, taskID)
			if tc.status != http.StatusNoContent {
				require.Equal(t, tc.msg, resp.errorMessage(t))
				require.Equal(t, tc.state, b.resolution(t, resID).State)
				require.Equal(t, state.TaskBlocked, taskAfter.State)

				return
			}

			require.Equal(t, state.ResCancelled, b.resolution(t, resID).State)
			require.Equal(t, state.TaskCancelled, taskAfter.State)
			require.True(t, taskAfter.LastActivity.After(taskBefore.LastActivity), "last_activity is bumped")
		})
	}
}

func TestExtendResolution(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		user   string
		state  string
		status int
		msg    string
	}{
		{"Owner", "owner", state.ResBlockedMaxRetries, http.StatusNoContent, ""},
		{"Admin", "admin", state.ResBlockedMaxRetries, http.StatusNoContent, ""},
		{"Requester", "bob", state.ResBlockedMaxRetries, http.StatusForbidden, "Not allowed to extend resolution"},
		{"OtherState", "owner", state.ResBlockedFatal, http.StatusBadRequest,
			"Cannot extend a resolution which is not in state 'BLOCKED_MAXRETRIES'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t, options{})
			_, resID := b.manualResolution(t)
			b.changeResolution(t, resID, func(r *store.Resolution) {
				r.State = tc.state
				r.RunCount = r.RunMax
			})
			before := b.resolution(t, resID)
			_, _, wakesBefore := b.runner.calls()

			resp := b.post(t, tc.user, "/resolution/"+resID+"/extend", "")
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

			after := b.resolution(t, resID)
			_, _, wakes := b.runner.calls()

			if tc.status != http.StatusNoContent {
				require.Equal(t, tc.msg, resp.errorMessage(t))
				require.Equal(t, before.RunMax, after.RunMax)
				require.Equal(t, tc.state, after.State)
				require.Equal(t, wakesBefore, wakes)

				return
			}

			require.Equal(t, 7, before.RunMax, "manual has retry_max 7")
			require.Equal(t, 14, after.RunMax, "run_max grows by the template's retry_max")
			require.Equal(t, state.ResError, after.State)
			require.NotNil(t, after.NextRetry)
			require.Equal(t, wakesBefore+1, wakes, "the engine is woken")
		})
	}

	t.Run("DefaultRetryMax", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "ada"}}`)
		resID, _ := task["resolution"].(string)
		require.NotEmpty(t, resID)
		b.changeResolution(t, resID, func(r *store.Resolution) { r.State = state.ResBlockedMaxRetries })
		before := b.resolution(t, resID).RunMax

		resp := b.post(t, "bob", "/resolution/"+resID+"/extend", "")
		require.Equal(t, http.StatusNoContent, resp.status, "the resolver manages its resolution: %s", resp.body)
		require.Equal(t, before+template.DefaultRetryMax, b.resolution(t, resID).RunMax)
	})
}

func TestGetResolutionStep(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	task := b.createTask(t, "bob", `{"template_name": "manual", "watcher_usernames": ["walt"]}`)
	taskID, _ := task["id"].(string)

	resp := b.post(t, "owner", "/resolution", `{"task_id": "`+taskID+`", "resolver_inputs": {"ri1": "x"}}`)
	require.Equal(t, http.StatusCreated, resp.status)

	resID, _ := resp.object(t)["id"].(string)
	b.runner.setSteps(resID, map[string]*template.Step{
		"first": {
			Name: "first", Description: "the first step", State: "DONE", Error: "none",
			Output: map[string]any{"a": 1}, Metadata: map[string]any{"code": 200}, Item: "x",
			Action: template.Action{Type: "echo"},
		},
	})

	for _, tc := range []struct {
		name    string
		user    string
		step    string
		status  int
		msg     string
		reduced bool
	}{
		{"Admin", "admin", "first", http.StatusOK, "", false},
		{"Manager", "owner", "first", http.StatusOK, "", false},
		{"Requester", "bob", "first", http.StatusOK, "", true},
		{"Watcher", "walt", "first", http.StatusOK, "", true},
		{"Stranger", "eve", "first", http.StatusForbidden, "Can't display resolution details", false},
		{"UnknownStepBeforePermissions", "eve", "nope", http.StatusNotFound,
			`given stepName "nope" for this resolution not found`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			resp := b.get(t, tc.user, "/resolution/"+resID+"/step/"+tc.step)
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

			if tc.status != http.StatusOK {
				require.Equal(t, tc.msg, resp.errorMessage(t))

				return
			}

			st := resp.object(t)
			require.Equal(t, "DONE", st["state"])
			require.Equal(t, "none", st["error"])
			require.Equal(t, "the first step", st["description"])

			for _, hidden := range []string{"output", "metadata", "item"} {
				_, present := st[hidden]
				require.Equal(t, !tc.reduced, present, hidden)
			}
		})
	}

	t.Run("UnknownResolution", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, http.StatusNotFound, b.get(t, "admin", "/resolution/"+unknownID+"/step/first").status)
	})
}
