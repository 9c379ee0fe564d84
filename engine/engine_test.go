package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/echo"
	httpaction "github.com/utask/utask/action/http"
	"github.com/utask/utask/engine"
	"github.com/utask/utask/resource"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/sqlite"
	"github.com/utask/utask/store/storetest"
	"github.com/utask/utask/template"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type testBundle struct {
	db      store.Store
	engine  *engine.Engine
	catalog *template.Catalog
	clock   *clock
}

func setup(t testing.TB, opts ...func(*engine.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlite.Open(ctx, sqlite.Config{
		Path:   filepath.Join(t.TempDir(), "utask.db"),
		Sealer: storetest.NewSealer(t),
		Logger: logger,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	reg := action.NewRegistry()
	require.NoError(t, reg.Register(echo.Name, echo.New()))
	require.NoError(t, reg.Register(httpaction.Name, httpaction.New(httpaction.Options{})))
	require.NoError(t, reg.Register("wait", waitAction{}))
	fns, err := template.LoadFunctions(filepath.Join("testdata", "functions"), reg)
	require.NoError(t, err)
	cat := &template.Catalog{Actions: reg, Functions: fns, Templates: map[string]bool{}}
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	id, err := db.InstanceRegister(ctx, clk.Now())
	require.NoError(t, err)
	cfg := engine.Config{
		Store:          db,
		Catalog:        cat,
		Logger:         logger,
		InstanceID:     id,
		Now:            clk.Now,
		SingleInstance: true,
		PollInterval:   50 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	eng, err := engine.New(cfg)
	require.NoError(t, err)
	t.Cleanup(eng.Stop)
	return &testBundle{db: db, engine: eng, catalog: cat, clock: clk}
}

// create stores a template and a task with a resolution claimed by the
// engine's instance, and returns the resolution's public id.
func (b *testBundle) create(t *testing.T, yaml string, input map[string]any) (taskID, resID string) {
	t.Helper()
	return b.createTagged(t, yaml, input, nil)
}

// createTagged is create with the task's tags.
func (b *testBundle) createTagged(t *testing.T, yaml string, input map[string]any, tags map[string]string) (
	taskID, resID string,
) {
	t.Helper()
	ctx := context.Background()
	tmpl, err := template.Parse([]byte(yaml))
	require.NoError(t, err)
	require.NoError(t, template.Validate(tmpl, b.catalog))
	doc, err := json.Marshal(tmpl)
	require.NoError(t, err)
	version, err := b.db.TemplateVersionPut(ctx, tmpl.Name, doc)
	require.NoError(t, err)
	in, err := template.ValidateInputs(tmpl.Inputs, input)
	require.NoError(t, err)
	now := b.clock.Now()
	task := &store.Task{
		PublicID: uuid.NewString(), TemplateName: tmpl.Name, TemplateVersion: version, Title: "test",
		RequesterUsername: "tester", Created: now, LastActivity: now, State: state.TaskTodo,
		StepsTotal: len(tmpl.Steps), Input: in, Result: tmpl.ResultFormat, Tags: tags,
	}
	instance := b.engine.InstanceID()
	res := &store.Resolution{
		PublicID: uuid.NewString(), ResolverUsername: "tester", State: state.ResAutorunning,
		InstanceID: &instance, Created: now, RunMax: tmpl.EffectiveRetryMax(),
	}
	tx, err := b.db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.TaskInsert(ctx, task))
	res.TaskID = task.ID
	require.NoError(t, tx.ResolutionInsert(ctx, res))
	require.NoError(t, tx.Commit(ctx))
	return task.PublicID, res.PublicID
}

// run runs one cycle and returns the resolution, its task and its steps.
func (b *testBundle) run(t *testing.T, resID string) (*store.Resolution, *store.Task, map[string]*template.Step) {
	t.Helper()
	require.NoError(t, b.engine.RunSync(context.Background(), resID))
	return b.read(t, resID)
}

func (b *testBundle) read(t testing.TB, resID string) (*store.Resolution, *store.Task, map[string]*template.Step) {
	t.Helper()
	ctx := context.Background()
	res, err := b.db.ResolutionGet(ctx, resID)
	require.NoError(t, err)
	task, err := b.db.TaskGet(ctx, res.TaskPublicID)
	require.NoError(t, err)
	steps, err := b.engine.Steps(ctx, res)
	require.NoError(t, err)
	return res, task, steps
}

func stepStates(steps map[string]*template.Step) map[string]string {
	out := map[string]string{}
	for n, s := range steps {
		out[n] = s.State
	}
	return out
}

func TestStateQualifiedDependenciesAndCustomStates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: custom-states
description: a check condition picks the branch
title_format: custom states
steps:
  probe:
    description: probe
    custom_states: [MISSING]
    action:
      type: echo
      configuration:
        output: {code: "404"}
    conditions:
      - type: check
        if:
          - {value: "{{.step.this.output.code}}", operator: EQ, expected: "404"}
        then: {this: MISSING}
        message: not there
  onDone:
    description: runs only when probe is DONE
    dependencies: [probe]
    action: {type: echo, configuration: {output: ran}}
  onMissing:
    description: runs only when probe is MISSING
    dependencies: ["probe:MISSING"]
    action: {type: echo, configuration: {output: ran}}
  either:
    description: runs when probe is DONE or MISSING
    dependencies: ["probe:DONE,MISSING"]
    action: {type: echo, configuration: {output: ran}}
  afterDone:
    description: pruned with onDone
    dependencies: [onDone]
    action: {type: echo, configuration: {output: ran}}
`, nil)
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.Equal(t, state.TaskDone, task.State)
	require.Equal(t, map[string]string{
		"probe": "MISSING", "onDone": "PRUNE", "onMissing": "DONE", "either": "DONE", "afterDone": "PRUNE",
	}, stepStates(steps))
	require.Equal(t, "not there", steps["probe"].Error)
	require.Equal(t, 5, task.StepsDone)
}

func TestOutputStrategiesAndResult(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: outputs
description: merge and template output strategies
title_format: outputs
inputs:
  - {name: who, description: who}
result_format:
  merged: "{{.step.merged.output.extra}}/{{.step.merged.output.k}}"
  templated: "{{.step.templated.output.full}}"
  count: "{{.step.templated.output.num}}"
steps:
  merged:
    description: merge
    action:
      type: echo
      configuration:
        output: {k: plugin}
      output:
        strategy: merge
        format: {k: format, extra: "{{.input.who}}"}
  templated:
    description: template
    dependencies: [merged]
    action:
      type: echo
      configuration:
        output: {first: John, last: Doe, num: 12345678901234567}
      output:
        strategy: template
        format:
          full: "{{.step.this.output.first}} {{.step.this.output.last}}"
          num: "{{.step.this.output.num}}"
`, map[string]any{"who": "ann"})
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.Equal(t, map[string]any{"k": "plugin", "extra": "ann"}, steps["merged"].Output)
	require.Equal(t, map[string]any{"full": "John Doe", "num": "12345678901234567"}, steps["templated"].Output)
	require.Equal(t, map[string]any{"merged": "ann/plugin", "templated": "John Doe", "count": "12345678901234567"}, task.Result)
}

func TestForeachSequenceAndChildren(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: foreach-seq
description: children in sequence see their iterator
title_format: foreach
steps:
  loop:
    description: loop
    foreach: '[{"n": 1}, {"n": 2}, {"n": 3}]'
    foreach_strategy: sequence
    action:
      type: echo
      configuration:
        output: {double: "{{.iterator.n}}{{.iterator.n}}", me: "{{.step.this.state}}"}
  after:
    description: reads the children
    dependencies: [loop]
    action:
      type: echo
      configuration:
        output: {all: "{{range .step.loop.children}}{{.output.double}},{{end}}", count: "{{len .step.loop.children}}"}
`, nil)
	r, _, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.Equal(t, map[string]any{"all": "11,22,33,", "count": "3"}, steps["after"].Output)
	children, ok := steps["loop"].Children.([]any)
	require.True(t, ok)
	require.Len(t, children, 3)
	first := children[0].(map[string]any)
	require.Equal(t, "DONE", first["state"])
	require.Equal(t, map[string]any{"double": "11", "me": "RUNNING"}, first["output"])
	require.Equal(t, map[string]any{"iterator": map[string]any{"n": json.Number("1")}}, first["metadata"])
	require.Len(t, steps, 2, "children are folded into their parent")
}

func TestEmptyForeachAndSkipOperators(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: skips
description: skip conditions with several operators
title_format: skips
steps:
  empty:
    description: a loop over nothing
    foreach: '[]'
    action: {type: echo, configuration: {output: x}}
  regexp:
    description: skipped by REGEXP
    conditions:
      - type: skip
        if: [{value: "abc123", operator: REGEXP, expected: '\d+$'}]
        then: {this: PRUNE}
    action: {type: echo, configuration: {output: x}}
  inList:
    description: skipped by IN
    conditions:
      - type: skip
        if: [{value: "a, b ,c", operator: IN, expected: b}]
        then: {this: PRUNE}
    action: {type: echo, configuration: {output: x}}
  notSkipped:
    description: GT does not hold
    conditions:
      - type: skip
        if: [{value: "5", operator: GT, expected: "10"}]
        then: {this: PRUNE}
    action: {type: echo, configuration: {output: ran}}
  lowerGt:
    description: lower-case gt compares too
    conditions:
      - type: skip
        if: [{value: "5", operator: gt, expected: "10"}]
        then: {this: PRUNE}
    action: {type: echo, configuration: {output: ran}}
  skippedNoState:
    description: skipped without a state is DONE
    conditions:
      - type: skip
        if: [{value: "x", operator: NE, expected: "y"}]
        then: {}
    action: {type: echo, configuration: {output: ran}}
`, nil)
	r, _, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.Equal(t, map[string]string{
		"empty": "DONE", "regexp": "PRUNE", "inList": "PRUNE", "notSkipped": "DONE", "lowerGt": "DONE", "skippedNoState": "DONE",
	}, stepStates(steps))
	require.Nil(t, steps["skippedNoState"].Output, "a skipped step does not run")
	require.Equal(t, "ran", steps["lowerGt"].Output)
}

func TestServerErrorIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	t.Cleanup(srv.Close)
	_, res := b.create(t, `
name: retry
description: a server error is retried
title_format: retry
inputs:
  - {name: url, description: url}
steps:
  call:
    description: call
    action:
      type: http
      configuration: {url: "{{.input.url}}", method: GET}
`, map[string]any{"url": srv.URL})
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResError, r.State)
	require.Equal(t, state.TaskRunning, task.State)
	require.Equal(t, state.ServerError, steps["call"].State)
	require.Equal(t, "failed api request: 503: busy\n", steps["call"].Error)
	require.Equal(t, 1, steps["call"].TryCount)
	require.NotNil(t, r.NextRetry)
	// seconds pattern, one execution: 8 s × 1.25.
	require.Equal(t, 10*time.Second, r.NextRetry.Sub(*r.LastStop))

	// Nothing runs before the retry is due; once the clock passes it, the
	// engine's claim loop runs the resolution again.
	require.NoError(t, b.engine.Start(context.Background()))
	time.Sleep(150 * time.Millisecond)
	require.Equal(t, int32(1), calls.Load())
	b.clock.Add(11 * time.Second)
	b.engine.Wake()
	require.Eventually(t, func() bool {
		r, _, _ := b.read(t, res)
		return r.State == state.ResDone
	}, 10*time.Second, 10*time.Millisecond)
	r, task, steps = b.read(t, res)
	require.Equal(t, state.TaskDone, task.State)
	require.Equal(t, 2, steps["call"].TryCount)
	require.Equal(t, 2, r.RunCount)
	require.Equal(t, map[string]any{"ok": true}, steps["call"].Output)
}

