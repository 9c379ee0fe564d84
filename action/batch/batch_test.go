package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/batch"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeTasks keeps batches in memory: each child has a state the test sets.
type fakeTasks struct {
	mu        sync.Mutex
	batches   map[string][]string // child states, by batch
	requests  []batch.PopulateRequest
	extended  map[string]string // step name, by resolution
	failNext  error
	countFail error
}

func newFakeTasks() *fakeTasks {
	return &fakeTasks{batches: map[string][]string{}, extended: map[string]string{}}
}

func (f *fakeTasks) PopulateBatch(_ context.Context, req batch.PopulateRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failNext; err != nil {
		f.failNext = nil
		return err
	}
	_, exists := f.batches[req.BatchID]
	if req.CreateBatch == exists {
		return fmt.Errorf("create %v, but exists %v", req.CreateBatch, exists)
	}
	for range req.Inputs {
		f.batches[req.BatchID] = append(f.batches[req.BatchID], "TODO")
	}
	f.requests = append(f.requests, req)
	return nil
}

func (f *fakeTasks) RunningTasks(_ context.Context, id string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.countFail != nil {
		return 0, f.countFail
	}
	states, ok := f.batches[id]
	if !ok {
		return 0, fmt.Errorf("count: %w", batch.ErrBatchNotFound)
	}
	n := 0
	for _, s := range states {
		switch s {
		case "DONE", "CANCELLED", "WONTFIX":
		default:
			n++
		}
	}
	return n, nil
}

func (f *fakeTasks) ExtendRunMax(_ context.Context, resolutionID, stepName string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extended[resolutionID] = stepName
	return nil
}

// finish sets the state of the children of batch id from first to last.
func (f *fakeTasks) finish(id string, first, last int, st string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := first; i <= last; i++ {
		f.batches[id][i] = st
	}
}

// runner runs the action as the engine would: the context rendered from
// the previous run's metadata.
type runner struct {
	a    action.Action
	meta any
}

func (r *runner) run(t *testing.T, config string) action.Result {
	t.Helper()
	ctx := map[string]any{
		"parent_task_id": "parent-1", "requester_username": "alice", "requester_groups": "g1,g2",
		"resolution_id": "res-1", "step_name": "fleet", "metadata": "",
	}
	if s, ok := r.meta.(string); ok {
		ctx["metadata"] = s
	}
	res := r.a.Run(context.Background(), action.Request{StepName: "fleet", Config: json.RawMessage(config), Context: ctx})
	r.meta = res.Metadata
	return res
}

func metadata(t *testing.T, res action.Result) batch.Metadata {
	t.Helper()
	s, ok := res.Metadata.(string)
	require.True(t, ok, "metadata is a string: %#v", res.Metadata)
	m, err := batch.DecodeMetadata(s)
	require.NoError(t, err)
	require.NotNil(t, m)
	return *m
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()
	a := batch.New(newFakeTasks())
	v, ok := a.(interface {
		ValidateConfigWithTemplates(base, config json.RawMessage, templates map[string]bool) error
	})
	require.True(t, ok)
	for name, c := range map[string]struct {
		config string
		err    string
	}{
		"Minimal":          {config: `{"template_name": "child"}`},
		"Templated":        {config: `{"template_name": "{{ .input.t }}"}`},
		"NoConfiguration":  {config: ``, err: "EOF"},
		"NoTemplate":       {config: `{"inputs": []}`, err: "missing template_name"},
		"UnknownTemplate":  {config: `{"template_name": "nope"}`, err: `template "nope" not found`},
		"ReservedTag":      {config: `{"template_name": "child", "tags": {"_utask_parent_task_id": "x"}}`, err: "not allowed"},
		"UnquotedSize":     {config: `{"template_name": "child", "sub_batch_size": 5}`, err: "unmarshal"},
		"WatchersAreLists": {config: `{"template_name": "child", "watcher_usernames": "[\"a\"]"}`, err: "unmarshal"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := v.ValidateConfigWithTemplates(nil, json.RawMessage(c.config), map[string]bool{"child": true})
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.err)
		})
	}
	require.NoError(t, a.ValidateConfig(nil, json.RawMessage(`{"template_name": "nope"}`)),
		"without the known templates, any name goes")
}

