package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// insertCallback stores a callback of a task and its resolution, as the
// callback action does, and returns its id and token.
func (b *bundle) insertCallback(t *testing.T, taskID, resolutionID, schema string) (id, token string) {
	t.Helper()

	ctx := context.Background()
	cb := &store.Callback{
		PublicID:     uuid.NewString(),
		TaskID:       b.task(t, taskID).ID,
		ResolutionID: b.resolution(t, resolutionID).ID,
		Created:      b.clock.Now(),
		Updated:      b.clock.Now(),
		Secret:       uuid.NewString(),
	}
	if schema != "" {
		cb.Schema = []byte(schema)
	}

	tx, err := b.store.Begin(ctx)
	require.NoError(t, err)

	defer func() { _ = tx.Rollback(ctx) }()

	require.NoError(t, tx.CallbackInsert(ctx, cb))
	require.NoError(t, tx.Commit(ctx))

	return cb.PublicID, cb.Secret
}

// waitingCallback makes a task waiting for a callback with schema (none
// when "") and returns the callback's id and token.
func (b *bundle) waitingCallback(t *testing.T, schema string) (id, token, resolutionID string) {
	t.Helper()

	taskID, resolutionID := b.manualResolution(t)
	b.setTaskState(t, taskID, state.TaskWaiting)
	id, token = b.insertCallback(t, taskID, resolutionID, schema)

	return id, token, resolutionID
}

func TestHandleCallback(t *testing.T) {
	t.Parallel()

	const schema = `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
		"required": ["approved"], "properties": {"approved": {"type": "boolean"}}}`

	call := func(b *bundle, id, token, body string) response {
		path := "/unsecured/callback/" + id
		if token != "" {
			path += "?t=" + token
		}

		return b.do(t, request{method: http.MethodPost, path: path, body: body})
	}

	t.Run("ResolvesOnceAndRunsTheResolution", func(t *testing.T) {
		t.Parallel()

		// The route needs no credentials, even where every other one does.
		b := setup(t, options{basicAuth: map[string]string{"admin": "pw"}})
		taskID, resolutionID := b.storedWaitingTask(t)
		id, token := b.insertCallback(t, taskID, resolutionID, schema)

		resp := call(b, id, token, `{"approved": true, "n": 12345678901234567890}`)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		require.Equal(t, map[string]any{"message": "The callback has been resolved"}, resp.object(t))

		stored, err := b.store.CallbackGet(context.Background(), id)
		require.NoError(t, err)
		require.NotNil(t, stored.Called)
		require.JSONEq(t, `{"approved": true, "n": 12345678901234567890}`, string(stored.Body))

		_, ranNow, _ := b.runner.calls()
		require.Equal(t, []string{resolutionID}, ranNow)

		again := call(b, id, token, `{"approved": false}`)
		require.Equal(t, http.StatusBadRequest, again.status)
		require.Equal(t, "callback has already been resolved", again.errorMessage(t))
	})

	t.Run("YAMLBody", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		id, token, _ := b.waitingCallback(t, schema)

		resp := call(b, id, token, "approved: true\n")
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
	})

	t.Run("NoBodyIsNull", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		id, token, _ := b.waitingCallback(t, "")

		resp := call(b, id, token, "")
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

		stored, err := b.store.CallbackGet(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, "null", string(stored.Body))
	})

	t.Run("WrongTokenIsUnknownID", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		id, token, _ := b.waitingCallback(t, "")

		wrong := call(b, id, uuid.NewString(), `{}`)
		unknown := call(b, uuid.NewString(), token, `{}`)
		prefix := call(b, id, token[:len(token)-1], `{}`)

		for _, resp := range []response{wrong, unknown, prefix} {
			require.Equal(t, http.StatusNotFound, resp.status)
			require.Equal(t, wrong.body, resp.body)
		}

		require.Equal(t, "failed to load callback from public id: callback not found", wrong.errorMessage(t))

		stored, err := b.store.CallbackGet(context.Background(), id)
		require.NoError(t, err)
		require.Nil(t, stored.Called)
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		id, token, _ := b.waitingCallback(t, schema)

		for name, c := range map[string]struct {
			id, token, body string
			status          int
			message         string
		}{
			"BodyNotAnObject":  {id, token, `[1, 2]`, http.StatusBadRequest, "binding error"},
			"YAMLScalarBody":   {id, token, "just text", http.StatusBadRequest, "binding error"},
			"MalformedJSON":    {id, token, `{"approved": `, http.StatusBadRequest, "binding error"},
			"MissingToken":     {id, "", `{"approved": true}`, http.StatusBadRequest, "binding error"},
			"IDNotAUUID":       {"nope", token, `{"approved": true}`, http.StatusBadRequest, "invalid input syntax"},
			"SchemaViolation":  {id, token, `{"approved": "yes"}`, http.StatusBadRequest, "unable to validate body"},
			"SchemaNeedsABody": {id, token, ``, http.StatusBadRequest, "unable to validate body"},
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()

				resp := call(b, c.id, c.token, c.body)
				require.Equal(t, c.status, resp.status, "body: %s", resp.body)
				require.Contains(t, resp.errorMessage(t), c.message)
			})
		}
	})

	t.Run("TaskInAnotherState", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		id, token, _ := b.waitingCallback(t, "")

		stored, err := b.store.CallbackGet(context.Background(), id)
		require.NoError(t, err)
		b.setTaskState(t, stored.TaskPublicID, state.TaskDone)

		resp := call(b, id, token, `{}`)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "related task is not in a valid state: DONE", resp.errorMessage(t))
	})

	t.Run("RefusedInMaintenance", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{maintenance: true})
		taskID, resolutionID := b.storedWaitingTask(t)
		id, token := b.insertCallback(t, taskID, resolutionID, "")

		resp := call(b, id, token, `{}`)
		require.Equal(t, http.StatusMethodNotAllowed, resp.status)

		stored, err := b.store.CallbackGet(context.Background(), id)
		require.NoError(t, err)
		require.Nil(t, stored.Called)
	})

	t.Run("TooLargeBody", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{maxBodyBytes: 1024})
		id, token, _ := b.waitingCallback(t, "")

		resp := call(b, id, token, `{"a": "`+strings.Repeat("x", 2048)+`"}`)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Contains(t, resp.errorMessage(t), "request body too large")
	})
}

// storedWaitingTask stores a WAITING task and its resolution directly, for
// a server that refuses to create them (maintenance mode, basic
// authentication).
func (b *bundle) storedWaitingTask(t *testing.T) (taskID, resolutionID string) {
	t.Helper()

	ctx := context.Background()
	version, err := b.store.TemplateVersionPut(ctx, "fixture", []byte(`{"name": "fixture"}`))
	require.NoError(t, err)

	now := b.clock.Now()
	task := &store.Task{
		PublicID: uuid.NewString(), TemplateName: "fixture", TemplateVersion: version, Title: "fixture",
		Created: now, LastActivity: now, State: state.TaskWaiting,
	}
	res := &store.Resolution{PublicID: uuid.NewString(), State: state.ResWaiting, Created: now, RunMax: 1}

	tx, err := b.store.Begin(ctx)
	require.NoError(t, err)

	defer func() { _ = tx.Rollback(ctx) }()

	require.NoError(t, tx.TaskInsert(ctx, task))
	res.TaskID = task.ID
	require.NoError(t, tx.ResolutionInsert(ctx, res))
	require.NoError(t, tx.Commit(ctx))

	return task.PublicID, res.PublicID
}