func TestClientErrorBlocks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: client-error
description: a client error blocks the resolution
title_format: client error
retry_max: 1
steps:
  fail:
    description: fail
    action:
      type: echo
      configuration: {error_message: refused, error_type: client}
`, nil)
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResBlockedBadRequest, r.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, "refused", steps["fail"].Error)
}

func TestMaxRetriesBlocks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: max-retries
description: run_max reached
title_format: max
retry_max: 1
steps:
  fail:
    description: fail
    action:
      type: echo
      configuration: {error_message: boom}
`, nil)
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResBlockedMaxRetries, r.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, state.ServerError, steps["fail"].State)
}

func TestRunRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: done-once
description: a done resolution does not run again
title_format: once
steps:
  one: {description: one, action: {type: echo, configuration: {output: x}}}
`, nil)
	r, _, _ := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.ErrorIs(t, b.engine.RunSync(context.Background(), res), engine.ErrAlreadyDone)
}

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	yaml := `
name: crash
description: steps left RUNNING by a dead instance
title_format: crash
steps:
  safe:
    description: idempotent, replayed
    idempotent: true
    action: {type: echo, configuration: {output: replayed}}
  unsafe:
    description: not idempotent
    action: {type: echo, configuration: {output: x}}
`
	_, idem := b.create(t, yaml, nil)
	// Simulate a dead instance that left both steps RUNNING.
	dead := int64(999)
	tx, err := b.db.Begin(ctx)
	require.NoError(t, err)
	r, err := tx.ResolutionLock(ctx, idem)
	require.NoError(t, err)
	r.State = state.ResRunning
	r.InstanceID = &dead
	require.NoError(t, tx.ResolutionUpdate(ctx, r))
	require.NoError(t, tx.StepUpsert(ctx, r, []*store.Step{
		{Name: "safe", State: state.Running},
		{Name: "unsafe", State: state.Running},
	}))
	require.NoError(t, tx.Commit(ctx))

	require.NoError(t, b.engine.Start(ctx))
	require.Eventually(t, func() bool {
		r, _, _ := b.read(t, idem)
		return r.State == state.ResBlockedToCheck
	}, 10*time.Second, 10*time.Millisecond)
	_, task, steps := b.read(t, idem)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, state.Todo, steps["safe"].State)
	require.Equal(t, state.Crashed, steps["unsafe"].State)

	// A human runs it again: every runnable step runs. The recovery's
	// launch lets go of the resolution just after its commit: until then,
	// the resolution is still running here.
	require.Eventually(t, func() bool {
		err := b.engine.RunSync(ctx, idem)
		if errors.Is(err, engine.ErrAlreadyRunning) {
			return false
		}
		require.NoError(t, err)
		return true
	}, 10*time.Second, time.Millisecond)
	r2, _, steps := b.read(t, idem)
	require.Equal(t, state.ResDone, r2.State)
	require.Equal(t, "replayed", steps["safe"].Output)
	require.Equal(t, state.Done, steps["unsafe"].State)
}

func TestMergeFormatDoesNotLeakIntoRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: merge-retry
description: a merge format is rendered afresh at each attempt
title_format: merge
steps:
  twice:
    description: runs twice through RETRY_NOW
    action:
      type: echo
      configuration:
        unmarshal: true
        output: '{ {{if .step.this.output.first}}"second": "yes"{{else}}"first": "yes"{{end}} }'
      output:
        strategy: merge
        format: {base: x}
    conditions:
      - type: check
        if: [{value: "{{.step.this.output.second}}", operator: NE, expected: "yes"}]
        then: {this: RETRY_NOW}
`, nil)
	r, _, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.Equal(t, 2, steps["twice"].TryCount)
	require.Equal(t, map[string]any{"base": "x", "second": "yes"}, steps["twice"].Output)
}

func TestForeachRestartLoopsEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: restart-forever
description: a parent skip that always restarts its loop
title_format: restart
steps:
  loop:
    description: loop
    foreach: '[0, 1]'
    action: {type: echo, configuration: {output: "{{.iterator}}"}}
    conditions:
      - {type: skip, foreach: parent, if: [], then: {this: RETRY_NOW}}
`, nil)
	r, _, steps := b.run(t, res)
	require.Equal(t, state.ResBlockedFatal, r.State)
	require.Equal(t, state.FatalError, steps["loop"].State)
	require.Contains(t, steps["loop"].Error, "restarted 1000 times")
}

func TestVanishedFunctionFailsItsStep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.create(t, `
name: vanished
description: uses a function that disappears before the run
title_format: vanished
steps:
  before:
    description: runs
    action: {type: echo, configuration: {output: ok}}
  call:
    description: uses the function
    dependencies: [before]
    action:
      type: echo::hello::world
      configuration: {name: x}
`, nil)
	// The function is gone by the time the resolution runs (a restart
	// without its file): the step fails, the rest runs, nothing is stuck.
	delete(b.catalog.Functions, "echo::hello::world")
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResBlockedFatal, r.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, state.Done, steps["before"].State)
	require.Equal(t, state.FatalError, steps["call"].State)
	require.Equal(t, "No runner for type 'echo::hello::world'", steps["call"].Error)
}

const waitForCallTemplate = `
name: waits-for-call
description: an http step that waits for its server
title_format: waits
inputs:
  - {name: url, description: url}
steps:
  wait:
    description: wait
    action: {type: http, configuration: {url: "{{.input.url}}", method: GET}}
