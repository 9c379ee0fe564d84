package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/api"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/sqlite"
	"github.com/utask/utask/store/storetest"
	"github.com/utask/utask/template"
)

// Templates of the tests, as template files.
const (
	// greetTemplate runs by itself for anyone.
	greetTemplate = `
name: Greet
description: Say hello to someone
title_format: "Hello {{.input.name}} x{{.input.count}}"
auto_runnable: true
allow_all_resolver_usernames: true
inputs:
  - name: name
    description: who to greet
    regex: "^[a-z]+$"
  - name: count
    description: how many times
    type: number
    optional: true
    default: 3
  - name: color
    description: a color
    optional: true
    legal_values: [red, blue]
  - name: secret
    description: a password
    type: password
    optional: true
tags:
  region: "{{.task.region}}"
  who: "{{.task.requester_username}}"
result_format:
  said: "{{.step.hello.output.said}}"
base_configurations:
  base: {"url": "http://127.0.0.1"}
steps:
  hello:
    description: say it
    action:
      type: echo
      configuration:
        output: {said: "hello {{.input.name}}"}
`
	// manualTemplate waits for a human resolver.
	manualTemplate = `
name: manual
description: Wait for a human
title_format: "Manual for {{.task.requester_username}}"
allowed_resolver_usernames: [owner]
allowed_resolver_groups: [owners]
retry_max: 7
inputs:
  - name: why
    description: the reason
    optional: true
resolver_inputs:
  - name: ri1
    description: a resolver input
  - name: ri2
    description: a resolver input with a default
    optional: true
    default: fallback
steps:
  first:
    description: the first step
    action:
      type: echo
      configuration: {output: {a: 1}}
  second:
    description: the second step
    dependencies: [first]
    action:
      type: echo
      configuration: {output: {b: 2}}
`
	hiddenTemplate = `
name: hidden
description: Not listed to users
title_format: "hidden task"
hidden: true
steps: {}
`
	blockedTemplate = `
name: blocked
description: Not available
title_format: "blocked task"
blocked: true
auto_runnable: true
steps: {}
`
)

// testRunner stands in for the engine: it records what it is asked.
type testRunner struct {
	mu       sync.Mutex
	launched []string
	ranNow   []string
	woken    []string // resolutions woken as parents
	wakes    int
	runErr   error
	steps    map[string]map[string]*template.Step // by resolution public id
}

func (r *testRunner) Launch(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.launched = append(r.launched, id)
}

func (r *testRunner) RunNow(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ranNow = append(r.ranNow, id)

	if errors.Is(r.runErr, errPanic) {
		panic("runner exploded")
	}

	return r.runErr
}

func (r *testRunner) Wake() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wakes++
}

func (r *testRunner) WakeResolution(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.woken = append(r.woken, id)

	return nil
}

func (r *testRunner) Steps(_ context.Context, res *store.Resolution) (map[string]*template.Step, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	out := map[string]*template.Step{}
	for name, st := range r.steps[res.PublicID] {
		c := *st
		out[name] = &c
	}

	return out, nil
}

func (r *testRunner) InstanceID() int64 { return 42 }

func (r *testRunner) setSteps(resolutionID string, steps map[string]*template.Step) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if r.steps == nil {
		r.steps = map[string]map[string]*template.Step{}
	}

	r.steps[resolutionID] = steps
}

func (r *testRunner) setRunErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runErr = err
}

func (r *testRunner) calls() (launched, ranNow []string, wakes int) {
	r.mu.Lock()
	defer r.mu.Unlock()

	return append([]string(nil), r.launched...), append([]string(nil), r.ranNow...), r.wakes
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

// clock is a test clock that moves one millisecond at each reading, so that
// every task gets its own last_activity.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)

	return c.now
}

// options tunes a test bundle.
type options struct {
	basicAuth    map[string]string
	maintenance  bool
	maxBodyBytes int64
	ping         func(context.Context) error
	// extraTemplates adds that many plain templates named extra-NN.
	extraTemplates int
	// functions are given to the service.
	functions map[string]*template.Function
}

// bundle is the fixture of one test: a real SQLite store in a temporary
// directory, the service, and the API served on 127.0.0.1.
type bundle struct {
	store  store.Store
	runner *testRunner
	server *httptest.Server
	logs   *syncBuffer
	clock  *clock
	basic  bool
}

func setup(t *testing.T, opts options) *bundle {
	t.Helper()

	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))

	st, err := sqlite.Open(ctx, sqlite.Config{
		Path:   filepath.Join(t.TempDir(), "utask.db"),
		Sealer: storetest.NewSealer(t),
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	var templates []*template.Template

	versions := map[string]int64{}

	sources := []string{greetTemplate, manualTemplate, hiddenTemplate, blockedTemplate}
	for i := range opts.extraTemplates {
		sources = append(sources, fmt.Sprintf("name: extra-%02d\ndescription: extra template\ntitle_format: extra\n", i))
	}

	for _, src := range sources {
		tt, err := template.Parse([]byte(src))
		require.NoError(t, err)

		doc, err := json.Marshal(tt)
		require.NoError(t, err)

		versions[tt.Name], err = st.TemplateVersionPut(ctx, tt.Name, doc)
		require.NoError(t, err)

		templates = append(templates, tt)
	}

	runner := &testRunner{}
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

	svc := service.New(service.Config{
		Store:           st,
		Runner:          runner,
		Templates:       service.NewTemplates(templates, versions),
		Functions:       opts.functions,
		Catalog:         editCatalog(t, opts.functions),
		Policy:          auth.Policy{AdminUsernames: []string{"admin"}, AdminGroups: []string{"admins"}},
		Now:             clk.Now,
		Logger:          logger,
		ApplicationName: "µTask test",
		Version:         "v-test",
		Commit:          "c0ffee",
	})

	groups := map[string][]string{"owners": {"grace"}, "watchers": {"walt"}, "admins": {"ada"}}

	srv := httptest.NewServer(api.New(api.Config{
		Service:      svc,
		Provider:     auth.NewDefaultProvider(opts.basicAuth, groups),
		MaxBodyBytes: opts.maxBodyBytes,
		Maintenance:  opts.maintenance,
		Logger:       logger,
		Ping:         opts.ping,
		Metrics:      scrapeText,
	}))
	t.Cleanup(srv.Close)

	return &bundle{store: st, runner: runner, server: srv, logs: logs, clock: clk, basic: len(opts.basicAuth) > 0}
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, keeping numbers exact.
func (r response) json(t *testing.T, v any) {
	t.Helper()

	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(v), "body: %s", r.body)
}

// object decodes the body as a JSON object.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()

	var m map[string]any
	r.json(t, &m)

	return m
}

