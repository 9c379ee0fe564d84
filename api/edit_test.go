package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/echo"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// editCatalog is the catalog edited steps are validated against: the echo
// action and the given functions.
func editCatalog(t *testing.T, functions map[string]*template.Function) *template.Catalog {
	t.Helper()

	reg := action.NewRegistry()
	require.NoError(t, reg.Register(echo.Name, echo.New()))

	return &template.Catalog{Actions: reg, Functions: functions, Templates: map[string]bool{}}
}

func (b *bundle) put(t *testing.T, user, path, body string) response {
	t.Helper()

	return b.do(t, request{method: http.MethodPut, path: path, user: user, body: body})
}

// comments returns the contents of the comments of a task, oldest first.
func (b *bundle) commentTexts(t *testing.T, taskID string) []string {
	t.Helper()

	cs, err := b.store.CommentList(context.Background(), b.task(t, taskID).ID)
	require.NoError(t, err)

	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Username+": "+c.Content)
	}

	return out
}

// pause puts a resolution in PAUSED, as a finished cycle followed by a
// pause leaves it.
func (b *bundle) pause(t *testing.T, resolutionID string) {
	t.Helper()

	b.changeResolution(t, resolutionID, func(r *store.Resolution) {
		r.State = state.ResPaused
	})
}

// manualSteps makes the test engine show the steps of the manual template
// for a resolution.
func (b *bundle) manualSteps(resolutionID string) {
	b.runner.setSteps(resolutionID, map[string]*template.Step{
		"first": {
			Name: "first", Description: "the first step", State: state.Done,
			Action: template.Action{Type: "echo", Configuration: []byte(`{"output": {"a": 1}}`)},
		},
		"second": {
			Name: "second", Description: "the second step", State: state.Todo, Dependencies: []string{"first"},
			Action: template.Action{Type: "echo", Configuration: []byte(`{"output": {"b": 2}}`)},
		},
	})
}