`

// waitServer is a loopback HTTP server whose requests wait until answer is
// called, at the latest when the test ends; calls counts the requests.
type waitServer struct {
	url    string
	answer func()
	calls  atomic.Int32
}

// waitingServer starts a waitServer answering 200.
func waitingServer(t *testing.T) *waitServer {
	t.Helper()
	return waitingServerAnswering(t, http.StatusOK)
}

// waitingServerAnswering starts a waitServer answering status.
func waitingServerAnswering(t *testing.T, status int) *waitServer {
	t.Helper()
	release := make(chan struct{})
	var once sync.Once
	ws := &waitServer{answer: func() { once.Do(func() { close(release) }) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.calls.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(ws.answer) // before Close, which waits for the requests
	ws.url = srv.URL
	return ws
}

// oneSlot returns an engine with one execution slot, configured further by
// mod, and two resolutions whose step waits for answer: busy, to take the
// slot, and queued.
func oneSlot(t *testing.T, mod func(*engine.Config)) (b *testBundle, busy, queued string, answer func()) {
	t.Helper()
	b = setup(t, func(c *engine.Config) {
		c.MaxConcurrentExecutions = 1
		mod(c)
	})
	ws := waitingServer(t)
	_, busy = b.create(t, waitForCallTemplate, map[string]any{"url": ws.url})
	_, queued = b.create(t, waitForCallTemplate, map[string]any{"url": ws.url})
	return b, busy, queued, ws.answer
}

func TestRunNowDoesNotWaitForASlot(t *testing.T) {
	t.Parallel()
	b, busy, queued, answer := oneSlot(t, func(c *engine.Config) { c.RunNowWait = 50 * time.Millisecond })
	require.NoError(t, b.engine.RunNow(context.Background(), busy))
	require.Eventually(t, func() bool {
		r, _, _ := b.read(t, busy)
		return r.State == state.ResRunning
	}, 5*time.Second, 5*time.Millisecond)

	// The only slot is taken: RunNow answers before the cycle could start,
	// and the cycle starts once the slot frees.
	require.NoError(t, b.engine.RunNow(context.Background(), queued))
	r, _, _ := b.read(t, queued)
	require.Equal(t, state.ResAutorunning, r.State)
	answer()
	require.Eventually(t, func() bool {
		r, _, _ := b.read(t, queued)
		return r.State == state.ResDone
	}, 10*time.Second, 10*time.Millisecond)
}

func TestResourceLimits(t *testing.T) {
	t.Parallel()
	limits := map[string]int{"socket": 2, "fork": 0}
	b := setup(t, func(c *engine.Config) {
		l, err := resource.NewLimiter(limits, time.Minute)
		require.NoError(t, err)
		c.Resources = l
	})
	var cur, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
	}))
	t.Cleanup(srv.Close)
	_, res := b.create(t, `
name: limited
description: http children share two sockets; a step needs a resource that is never available
title_format: limited
inputs:
  - {name: url, description: url}
steps:
  calls:
    description: six calls
    foreach: '[1, 2, 3, 4, 5, 6]'
    action: {type: http, configuration: {url: "{{.input.url}}", method: GET}}
  forks:
    description: needs fork, whose limit is 0
    resources: [fork]
    action: {type: echo, configuration: {output: never}}
`, map[string]any{"url": srv.URL})
	r, _, steps := b.run(t, res)
	require.Equal(t, int32(2), peak.Load(), "at most two http calls at once")
	require.Equal(t, state.Done, steps["calls"].State)
	require.Equal(t, state.ResError, r.State)
	require.Equal(t, state.ToRetry, steps["forks"].State)
	require.Equal(t, "failed to acquire resources not provisioned", steps["forks"].Error)
	require.Equal(t, "{}", steps["forks"].Output)
	require.Equal(t, 1, steps["forks"].TryCount)
}

func TestTemplateResourceUnavailable(t *testing.T) {
	t.Parallel()
	var now time.Time
	b := setup(t, func(c *engine.Config) {
		l, err := resource.NewLimiter(map[string]int{"template:locked": 0}, time.Minute)
		require.NoError(t, err)
		c.Resources = l
		now = c.Now()
	})
	_, res := b.create(t, `
name: locked
description: its template resource is never available
title_format: locked
steps:
  one: {description: one, action: {type: echo, configuration: {output: x}}}
`, nil)
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResToAutorunDelayed, r.State)
	require.Equal(t, state.TaskBlocked, task.State)
	require.Equal(t, now.Add(10*time.Minute), *r.NextRetry)
	require.Equal(t, state.Todo, steps["one"].State)
}