func TestMetadataForm(t *testing.T) {
	t.Parallel()
	s := batch.EncodeMetadata(batch.Metadata{BatchID: "b-1", RemainingTasks: 3, TasksStarted: 2})
	require.Equal(t, `{\"batch_id\":\"b-1\",\"remaining_tasks\":3,\"tasks_started\":2}`, s)
	m, err := batch.DecodeMetadata(s)
	require.NoError(t, err)
	require.Equal(t, &batch.Metadata{BatchID: "b-1", RemainingTasks: 3, TasksStarted: 2}, m)

	m, err = batch.DecodeMetadata("")
	require.NoError(t, err)
	require.Nil(t, m)

	_, err = batch.DecodeMetadata(`{\"batch_id\":`)
	require.Error(t, err)
}

func TestRunInWaves(t *testing.T) {
	t.Parallel()
	tasks := newFakeTasks()
	r := &runner{a: batch.New(tasks)}
	const config = `{"template_name": "child", "inputs": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}],
		"common_inputs": {"reason": "maintenance"}, "sub_batch_size": "2", "comment": "from a batch",
		"watcher_usernames": ["walt"], "watcher_groups": ["ops"], "tags": {"origin": "fleet"},
		"resolver_usernames": "[\"ignored\"]"}`

	res := r.run(t, config)
	require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
	require.Nil(t, res.Output)
	m := metadata(t, res)
	require.Equal(t, fmt.Sprintf("tasks from batch %q will start shortly", m.BatchID), res.Err.Error())
	require.Equal(t, batch.Metadata{BatchID: m.BatchID, RemainingTasks: 5, TasksStarted: 2}, m)
	require.Len(t, tasks.requests, 1)
	first := tasks.requests[0]
	require.True(t, first.CreateBatch)
	require.Equal(t, batch.PopulateRequest{
		BatchID: m.BatchID, CreateBatch: true, ParentTaskID: "parent-1", Template: "child",
		Inputs: []map[string]any{
			{"n": float64(1), "reason": "maintenance"}, {"n": float64(2), "reason": "maintenance"},
		},
		Comment: "from a batch", RequesterUsername: "alice", RequesterGroups: []string{"g1", "g2"},
		WatcherUsernames: []string{"walt"}, WatcherGroups: []string{"ops"}, Tags: map[string]string{"origin": "fleet"},
	}, first)

	// Woken while one child of the wave runs: one more may start.
	tasks.finish(m.BatchID, 0, 0, "DONE")
	res = r.run(t, config)
	require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
	require.Equal(t, fmt.Sprintf("batch %q is currently RUNNING", m.BatchID), res.Err.Error())
	require.Equal(t, batch.Metadata{BatchID: m.BatchID, RemainingTasks: 4, TasksStarted: 3}, metadata(t, res))
	require.False(t, tasks.requests[1].CreateBatch)
	require.Equal(t, []map[string]any{{"n": float64(3), "reason": "maintenance"}}, tasks.requests[1].Inputs)

	// Nothing finished: nothing starts.
	res = r.run(t, config)
	require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
	require.Len(t, tasks.requests, 2)

	// A cancelled child is finished too; a blocked one is not.
	tasks.finish(m.BatchID, 1, 2, "CANCELLED")
	res = r.run(t, config)
	require.Equal(t, batch.Metadata{BatchID: m.BatchID, RemainingTasks: 2, TasksStarted: 5}, metadata(t, res))
	tasks.finish(m.BatchID, 3, 3, "WONTFIX")
	tasks.finish(m.BatchID, 4, 4, "BLOCKED")
	res = r.run(t, config)
	require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
	require.Equal(t, batch.Metadata{BatchID: m.BatchID, RemainingTasks: 1, TasksStarted: 5}, metadata(t, res))
	require.Empty(t, tasks.extended)

	tasks.finish(m.BatchID, 4, 4, "DONE")
	res = r.run(t, config)
	require.NoError(t, res.Err)
	require.Nil(t, res.Output)
	require.Equal(t, batch.Metadata{BatchID: m.BatchID, RemainingTasks: 0, TasksStarted: 5}, metadata(t, res))
	require.Equal(t, map[string]string{"res-1": "fleet"}, tasks.extended, "the run limit is extended")
	require.Len(t, tasks.requests, 3)
}