func TestEditTask(t *testing.T) {
	t.Parallel()

	t.Run("RequesterBeforeResolution", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual", "input": {"why": "old"}, "tags": {"x": "y"}}`)
		id, _ := task["id"].(string)
		before := b.task(t, id)

		resp := b.put(t, "bob", "/task/"+id,
			`{"input": {"why": "new"}, "watcher_usernames": ["walt"], "watcher_groups": ["g"], "tags": {"k": "v"}}`)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

		got := resp.object(t)
		require.Equal(t, map[string]any{"why": "new"}, got["input"])
		require.Equal(t, []any{"walt"}, got["watcher_usernames"])
		require.Equal(t, []any{"g"}, got["watcher_groups"])
		require.Equal(t, map[string]any{"k": "v"}, got["tags"], "tags are replaced wholesale")
		require.Equal(t, "Manual for bob", got["title"])

		after := b.task(t, id)
		require.Equal(t, map[string]any{"why": "new"}, after.Input)
		require.Equal(t, map[string]string{"k": "v"}, after.Tags)
		require.True(t, after.LastActivity.After(before.LastActivity), "last_activity is bumped")
		require.Equal(t, []string{"bob: manually edited task"}, b.commentTexts(t, id))

		// Omitted fields become empty.
		resp = b.put(t, "bob", "/task/"+id, `{"input": {}}`)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

		after = b.task(t, id)
		require.Empty(t, after.Tags)
		require.Empty(t, after.WatcherUsernames)
		require.Empty(t, after.Input)
	})

	t.Run("Permissions", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)
		id, _ := task["id"].(string)

		for _, user := range []string{"eve", "walt"} {
			resp := b.put(t, user, "/task/"+id, `{}`)
			require.Equal(t, http.StatusForbidden, resp.status, user)
			require.Equal(t, "Can't update task", resp.errorMessage(t))
		}

		for _, user := range []string{"owner", "grace", "admin", "ada"} {
			resp := b.put(t, user, "/task/"+id, `{}`)
			require.Equal(t, http.StatusOK, resp.status, "%s: %s", user, resp.body)
		}

		resp := b.put(t, "bob", "/task/"+unknownUUID, `{}`)
		require.Equal(t, http.StatusNotFound, resp.status)
		resp = b.put(t, "bob", "/task/not-a-uuid", `{}`)
		require.Equal(t, http.StatusBadRequest, resp.status)
	})

	t.Run("WithResolution", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		taskID, resID := b.manualResolution(t)

		resp := b.put(t, "bob", "/task/"+taskID, `{}`)
		require.Equal(t, http.StatusForbidden, resp.status, "the requester may not edit once resolved")

		resp = b.put(t, "owner", "/task/"+taskID, `{}`)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "Cannot update a task which resolution is not in state 'PAUSED'", resp.errorMessage(t))

		// Paused by force while its cycle still runs: the engine would undo
		// the edit.
		started := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
		b.changeResolution(t, resID, func(r *store.Resolution) {
			r.State = state.ResPaused
			r.LastStart = &started
		})
		resp = b.put(t, "admin", "/task/"+taskID, `{"input": {"why": "busy"}}`)
		require.Equal(t, http.StatusConflict, resp.status, "body: %s", resp.body)
		require.Contains(t, resp.errorMessage(t), service.ErrResolutionBusy.Error())
		require.Nil(t, b.task(t, taskID).Input["why"])

		stopped := started.Add(time.Minute)
		b.changeResolution(t, resID, func(r *store.Resolution) { r.LastStop = &stopped })

		for _, user := range []string{"owner", "admin"} {
			resp = b.put(t, user, "/task/"+taskID, `{"input": {"why": "`+user+`"}}`)
			require.Equal(t, http.StatusOK, resp.status, "%s: %s", user, resp.body)
			require.Equal(t, user, b.task(t, taskID).Input["why"])
		}
	})

	t.Run("SecretRoundTrip", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "ada", "secret": "pw"}}`)
		id, _ := task["id"].(string)
		resID, _ := task["resolution"].(string)
		require.NotEmpty(t, resID)
		b.pause(t, resID)

		read := b.get(t, "bob", "/task/"+id)
		require.Equal(t, http.StatusOK, read.status)

		input, ok := read.object(t)["input"].(map[string]any)
		require.True(t, ok)
		require.Equal(t, service.SecretMask, input["secret"])

		input["name"] = "grace"
		body, err := json.Marshal(map[string]any{"input": input})
		require.NoError(t, err)

		resp := b.put(t, "admin", "/task/"+id, string(body))
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

		echoed, ok := resp.object(t)["input"].(map[string]any)
		require.True(t, ok)
		require.Equal(t, "pw", echoed["secret"], "the response shows the inputs in clear")
		require.Equal(t, "pw", b.task(t, id).Input["secret"], "the stored password is kept")
		require.Equal(t, "Hello grace x3", b.task(t, id).Title, "the title is rendered again")
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "ada"}}`)
		id, _ := task["id"].(string)
		resID, _ := task["resolution"].(string)
		b.pause(t, resID)

		resp := b.put(t, "admin", "/task/"+id, `{"tags": {"a": "b"}}`)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "Missing input 'name'", resp.errorMessage(t))

		resp = b.put(t, "admin", "/task/"+id, `{"input": {"name": "NOT-LOWER"}}`)
		require.Equal(t, http.StatusBadRequest, resp.status)

		resp = b.put(t, "admin", "/task/"+id, `{"input": {"name": "ada"}, "tags": {"_utask_parent_task_id": "x"}}`)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "tag _utask_parent_task_id is read-only and cannot be modified", resp.errorMessage(t))
	})

	t.Run("ParentTagIsReadOnly", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)
		id, _ := task["id"].(string)

		ctx := context.Background()
		tx, err := b.store.Begin(ctx)
		require.NoError(t, err)

		locked, err := tx.TaskLock(ctx, b.task(t, id).ID)
		require.NoError(t, err)

		locked.Tags = map[string]string{service.ParentTaskTag: "parent", "k": "v"}
		require.NoError(t, tx.TaskUpdate(ctx, locked))
		require.NoError(t, tx.Commit(ctx))

		for _, body := range []string{`{}`, `{"tags": {"k": "v"}}`, `{"tags": {"_utask_parent_task_id": "other"}}`} {
			resp := b.put(t, "bob", "/task/"+id, body)
			require.Equal(t, http.StatusBadRequest, resp.status, body)
			require.Equal(t, "tag _utask_parent_task_id is read-only and cannot be modified", resp.errorMessage(t))
		}

		resp := b.put(t, "bob", "/task/"+id, `{"tags": {"_utask_parent_task_id": "parent"}}`)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		require.Equal(t, map[string]string{service.ParentTaskTag: "parent"}, b.task(t, id).Tags)
	})
}

// unknownUUID is a valid public id that names nothing.
const unknownUUID = "5f0c7c1e-8d2a-4b8e-9c61-2f3a4b5c6d7e"

// stepRow returns the stored row of a step.
func (b *bundle) stepRow(t *testing.T, resolutionID, name string) *store.Step {
	t.Helper()

	rows, err := b.store.StepList(context.Background(), b.resolution(t, resolutionID).ID)
	require.NoError(t, err)

	for _, row := range rows {
		if row.Name == name {
			return row
		}
	}

	return nil
}

const editedFirst = `{"description": "the first step, fixed", "action": {"type": "echo",
  "configuration": {"output": {"a": 5}}}, "state": "TODO", "custom_states": ["FIXED"]}`

