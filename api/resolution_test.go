package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/template"
)

func TestCreateResolution(t *testing.T) {
	t.Parallel()

	body := func(taskID string) string {
		return fmt.Sprintf(`{"task_id": %q, "resolver_inputs": {"ri1": "go"}}`, taskID)
	}

	t.Run("ByOwner", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)

		resp := b.post(t, "owner", "/resolution", body(task["id"].(string)))
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

		res := resp.object(t)
		require.Equal(t, state.ResAutorunning, res["state"])
		require.Equal(t, json.Number("42"), res["instance_id"])
		require.Equal(t, json.Number("7"), res["run_max"], "run_max comes from retry_max")
		require.Equal(t, "owner", res["resolver_username"])
		require.Equal(t, task["id"], res["task_id"])
		require.Equal(t, map[string]any{"ri1": "go", "ri2": "fallback"}, res["resolver_inputs"],
			"resolver inputs get their defaults")

		launched, _, _ := b.runner.calls()
		require.Equal(t, []string{res["id"].(string)}, launched)

		got := b.get(t, "bob", "/task/"+task["id"].(string)).object(t)
		require.Equal(t, res["id"], got["resolution"])
		require.Equal(t, "owner", got["resolver_username"])
		require.NotContains(t, got, "resolver_usernames", "a non-admin resolver is not added to the task")

		second := b.post(t, "owner", "/resolution", body(task["id"].(string)))
		require.Equal(t, http.StatusBadRequest, second.status)
		require.Equal(t, "Failed to create Resolution: a resolution already exists for this task", second.errorMessage(t))
	})

	t.Run("AdminIsAddedToResolvers", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)
		require.Empty(t, listTasks(t, b, "admin", "/task?type=resolvable"))

		resp := b.post(t, "admin", "/resolution", body(task["id"].(string)))
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

		got := b.get(t, "admin", "/task/"+task["id"].(string)).object(t)
		require.Equal(t, []any{"admin"}, got["resolver_usernames"])
		require.Len(t, listTasks(t, b, "admin", "/task?type=resolvable"), 1)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)
		id := task["id"].(string)

		wontfix := b.createTask(t, "bob", `{"template_name": "manual"}`)
		b.setTaskState(t, wontfix["id"].(string), state.TaskWontfix)

		tests := []struct {
			name, user, body string
			status           int
			msg              string
		}{
			{"Requester", "bob", body(id), http.StatusForbidden, "You are not allowed to resolve this task"},
			{"Stranger", "mallory", body(id), http.StatusForbidden, "You are not allowed to resolve this task"},
			{"UnknownTask", "owner", body(uuid.NewString()), http.StatusNotFound, ""},
			{"MissingResolverInput", "owner", fmt.Sprintf(`{"task_id": %q}`, id), http.StatusBadRequest,
				"Failed to create Resolution: Missing input 'ri1'"},
			{"Wontfix", "owner", body(wontfix["id"].(string)), http.StatusBadRequest,
				"Failed to create Resolution: Task is in state WONTFIX"},
			{"StartOverNeverResolved", "owner", fmt.Sprintf(`{"task_id": %q, "start_over": true}`, id),
				http.StatusBadRequest, "can't start over a task that hasn't been resolved at least once"},
			{"Malformed", "owner", `{"task_id": 3`, http.StatusBadRequest, ""},
		}

		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()

				resp := b.post(t, tc.user, "/resolution", tc.body)
				require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

				if tc.msg != "" {
					require.Equal(t, tc.msg, resp.errorMessage(t))
				}
			})
		}

		t.Run("NothingCreated", func(t *testing.T) {
			t.Parallel()

			got := b.get(t, "admin", "/task/"+id).object(t)
			require.NotContains(t, got, "resolution")
		})
	})
}

