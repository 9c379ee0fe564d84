package callback_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/callback"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memStore keeps callbacks in memory.
type memStore struct {
	mu        sync.Mutex
	callbacks map[string]*callback.Callback
	schemas   map[string][]byte
	tasks     map[string]string // task id, by callback id
	fail      error
	n         int
}

func newMemStore() *memStore {
	return &memStore{callbacks: map[string]*callback.Callback{}, schemas: map[string][]byte{}, tasks: map[string]string{}}
}

func (m *memStore) CreateCallback(_ context.Context, taskID string, schema []byte) (*callback.Callback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	m.n++
	cb := &callback.Callback{ID: fmt.Sprintf("cb-%d", m.n), Secret: fmt.Sprintf("secret-%d", m.n)}
	m.callbacks[cb.ID], m.schemas[cb.ID], m.tasks[cb.ID] = cb, schema, taskID
	return cb, nil
}

func (m *memStore) Callback(_ context.Context, id string) (*callback.Callback, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cb, ok := m.callbacks[id]
	if !ok {
		return nil, errors.New("callback not found")
	}
	out := *cb
	return &out, nil
}

func (m *memStore) call(id string, at time.Time, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.callbacks[id].Called, m.callbacks[id].Body = &at, []byte(body)
}

func run(a action.Action, config string) action.Result {
	return a.Run(context.Background(), action.Request{
		StepName: "open", Config: json.RawMessage(config),
		Context: map[string]any{"step": "open", "task_id": "task-1", "requester_username": "alice"},
	})
}

func TestURLs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		base, prefix, want string
	}{
		{"https://tasks.example.org/", "", "https://tasks.example.org/unsecured/callback/ID?t=TOKEN"},
		{"https://tasks.example.org", "hooks/", "https://tasks.example.org/hooks/ID?t=TOKEN"},
		{"https://tasks.example.org", "/", "https://tasks.example.org/ID?t=TOKEN"},
		{"https://tasks.example.org", "/a/b/", "https://tasks.example.org/a/b/ID?t=TOKEN"},
		{"http://127.0.0.1:8081", "", "http://127.0.0.1:8081/unsecured/callback/ID?t=TOKEN"},
	} {
		require.Equal(t, c.want, callback.URLs{BaseURL: c.base, PathPrefix: c.prefix}.URL("ID", "TOKEN"), "%+v", c)
	}
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()
	a := callback.New(newMemStore(), callback.URLs{})
	for name, c := range map[string]struct {
		config, err string
	}{
		"Create":          {config: `{"action": "create"}`},
		"CreateUpperCase": {config: `{"action": "CREATE", "schema": "{}"}`},
		"Wait":            {config: `{"action": "wait", "id": "{{ .step.open.output.id }}"}`},
		"WaitWithoutID":   {config: `{"action": "wait"}`, err: "id is required"},
		"UnknownAction":   {config: `{"action": "poll"}`, err: `unknown action "poll"`},
		"NoAction":        {config: `{}`, err: "unknown action"},
		"NoConfiguration": {config: ``, err: "EOF"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := a.ValidateConfig(nil, json.RawMessage(c.config))
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.err)
		})
	}
}

func TestCreateAndWait(t *testing.T) {
	t.Parallel()
	store := newMemStore()
	a := callback.New(store, callback.URLs{BaseURL: "https://tasks.example.org"})

	res := run(a, `{"action": "Create", "schema": "{\"type\": \"object\", \"version\": 4}"}`)
	require.NoError(t, res.Err)
	require.Equal(t, map[string]any{
		"id":     "cb-1",
		"token":  "secret-1",
		"url":    "https://tasks.example.org/unsecured/callback/cb-1?t=secret-1",
		"schema": map[string]any{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"},
	}, res.Output)
	require.Equal(t, "task-1", store.tasks["cb-1"])
	require.JSONEq(t, `{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}`, string(store.schemas["cb-1"]))

	// Not idempotent: a second run makes a second callback, without schema.
	res = run(a, `{"action": "create"}`)
	require.NoError(t, res.Err)
	out, _ := res.Output.(map[string]any)
	require.Equal(t, "cb-2", out["id"])
	require.Nil(t, out["schema"])
	require.Nil(t, store.schemas["cb-2"])

	res = run(a, `{"action": "wait", "id": "cb-1"}`)
	require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
	require.EqualError(t, res.Err, "task is waiting for a callback")

	at := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	store.call("cb-1", at, `{"approved": true, "n": 12345678901234567890}`)
	res = run(a, `{"action": "wait", "id": "cb-1"}`)
	require.NoError(t, res.Err)
	require.Equal(t, map[string]any{
		"id":   "cb-1",
		"date": "2026-05-06T07:08:09.00000001Z",
		"body": map[string]any{"approved": true, "n": json.Number("12345678901234567890")},
	}, res.Output)

	store.call("cb-2", at, `null`)
	res = run(a, `{"action": "wait", "id": "cb-2"}`)
	require.NoError(t, res.Err)
	require.Nil(t, res.Output.(map[string]any)["body"])
}

func TestFailures(t *testing.T) {
	t.Parallel()
	store := newMemStore()
	a := callback.New(store, callback.URLs{BaseURL: "https://tasks.example.org"})

	for name, schema := range map[string]string{
		"NotJSON":        `{"type": `,
		"NotAnObject":    `[1]`,
		"InvalidKeyword": `{"type": 12}`,
		"RemoteRef":      `{"$ref": "https://example.org/schema.json"}`,
	} {
		res := run(a, fmt.Sprintf(`{"action": "create", "schema": %q}`, schema))
		require.Equal(t, action.KindClient, action.KindOf(res.Err), "%s: %v", name, res.Err)
	}
	require.Empty(t, store.callbacks, "no callback for an unusable schema")

	res := run(a, `{"action": "wait", "id": "unknown"}`)
	require.Equal(t, action.KindServer, action.KindOf(res.Err))

	store.fail = errors.New("database down")
	res = run(a, `{"action": "create"}`)
	require.Equal(t, action.KindServer, action.KindOf(res.Err))
	require.ErrorContains(t, res.Err, "database down")
}

func TestValidateBody(t *testing.T) {
	t.Parallel()
	schema, err := callback.NormalizeSchema(`{"type": "object", "required": ["approved"],
		"properties": {"approved": {"type": "boolean"}, "n": {"type": "integer", "maximum": 10}}}`)
	require.NoError(t, err)
	for body, ok := range map[string]bool{
		`{"approved": true}`:           true,
		`{"approved": false, "n": 3}`:  true,
		`{"approved": "yes"}`:          false,
		`{}`:                           false,
		`null`:                         false,
		`{"approved": true, "n": 11}`:  false,
		`{"approved": true, "n": 1.5}`: false,
	} {
		err := callback.ValidateBody(schema, []byte(body))
		if ok {
			require.NoError(t, err, body)
		} else {
			require.Error(t, err, body)
		}
	}
}