func TestEditResolution(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	taskID, resID := b.manualResolution(t)
	b.manualSteps(resID)
	path := "/resolution/" + resID

	resp := b.put(t, "owner", path, `{}`)
	require.Equal(t, http.StatusUnauthorized, resp.status, "administrators only")

	resp = b.put(t, "admin", path, `{"steps": {"first": `+editedFirst+`}}`)
	require.Equal(t, http.StatusBadRequest, resp.status)
	require.Equal(t, "Cannot update a resolution which is not in state 'PAUSED'", resp.errorMessage(t))

	b.pause(t, resID)

	for _, tc := range []struct {
		name, body, msg string
	}{
		{"UnknownAction", `{"steps": {"first": {"action": {"type": "nope"}}}}`,
			"invalid step first: Invalid executor action: No runner for type 'nope'"},
		{"MissingBase", `{"steps": {"first": {"action": {"type": "echo", "base_configuration": "none", "configuration": {}}}}}`,
			"invalid step first: Invalid executor action: BaseConfiguration key not found"},
		{"BadDependency", `{"steps": {"second": {"action": {"type": "echo", "configuration": {}}, "dependencies": ["ghost"]}}}`,
			`invalid step second: Invalid dependency, no step with that name: "ghost"`},
		{"BadState", `{"steps": {"first": {"action": {"type": "echo", "configuration": {}}, "state": "BOGUS"}}}`,
			`step "first": invalid state provided: "BOGUS" is not allowed`},
		{"UnknownStep", `{"steps": {"third": {"action": {"type": "echo", "configuration": {}}}}}`,
			"invalid step third: this resolution has no such step"},
		{"BadResolverInputs", `{"resolver_inputs": {"ri2": "x"}}`, "Failed to update resolution: Missing input 'ri1'"},
	} {
		resp := b.put(t, "admin", path, tc.body)
		require.Equal(t, http.StatusBadRequest, resp.status, tc.name)
		require.Equal(t, tc.msg, resp.errorMessage(t), tc.name)
	}

	require.Nil(t, b.stepRow(t, resID, "first"), "a refused edit writes nothing")

	resp = b.put(t, "admin", path, `{"steps": {"first": `+
		`{"action": {"type": "echo", "configuration": {}}, "custom_states": ["FIXED"], "state": "FIXED"}}}`)
	require.Equal(t, http.StatusNoContent, resp.status, "a custom state of the new definition: %s", resp.body)

	resp = b.put(t, "admin", path, `{"steps": {"first": `+editedFirst+`}, "resolver_inputs": {"ri1": "y"}}`)
	require.Equal(t, http.StatusNoContent, resp.status, "body: %s", resp.body)

	row := b.stepRow(t, resID, "first")
	require.NotNil(t, row)
	require.Equal(t, state.Todo, row.State)

	var def template.Step
	require.NoError(t, json.Unmarshal(row.Data.Definition, &def))
	require.Equal(t, "the first step, fixed", def.Description)
	require.JSONEq(t, `{"output": {"a": 5}}`, string(def.Action.Configuration))
	require.Nil(t, b.stepRow(t, resID, "second"), "steps not given are kept as they are")
	require.Equal(t, map[string]any{"ri1": "y", "ri2": "fallback"}, b.resolution(t, resID).ResolverInput)
	require.Equal(t, []string{"admin: manually updated resolution", "admin: manually updated resolution"},
		b.commentTexts(t, taskID))

	resp = b.put(t, "admin", "/resolution/"+unknownUUID, `{}`)
	require.Equal(t, http.StatusNotFound, resp.status)
}