func TestRunAllAtOnce(t *testing.T) {
	t.Parallel()
	tasks := newFakeTasks()
	r := &runner{a: batch.New(tasks)}
	const config = `{"template_name": "child", "json_inputs": "[{\"big\": 12345678901234567890}, {}, {}]"}`
	res := r.run(t, config)
	m := metadata(t, res)
	require.Equal(t, batch.Metadata{BatchID: m.BatchID, RemainingTasks: 3, TasksStarted: 3}, m)
	require.Equal(t, json.Number("12345678901234567890"), tasks.requests[0].Inputs[0]["big"], "numbers stay exact")

	tasks.finish(m.BatchID, 0, 2, "DONE")
	res = r.run(t, config)
	require.NoError(t, res.Err)
}

func TestRunInputs(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		config string
		inputs []map[string]any
		err    string
	}{
		"JSONOverInputs": {
			config: `{"template_name": "c", "inputs": [{"a": "1", "b": "x"}], "json_inputs": "[{\"b\": \"y\"}, {\"a\": \"2\"}]"}`,
			inputs: []map[string]any{{"a": "1", "b": "y"}, {"a": "2"}},
		},
		"CommonJSONOverCommon": {
			config: `{"template_name": "c", "inputs": [{"a": "1"}], "common_inputs": {"c": "x", "d": "d"},
				"common_json_inputs": "{\"c\": \"y\"}"}`,
			inputs: []map[string]any{{"a": "1", "c": "y", "d": "d"}},
		},
		"ConflictingKeys": {
			config: `{"template_name": "c", "inputs": [{"a": "1"}, {"c": "2"}], "common_inputs": {"c": "x"}}`,
			err:    "Conflicting keys in input maps",
		},
		"ConflictWithCommonJSON": {
			config: `{"template_name": "c", "inputs": [{"c": "1"}], "common_json_inputs": "{\"c\": 1}"}`,
			err:    "Conflicting keys in input maps",
		},
		"InvalidJSONInputs": {
			config: `{"template_name": "c", "json_inputs": "[{"}`, err: "decode json_inputs",
		},
		"InvalidCommonJSONInputs": {
			config: `{"template_name": "c", "inputs": [{}], "common_json_inputs": "[1]"}`, err: "decode common_json_inputs",
		},
		"SubBatchSizeNotANumber": {
			config: `{"template_name": "c", "inputs": [{}], "sub_batch_size": "many"}`, err: "sub_batch_size",
		},
		"NegativeSubBatchSize": {
			config: `{"template_name": "c", "inputs": [{}], "sub_batch_size": "-1"}`, err: "sub_batch_size",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tasks := newFakeTasks()
			res := (&runner{a: batch.New(tasks)}).run(t, c.config)
			if c.err != "" {
				require.Equal(t, action.KindClient, action.KindOf(res.Err), "%v", res.Err)
				require.ErrorContains(t, res.Err, c.err)
				require.Empty(t, tasks.requests, "nothing is created")
				return
			}
			require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
			require.Equal(t, c.inputs, tasks.requests[0].Inputs)
		})
	}
}