func TestGetResolution(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	task := b.createTask(t, "bob", `{"template_name": "manual", "watcher_usernames": ["wendy"]}`)

	resp := b.post(t, "owner", "/resolution", fmt.Sprintf(`{"task_id": %q, "resolver_inputs": {"ri1": "go"}}`, task["id"]))
	require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

	resID := resp.object(t)["id"].(string)
	b.runner.setSteps(resID, map[string]*template.Step{
		"first": {
			Name: "first", Description: "the first step", State: state.Done,
			Output: map[string]any{"a": json.Number("1")}, Metadata: map[string]any{"m": "x"},
			Children: []any{"c"}, Item: "it", Error: "kept",
		},
	})

	tests := []struct {
		user    string
		status  int
		reduced bool
	}{
		{"owner", http.StatusOK, false}, // resolution resolver and template owner
		{"grace", http.StatusOK, false}, // template owner by group
		{"admin", http.StatusOK, false},
		{"bob", http.StatusOK, true},   // requester
		{"wendy", http.StatusOK, true}, // watcher
		{"mallory", http.StatusForbidden, false},
	}

	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()

			resp := b.get(t, tc.user, "/resolution/"+resID)
			require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

			if tc.status != http.StatusOK {
				require.Equal(t, "Can't display resolution details", resp.errorMessage(t))

				return
			}

			view := resp.object(t)
			step := view["steps"].(map[string]any)["first"].(map[string]any)
			require.Equal(t, "DONE", step["state"])
			require.Equal(t, "kept", step["error"], "errors stay visible")
			require.Contains(t, step, "action")

			if tc.reduced {
				require.NotContains(t, view, "resolver_inputs")

				for _, k := range []string{"output", "metadata", "children", "item"} {
					require.NotContains(t, step, k)
				}

				return
			}

			require.Equal(t, map[string]any{"ri1": "go", "ri2": "fallback"}, view["resolver_inputs"])
			require.Equal(t, map[string]any{"a": json.Number("1")}, step["output"])
			require.Equal(t, "it", step["item"])
		})
	}

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()

		require.Equal(t, http.StatusNotFound, b.get(t, "admin", "/resolution/"+uuid.NewString()).status)
		require.Equal(t, http.StatusBadRequest, b.get(t, "admin", "/resolution/x").status)
	})
}

func TestRunResolution(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	task := b.createTask(t, "bob", `{"template_name": "manual"}`)

	resp := b.post(t, "owner", "/resolution", fmt.Sprintf(`{"task_id": %q, "resolver_inputs": {"ri1": "go"}}`, task["id"]))
	require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

	resID := resp.object(t)["id"].(string)

	for _, user := range []string{"bob", "mallory"} {
		denied := b.post(t, user, "/resolution/"+resID+"/run", "")
		require.Equal(t, http.StatusForbidden, denied.status)
		require.Equal(t, "You are not allowed to run this resolution", denied.errorMessage(t))
	}

	_, ran, _ := b.runner.calls()
	require.Empty(t, ran)

	for _, user := range []string{"owner", "admin"} {
		ok := b.post(t, user, "/resolution/"+resID+"/run", "")
		require.Equal(t, http.StatusNoContent, ok.status, "body: %s", ok.body)
		require.Empty(t, ok.body)
	}

	_, ran, _ = b.runner.calls()
	require.Equal(t, []string{resID, resID}, ran)

	b.runner.setRunErr(service.Errorf(service.KindBadRequest, "Can't run resolution: already running"))

	refused := b.post(t, "owner", "/resolution/"+resID+"/run", "")
	require.Equal(t, http.StatusBadRequest, refused.status)
	require.Equal(t, "Can't run resolution: already running", refused.errorMessage(t))

	b.runner.setRunErr(fmt.Errorf("query step rows: %w", errDatabaseDown))

	failed := b.post(t, "owner", "/resolution/"+resID+"/run", "")
	require.Equal(t, http.StatusInternalServerError, failed.status)
	require.Equal(t, "internal server error", failed.errorMessage(t))
	require.NotContains(t, string(failed.body), "database down", "internal details are not sent")
	require.True(t, strings.Contains(b.logs.String(), "database down"), "internal details are logged")

	require.Equal(t, http.StatusNotFound, b.post(t, "owner", "/resolution/"+uuid.NewString()+"/run", "").status)

	b.runner.setRunErr(errPanic)

	crashed := b.post(t, "owner", "/resolution/"+resID+"/run", "")
	require.Equal(t, http.StatusInternalServerError, crashed.status, "a panic is recovered into a bare 500")
	require.Empty(t, crashed.body)
	require.Contains(t, b.logs.String(), "runner exploded")
	require.Equal(t, http.StatusOK, b.get(t, "owner", "/meta").status, "the server still serves")
}