// errorMessage returns the "error" field of the body.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()

	m := r.object(t)
	require.Len(t, m, 1, "body: %s", r.body)

	msg, ok := m["error"].(string)
	require.True(t, ok, "body: %s", r.body)

	return msg
}

// request describes one call.
type request struct {
	method string
	path   string
	user   string // X-Remote-User; "" sends none
	body   string
	header map[string]string
}

// do sends a request to the API, without following redirects.
func (b *bundle) do(t *testing.T, req request) response {
	t.Helper()

	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}

	r, err := http.NewRequestWithContext(context.Background(), req.method, b.server.URL+req.path, body)
	require.NoError(t, err)

	if req.user != "" {
		r.Header.Set("X-Remote-User", req.user)
	}

	for k, v := range req.header {
		r.Header.Set(k, v)
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := client.Do(r)
	require.NoError(t, err)

	defer resp.Body.Close()

	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (b *bundle) get(t *testing.T, user, path string) response {
	t.Helper()

	return b.do(t, request{method: http.MethodGet, path: path, user: user})
}

func (b *bundle) post(t *testing.T, user, path, body string) response {
	t.Helper()

	return b.do(t, request{method: http.MethodPost, path: path, user: user, body: body})
}

// createTask creates a task and returns its view; the call must succeed.
func (b *bundle) createTask(t *testing.T, user, body string) map[string]any {
	t.Helper()

	resp := b.post(t, user, "/task", body)
	require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

	return resp.object(t)
}

// allTasks lists every task as an administrator.
func (b *bundle) allTasks(t *testing.T) []map[string]any {
	t.Helper()

	resp := b.get(t, "admin", "/task?type=all")
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

	var tasks []map[string]any
	resp.json(t, &tasks)

	return tasks
}

// setTaskState changes a task's state directly in the store, as the engine
// would.
func (b *bundle) setTaskState(t *testing.T, publicID, newState string) {
	t.Helper()

	ctx := context.Background()

	found, err := b.store.TaskGet(ctx, publicID)
	require.NoError(t, err)

	tx, err := b.store.Begin(ctx)
	require.NoError(t, err)

	defer func() { _ = tx.Rollback(ctx) }()

	locked, err := tx.TaskLock(ctx, found.ID)
	require.NoError(t, err)

	locked.State = newState
	require.NoError(t, tx.TaskUpdate(ctx, locked))
	require.NoError(t, tx.Commit(ctx))
}

// stateTodo is the state of a task that waits.
const stateTodo = state.TaskTodo

// changeResolution modifies a resolution directly in the store, as the
// engine would.
func (b *bundle) changeResolution(t *testing.T, publicID string, change func(r *store.Resolution)) {
	t.Helper()

	ctx := context.Background()

	tx, err := b.store.Begin(ctx)
	require.NoError(t, err)

	defer func() { _ = tx.Rollback(ctx) }()

	r, err := tx.ResolutionLock(ctx, publicID)
	require.NoError(t, err)

	change(r)
	require.NoError(t, tx.ResolutionUpdate(ctx, r))
	require.NoError(t, tx.Commit(ctx))
}

// resolution reads a resolution from the store.
func (b *bundle) resolution(t *testing.T, publicID string) *store.Resolution {
	t.Helper()

	r, err := b.store.ResolutionGet(context.Background(), publicID)
	require.NoError(t, err)

	return r
}

// task reads a task from the store.
func (b *bundle) task(t *testing.T, publicID string) *store.Task {
	t.Helper()

	found, err := b.store.TaskGet(context.Background(), publicID)
	require.NoError(t, err)

	return found
}

// manualResolution creates a task of the manual template requested by bob
// and its resolution, created by the template owner; it returns the task
// and resolution public ids.
func (b *bundle) manualResolution(t *testing.T) (taskID, resolutionID string) {
	t.Helper()

	task := b.createTask(t, "bob", `{"template_name": "manual"}`)
	taskID, _ = task["id"].(string)

	resp := b.post(t, "owner", "/resolution", `{"task_id": "`+taskID+`", "resolver_inputs": {"ri1": "x"}}`)
	require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

	resolutionID, _ = resp.object(t)["id"].(string)
	require.NotEmpty(t, resolutionID)

	return taskID, resolutionID
}

// scrapeText stands for the metrics handler (package metrics, tested with
// the server): the API only routes GET /metrics to it.
var scrapeText = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { //nolint:gochecknoglobals // a constant handler
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte("# TYPE utask_test gauge\nutask_test 1\n"))
})