func TestRunEmpty(t *testing.T) {
	t.Parallel()
	tasks := newFakeTasks()
	for _, config := range []string{`{"template_name": "c"}`, `{"template_name": "c", "json_inputs": "[]", "inputs": []}`} {
		res := (&runner{a: batch.New(tasks)}).run(t, config)
		require.NoError(t, res.Err)
		require.Nil(t, res.Output)
		require.Equal(t, map[string]any{"batch_id": "", "remaining_tasks": 0, "tasks_started": 0}, res.Metadata)
	}
	require.Empty(t, tasks.requests)
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	const config = `{"template_name": "c", "inputs": [{}, {}, {}], "sub_batch_size": "1"}`

	t.Run("FirstWaveFailsStartsOver", func(t *testing.T) {
		t.Parallel()
		tasks := newFakeTasks()
		tasks.failNext = errors.New("database down")
		r := &runner{a: batch.New(tasks)}
		res := r.run(t, config)
		require.Equal(t, action.KindServer, action.KindOf(res.Err))
		require.ErrorContains(t, res.Err, "database down")
		require.Nil(t, res.Metadata, "no progress: the next run starts over")

		res = r.run(t, config)
		require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
		require.Len(t, tasks.requests, 1)
		require.True(t, tasks.requests[0].CreateBatch)
	})

	t.Run("LaterFailureKeepsProgress", func(t *testing.T) {
		t.Parallel()
		tasks := newFakeTasks()
		r := &runner{a: batch.New(tasks)}
		res := r.run(t, config)
		before := res.Metadata
		m := metadata(t, res)
		tasks.finish(m.BatchID, 0, 0, "DONE")

		tasks.failNext = errors.New("template gone")
		res = r.run(t, config)
		require.Equal(t, action.KindServer, action.KindOf(res.Err))
		require.Equal(t, before, res.Metadata)

		tasks.countFail = errors.New("database down")
		res = r.run(t, config)
		require.Equal(t, action.KindServer, action.KindOf(res.Err))
		require.Equal(t, before, res.Metadata)
	})

	t.Run("InvalidMetadata", func(t *testing.T) {
		t.Parallel()
		r := &runner{a: batch.New(newFakeTasks()), meta: `{\"batch_id\": 12`}
		res := r.run(t, config)
		require.Equal(t, action.KindClient, action.KindOf(res.Err))
		require.Equal(t, `{\"batch_id\": 12`, res.Metadata)
	})
}

func TestRunBatchCollected(t *testing.T) {
	t.Parallel()
	const config = `{"template_name": "c", "inputs": [{}, {}, {}], "sub_batch_size": "2"}`

	t.Run("AllStartedIsDone", func(t *testing.T) {
		t.Parallel()
		tasks := newFakeTasks()
		meta := batch.EncodeMetadata(batch.Metadata{BatchID: "gone", RemainingTasks: 1, TasksStarted: 3})
		res := (&runner{a: batch.New(tasks), meta: meta}).run(t, config)
		require.NoError(t, res.Err)
		require.Equal(t, batch.Metadata{BatchID: "gone", TasksStarted: 3}, metadata(t, res))
	})

	t.Run("NotAllStartedRecreatesIt", func(t *testing.T) {
		t.Parallel()
		tasks := newFakeTasks()
		meta := batch.EncodeMetadata(batch.Metadata{BatchID: "gone", RemainingTasks: 3, TasksStarted: 1})
		res := (&runner{a: batch.New(tasks), meta: meta}).run(t, config)
		require.Equal(t, action.KindWaiting, action.KindOf(res.Err))
		require.Equal(t, batch.Metadata{BatchID: "gone", RemainingTasks: 2, TasksStarted: 3}, metadata(t, res))
		require.Len(t, tasks.requests, 1)
		require.True(t, tasks.requests[0].CreateBatch)
		require.Equal(t, "gone", tasks.requests[0].BatchID)
		require.Len(t, tasks.requests[0].Inputs, 2)
	})
}

func TestContext(t *testing.T) {
	t.Parallel()
	c, ok := batch.New(newFakeTasks()).(action.Contexter)
	require.True(t, ok)
	ctx := c.Context("fleet")
	require.Equal(t, "fleet", ctx["step_name"])
	require.Contains(t, ctx["metadata"], `index .step "fleet"`)
	require.Contains(t, ctx, "parent_task_id")
	require.Contains(t, ctx, "requester_username")
	require.Contains(t, ctx, "requester_groups")
	require.Contains(t, ctx, "resolution_id")
}