func TestEditResolutionStep(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	taskID, resID := b.manualResolution(t)
	b.manualSteps(resID)
	path := "/resolution/" + resID + "/step/"

	resp := b.put(t, "owner", path+"first", editedFirst)
	require.Equal(t, http.StatusUnauthorized, resp.status, "administrators only")

	resp = b.put(t, "admin", path+"nope", editedFirst)
	require.Equal(t, http.StatusNotFound, resp.status)
	require.Equal(t, `given stepName "nope" for this resolution not found`, resp.errorMessage(t))

	resp = b.put(t, "admin", path+"first", editedFirst)
	require.Equal(t, http.StatusBadRequest, resp.status)
	require.Equal(t, "Cannot update a resolution which is not in state 'PAUSED'", resp.errorMessage(t))

	b.pause(t, resID)

	resp = b.put(t, "admin", path+"first", `{"action": {"type": "echo", "configuration": {}}, "state": "BOGUS"}`)
	require.Equal(t, http.StatusBadRequest, resp.status)
	require.Equal(t, `invalid state provided: "BOGUS" is not allowed`, resp.errorMessage(t))

	resp = b.put(t, "admin", path+"first", `{"action": {"type": "nope"}}`)
	require.Equal(t, http.StatusBadRequest, resp.status)
	require.Equal(t, "invalid step first: Invalid executor action: No runner for type 'nope'", resp.errorMessage(t))

	// A GET, edit, PUT round trip of a step keeps its dependencies.
	resp = b.put(t, "admin", path+"second", `{"description": "second, fixed", "dependencies": ["first"],
	  "action": {"type": "echo", "configuration": {"output": {"b": 3}}}, "state": "TODO", "output": {"b": 2}}`)
	require.Equal(t, http.StatusNoContent, resp.status, "body: %s", resp.body)

	row := b.stepRow(t, resID, "second")
	require.NotNil(t, row)
	require.Equal(t, map[string]any{"b": json.Number("2")}, row.Data.Output)

	var def template.Step
	require.NoError(t, json.Unmarshal(row.Data.Definition, &def))
	require.Equal(t, []string{"first"}, def.Dependencies)
	require.Empty(t, def.State, "the definition holds no engine field")
	require.Nil(t, def.Output)
	require.Equal(t, []string{"admin: manually updated resolution step second"}, b.commentTexts(t, taskID))
}

func TestStartOver(t *testing.T) {
	t.Parallel()

	startOver := func(b *bundle, user, taskID string) response {
		return b.post(t, user, "/resolution", `{"task_id": "`+taskID+`", "start_over": true, "resolver_inputs": {"ri1": "again"}}`)
	}

	t.Run("NeverResolved", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)
		id, _ := task["id"].(string)

		resp := startOver(b, "admin", id)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "can't start over a task that hasn't been resolved at least once", resp.errorMessage(t))
	})

	t.Run("ManagerWithoutTemplateFlag", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		taskID, resID := b.manualResolution(t)
		b.pause(t, resID)

		resp := startOver(b, "owner", taskID)
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, "You are not allowed to start over this task", resp.errorMessage(t))

		resp = startOver(b, "eve", taskID)
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, "You are not allowed to resolve this task", resp.errorMessage(t))
		require.Equal(t, resID, b.task(t, taskID).ResolutionPublicID)
	})

	for _, st := range []string{state.ResPaused, state.ResBlockedBadRequest, state.ResCancelled} {
		t.Run("AdminFrom"+st, func(t *testing.T) {
			t.Parallel()

			b := setup(t, options{})
			taskID, resID := b.manualResolution(t)
			b.upsertStep(t, resID, &store.Step{Name: "first", State: state.Done})
			b.changeResolution(t, resID, func(r *store.Resolution) { r.State = st })

			resp := startOver(b, "admin", taskID)
			require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

			fresh, _ := resp.object(t)["id"].(string)
			require.NotEqual(t, resID, fresh)
			require.Equal(t, fresh, b.task(t, taskID).ResolutionPublicID)
			require.Equal(t, "admin", b.resolution(t, fresh).ResolverUsername)
			require.Equal(t, map[string]any{"ri1": "again", "ri2": "fallback"}, b.resolution(t, fresh).ResolverInput)

			_, err := b.store.ResolutionGet(context.Background(), resID)
			require.ErrorIs(t, err, store.ErrNotFound, "the old resolution is deleted")
			require.Nil(t, b.stepRow(t, fresh, "first"), "the new resolution starts with no step state")
		})
	}

	for _, st := range []string{state.ResRunning, state.ResDone, state.ResBlockedFatal, state.ResAutorunning} {
		t.Run("AdminRefusedFrom"+st, func(t *testing.T) {
			t.Parallel()

			b := setup(t, options{})
			taskID, resID := b.manualResolution(t)
			b.changeResolution(t, resID, func(r *store.Resolution) { r.State = st })

			resp := startOver(b, "admin", taskID)
			require.Equal(t, http.StatusBadRequest, resp.status)
			require.Equal(t, `can't start over a task that isn't in status "PAUSED", "BLOCKED_BADREQUEST" or "CANCELLED"`,
				resp.errorMessage(t))
			require.Equal(t, resID, b.task(t, taskID).ResolutionPublicID)
		})
	}
}

// upsertStep writes a step row of a resolution, as the engine would.
func (b *bundle) upsertStep(t *testing.T, resolutionID string, st *store.Step) {
	t.Helper()

	ctx := context.Background()
	tx, err := b.store.Begin(ctx)
	require.NoError(t, err)

	defer func() { _ = tx.Rollback(ctx) }()

	r, err := tx.ResolutionLock(ctx, resolutionID)
	require.NoError(t, err)
	require.NoError(t, tx.StepUpsert(ctx, r, []*store.Step{st}))
	require.NoError(t, tx.Commit(ctx))
}
