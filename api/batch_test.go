package api_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// batchTasks lists, as admin, the tasks of batch id.
func (b *bundle) batchTasks(t *testing.T, id string) []map[string]any {
	t.Helper()

	resp := b.get(t, "admin", "/task?type=all&batch="+id)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

	var tasks []map[string]any
	resp.json(t, &tasks)

	return tasks
}

func TestCreateBatch(t *testing.T) {
	t.Parallel()

	t.Run("CreatesOneTaskPerInputInTheBatch", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		resp := b.post(t, "bob", "/batch", `{"template_name": "greet",
			"inputs": [{"name": "ada"}, {"name": "bob"}, {"name": "cy"}],
			"common_input": {"color": "red"}, "watcher_usernames": ["walt"], "tags": {"k": "v"},
			"comment": "made in a batch"}`)
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

		batchID, _ := resp.object(t)["id"].(string)
		_, err := uuid.Parse(batchID)
		require.NoError(t, err)

		other := b.post(t, "bob", "/batch", `{"template_name": "greet", "inputs": [{"name": "dan"}]}`)
		require.Equal(t, http.StatusCreated, other.status, "body: %s", other.body)

		tasks := b.batchTasks(t, batchID)
		require.Len(t, tasks, 3)

		titles := map[string]bool{}
		for _, task := range tasks {
			require.Equal(t, batchID, task["batch"])
			require.Equal(t, "bob", task["requester_username"])
			require.Equal(t, []any{"walt"}, task["watcher_usernames"])
			require.Equal(t, "v", task["tags"].(map[string]any)["k"])
			titles[task["title"].(string)] = true

			id, _ := task["id"].(string)
			full := b.get(t, "bob", "/task/"+id).object(t)
			require.Equal(t, batchID, full["batch"])
			require.Equal(t, "red", full["input"].(map[string]any)["color"])
			require.NotEmpty(t, full["resolution"], "greet runs by itself")
			require.Len(t, full["comments"], 1)
		}

		require.Equal(t, map[string]bool{"Hello ada x3": true, "Hello bob x3": true, "Hello cy x3": true}, titles)

		launched, _, _ := b.runner.calls()
		require.Len(t, launched, 4)
	})

	t.Run("RollsBackEverythingOnOneBadTask", func(t *testing.T) {
		t.Parallel()

		for name, body := range map[string]string{
			"ConflictingKeys": `{"template_name": "greet", "inputs": [{"name": "ada"}, {"name": "bob", "color": "blue"}],
				"common_input": {"color": "red"}}`,
			"InvalidInput": `{"template_name": "greet", "inputs": [{"name": "ada"}, {"name": "NOT-LOWER"}]}`,
			"ReservedTag": `{"template_name": "greet", "inputs": [{"name": "ada"}],
				"tags": {"_utask_parent_task_id": "x"}}`,
			"BlockedTemplate": `{"template_name": "blocked", "inputs": [{}]}`,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()

				b := setup(t, options{})
				resp := b.post(t, "bob", "/batch", body)
				require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
				require.Empty(t, b.allTasks(t))

				launched, _, _ := b.runner.calls()
				require.Empty(t, launched)
			})
		}

		b := setup(t, options{})
		resp := b.post(t, "bob", "/batch", `{"template_name": "greet", "inputs": [{"name": "ada"}, {"name": "x", "color": "red"}],
			"common_input": {"color": "blue"}}`)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "Conflicting keys in input maps", resp.errorMessage(t))
	})

	t.Run("UnknownTemplate", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		resp := b.post(t, "bob", "/batch", `{"template_name": "nope", "inputs": [{}]}`)
		require.Equal(t, http.StatusNotFound, resp.status, "body: %s", resp.body)
	})

	t.Run("EmptyInputsMakeAnEmptyBatch", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		resp := b.post(t, "bob", "/batch", `{"template_name": "greet", "inputs": []}`)
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

		batchID, _ := resp.object(t)["id"].(string)
		require.Empty(t, b.batchTasks(t, batchID))
	})

	t.Run("RefusedInMaintenance", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{maintenance: true})
		resp := b.post(t, "bob", "/batch", `{"template_name": "greet", "inputs": [{"name": "ada"}]}`)
		require.Equal(t, http.StatusMethodNotAllowed, resp.status)
		require.Empty(t, b.allTasks(t))
	})
}

func TestListTasksOfBatch(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})

	t.Run("UnknownBatch", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "admin", "/task?batch="+uuid.NewString())
		require.Equal(t, http.StatusNotFound, resp.status, "body: %s", resp.body)
	})

	t.Run("NotAUUID", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "admin", "/task?batch=nope")
		require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
	})

	t.Run("VisibilityStillApplies", func(t *testing.T) {
		t.Parallel()

		resp := b.post(t, "bob", "/batch", `{"template_name": "greet", "inputs": [{"name": "ada"}, {"name": "bob"}]}`)
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)
		batchID, _ := resp.object(t)["id"].(string)

		own := b.get(t, "bob", "/task?batch="+batchID)
		require.Equal(t, http.StatusOK, own.status)

		var tasks []map[string]any
		own.json(t, &tasks)
		require.Len(t, tasks, 2)

		eve := b.get(t, "eve", "/task?batch="+batchID)
		require.Equal(t, http.StatusOK, eve.status)
		tasks = nil
		eve.json(t, &tasks)
		require.Empty(t, tasks)
	})

	t.Run("TasksWithoutBatchHaveNoBatchField", func(t *testing.T) {
		t.Parallel()

		task := b.createTask(t, "carl", `{"template_name": "greet", "input": {"name": "carl"}}`)
		require.NotContains(t, task, "batch")
	})
}

// A task made by POST /batch is audited under the operation of that route,
// BatchCreateTask (service.OpBatchCreateTask), not under CreateTask: the
// audit trail says which API operation made the task.
func TestBatchTasksAreAuditedAsBatchCreateTask(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	resp := b.post(t, "bob", "/batch", `{"template_name": "manual", "inputs": [{"why": "one"}]}`)
	require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

	batchID, _ := resp.object(t)["id"].(string)
	tasks := b.batchTasks(t, batchID)
	require.Len(t, tasks, 1)

	taskID, _ := tasks[0]["id"].(string)
	entries := b.trail(t, "bob", taskID)
	require.NotEmpty(t, entries)
	require.Equal(t, "BatchCreateTask", entries[0].Operation)
}

// POST /batch names a template that must exist, whatever the number of
// inputs: as in µTask, the template is looked up before anything is
// created (404), even for an empty list of inputs.
func TestBatchOfAnUnknownTemplateIsNotFoundWithoutInputs(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})

	unknown := b.post(t, "bob", "/batch", `{"template_name": "no-such-template", "inputs": []}`)
	require.Equal(t, http.StatusNotFound, unknown.status, "body: %s", unknown.body)
}
