package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

// writeTemplate writes a template file into dir.
func writeTemplate(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
}

// startServerWithTemplates starts a server like startServer, with the
// templates of dir on top of the test templates.
func startServerWithTemplates(t *testing.T, dir string, environ ...string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	workDir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths: []string{filepath.Join("testdata", "templates"), dir},
			ScriptsPath:    filepath.Join("testdata", "scripts"),
			FunctionsPath:  filepath.Join(workDir, "functions"),
			Region:         "default",
			LogsFormat:     "text",
		},
		Environ:  withDefaults(environ),
		WorkDir:  workDir,
		Logger:   logger,
		Listener: ln,
	})
	require.NoError(t, err)
	ts := &testServer{srv: srv, base: "http://" + ln.Addr().String(), workDir: workDir}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// gate is the server batch-child tasks call: each call is held until the
// test lets it through, and the gate records how many calls it holds at
// most at once.
type gate struct {
	mu      sync.Mutex
	held    map[string]chan struct{} // by child number
	maxHeld int
	open    bool // answer at once, hold nothing
}

func newGate(t *testing.T, open bool) (*gate, *httptest.Server) {
	t.Helper()
	g := &gate{held: map[string]chan struct{}{}, open: open}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.open {
		g.mu.Unlock()
		_, _ = w.Write([]byte("{}"))
		return
	}
	release := make(chan struct{})
	g.held[r.URL.Query().Get("num")] = release
	g.maxHeld = max(g.maxHeld, len(g.held))
	g.mu.Unlock()
	select {
	case <-release:
	case <-r.Context().Done():
	}
	_, _ = w.Write([]byte("{}"))
}

// holding returns the numbers of the children whose call is held, sorted.
func (g *gate) holding() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.held))
	for n := range g.held {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// release lets the call of child n through.
func (g *gate) release(n string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.held[n])
	delete(g.held, n)
}

// batchTask is a task as GET /task lists it, with its batch.
type batchTask struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	State string `json:"state"`
	Batch string `json:"batch"`
}

// waitChild waits until the task titled title is DONE.
func (ts *testServer) waitChild(t *testing.T, title string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var all []batchTask
		ts.call(t, http.MethodGet, "/task?type=all", "admin", nil, &all)
		for _, task := range all {
			if task.Title == title {
				return task.State == "DONE"
			}
		}
		return false
	}, 20*time.Second, 5*time.Millisecond, title)
}

// listBatch lists the tasks of a batch as user.
func (ts *testServer) listBatch(t *testing.T, user, batchID string) []batchTask {
	t.Helper()
	var tasks []batchTask
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task?type=all&batch="+batchID, user, nil, &tasks))
	return tasks
}

// decodeBatchMetadata reads the metadata string of a batch step.
func decodeBatchMetadata(t *testing.T, s string) map[string]any {
	t.Helper()
	require.Contains(t, s, `\"`, "the metadata keeps its quotes escaped")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(s, `\"`, `"`)), &m), "metadata %s", s)
	return m
}

func TestBatchRunsInWaves(t *testing.T) {
	t.Parallel()
	batchRunsInWaves(t)
}

func TestBatchRunsInWavesPostgres(t *testing.T) {
	t.Parallel()
	batchRunsInWaves(t, "CFG_DATABASE="+pgtest.FreshSchema(t), "CFG_ENCRYPTION_KEY="+testKey)
}

func batchRunsInWaves(t *testing.T, environ ...string) {
	g, gateSrv := newGate(t, false)
	ts := startServer(t, t.TempDir(), environ...)

	var parent taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "batch-parent", "input": map[string]any{"gate": gateSrv.URL},
	}, &parent))

	// Each wave of two children is held at the gate; the next wave starts
	// only once both children of the previous one are over, and never
	// before: a child released alone leaves the other one running.
	for _, wave := range [][]string{{"1", "2"}, {"3", "4"}, {"5"}} {
		require.Eventually(t, func() bool { return len(g.holding()) == len(wave) }, 20*time.Second, 5*time.Millisecond,
			"wave %v", wave)
		require.Equal(t, wave, g.holding())
		// The first child of the wave ends alone: the parent must not start
		// anyone while the other one runs.
		g.release(wave[0])
		ts.waitChild(t, "batch child "+wave[0])
		if len(wave) > 1 {
			for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				require.Len(t, g.holding(), len(wave)-1, "a child started while its wave was not over")
			}
		}
		for _, n := range wave[1:] {
			g.release(n)
		}
	}

	done := ts.waitTask(t, parent.ID, "alice")
	require.Equal(t, "DONE", done.State)
	g.mu.Lock()
	require.Equal(t, 2, g.maxHeld, "never more than sub_batch_size children at once")
	g.mu.Unlock()

	meta := decodeBatchMetadata(t, done.Result["meta"].(string))
	require.Equal(t, done.Result["meta"], done.Result["after"], "a later step reads the same metadata")
	require.EqualValues(t, 0, meta["remaining_tasks"])
	require.EqualValues(t, 5, meta["tasks_started"])
	batchID, _ := meta["batch_id"].(string)
	require.NotEmpty(t, batchID)

	children := ts.listBatch(t, "alice", batchID)
	require.Len(t, children, 5)
	titles := make([]string, 0, len(children))
	for _, c := range children {
		require.Equal(t, "DONE", c.State)
		require.Equal(t, batchID, c.Batch)
		titles = append(titles, c.Title)

		var full struct {
			Tags              map[string]string `json:"tags"`
			RequesterUsername string            `json:"requester_username"`
			WatcherUsernames  []string          `json:"watcher_usernames"`
			Comments          []struct {
				Content string `json:"content"`
			} `json:"comments"`
			Input map[string]any `json:"input"`
		}
		require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+c.ID, "alice", nil, &full))
		require.Equal(t, parent.ID, full.Tags["_utask_parent_task_id"])
		require.Equal(t, "batch-parent", full.Tags["origin"])
		require.Equal(t, "alice", full.RequesterUsername)
		require.Equal(t, []string{"walt"}, full.WatcherUsernames)
		require.Len(t, full.Comments, 1)
		require.Equal(t, "started by a batch", full.Comments[0].Content)
		require.Equal(t, gateSrv.URL, full.Input["gate"])
	}
	sort.Strings(titles)
	require.Equal(t, []string{"batch child 1", "batch child 2", "batch child 3", "batch child 4", "batch child 5"}, titles)

	// The runs used by the wake-ups are given back to the resolution, and
	// that sticks past the end of the cycle.
	var res struct {
		RunCount int `json:"run_count"`
		RunMax   int `json:"run_max"`
		Steps    map[string]struct {
			State    string `json:"state"`
			TryCount int    `json:"try_count"`
			Metadata any    `json:"metadata"`
			Output   any    `json:"output"`
		} `json:"steps"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+done.Resolution, "admin", nil, &res))
	step := res.Steps["children"]
	require.Equal(t, "DONE", step.State)
	require.Nil(t, step.Output)
	require.Equal(t, done.Result["meta"], step.Metadata)
	require.GreaterOrEqual(t, step.TryCount, 3, "one run per wave at least")
	require.Equal(t, 20+step.TryCount-1, res.RunMax, "retry_max plus the try count before the last run")
}

func TestBatchWithNoInputsIsDone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTemplate(t, dir, "empty-batch.yaml", `
name: empty-batch
description: a batch of nothing
title_format: empty batch
auto_runnable: true
allow_all_resolver_usernames: true
result_format:
  meta: "{{.step.none.metadata.batch_id}}-{{.step.none.metadata.tasks_started}}"
steps:
  none:
    description: no children
    action:
      type: batch
      configuration:
        template_name: batch-child
        json_inputs: '[]'
`)
	ts := startServerWithTemplates(t, dir)
	var task taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "empty-batch",
	}, &task))
	done := ts.waitTask(t, task.ID, "alice")
	require.Equal(t, "DONE", done.State)
	require.Equal(t, "-0", done.Result["meta"])
}

func TestBatchConflictingInputsBlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTemplate(t, dir, "conflict-batch.yaml", `
name: conflict-batch
description: a batch whose inputs clash
title_format: conflict batch
auto_runnable: true
allow_all_resolver_usernames: true
steps:
  clash:
    description: num is both common and per child
    action:
      type: batch
      configuration:
        template_name: batch-child
        common_inputs: {num: "0", gate: "http://127.0.0.1:1"}
        inputs: [{num: "1"}]
`)
	ts := startServerWithTemplates(t, dir)
	var task taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "conflict-batch",
	}, &task))
	done := ts.waitTask(t, task.ID, "alice")
	require.Equal(t, "BLOCKED", done.State)

	var res struct {
		Steps map[string]struct {
			State string `json:"state"`
			Error string `json:"error"`
		} `json:"steps"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+done.Resolution, "admin", nil, &res))
	require.Equal(t, "CLIENT_ERROR", res.Steps["clash"].State)
	require.Contains(t, res.Steps["clash"].Error, "Conflicting keys in input maps")

	var all []batchTask
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task?type=all", "admin", nil, &all))
	require.Len(t, all, 1, "no child was created")
}

func TestPostBatch(t *testing.T) {
	t.Parallel()
	_, gateSrv := newGate(t, true)
	ts := startServer(t, t.TempDir())

	var created struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/batch", "bob", map[string]any{
		"template_name": "batch-child",
		"inputs":        []map[string]any{{"num": "1"}, {"num": "2"}, {"num": "3"}},
		"common_input":  map[string]any{"gate": gateSrv.URL},
		"tags":          map[string]string{"via": "api"},
	}, &created))
	require.NotEmpty(t, created.ID)

	tasks := ts.listBatch(t, "bob", created.ID)
	require.Len(t, tasks, 3)
	for _, task := range tasks {
		require.Equal(t, created.ID, task.Batch)
		done := ts.waitTask(t, task.ID, "bob")
		require.Equal(t, "DONE", done.State)
		require.Equal(t, "api", done.Tags["via"])
		require.NotContains(t, done.Tags, "_utask_parent_task_id")
	}

	// One conflicting element rolls the whole batch back.
	require.Equal(t, http.StatusBadRequest, ts.call(t, http.MethodPost, "/batch", "bob", map[string]any{
		"template_name": "batch-child",
		"inputs":        []map[string]any{{"num": "4"}, {"num": "5", "gate": "http://127.0.0.1:1"}},
		"common_input":  map[string]any{"gate": gateSrv.URL},
	}, nil))
	// So does one invalid input (a missing required input).
	require.Equal(t, http.StatusBadRequest, ts.call(t, http.MethodPost, "/batch", "bob", map[string]any{
		"template_name": "batch-child",
		"inputs":        []map[string]any{{"num": "6", "gate": gateSrv.URL}, {"num": "7"}},
	}, nil))
	var all []batchTask
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task?type=all", "admin", nil, &all))
	require.Len(t, all, 3, "the refused batches left no task")

	require.Equal(t, http.StatusNotFound, ts.call(t, http.MethodGet,
		"/task?batch=00000000-0000-4000-8000-000000000000", "bob", nil, nil))
}

// Deleting the unfinished tasks of a batch wakes its parent: they will never
// end, and the parent must not wait for them.
func TestDeletingBatchTasksWakesTheParent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTemplate(t, dir, "manual-child.yaml", `
name: manual-child
description: a child nobody resolves
title_format: manual child
inputs:
  - name: num
steps:
  say:
    description: say it
    action: {type: echo, configuration: {output: "{{.input.num}}"}}
`)
	writeTemplate(t, dir, "manual-batch.yaml", `
name: manual-batch
description: a batch of manual children
title_format: manual batch
auto_runnable: true
allow_all_resolver_usernames: true
result_format:
  started: "{{.step.children.metadata}}"
steps:
  children:
    description: two children
    action:
      type: batch
      configuration:
        template_name: manual-child
        json_inputs: '[{"num": "1"}, {"num": "2"}]'
`)
	ts := startServerWithTemplates(t, dir)
	var parent taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "manual-batch",
	}, &parent))
	var children []batchTask
	require.Eventually(t, func() bool {
		var tv taskView
		ts.call(t, http.MethodGet, "/task/"+parent.ID, "alice", nil, &tv)
		if tv.State != "WAITING" {
			return false
		}
		var page []batchTask
		ts.call(t, http.MethodGet, "/task?type=all", "admin", nil, &page)
		children = children[:0]
		for _, c := range page {
			if c.Title == "manual child" {
				children = append(children, c)
			}
		}
		return len(children) == 2
	}, 20*time.Second, 5*time.Millisecond)
	for _, c := range children {
		require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodDelete, "/task/"+c.ID, "admin", nil, nil))
	}
	done := ts.waitTask(t, parent.ID, "alice")
	require.Equal(t, "DONE", done.State)
}

const runMaxEchoChild = `
name: runmax-echo-child
description: a child that ends at once
title_format: "runmax child {{.input.num}}"
auto_runnable: true
allow_all_resolver_usernames: true
inputs:
  - name: num
    description: the child number
steps:
  say:
    description: say it
    action:
      type: echo
      configuration:
        output: "{{.input.num}}"
`

// The batch's run_max extension must count in the decision taken at the end
// of the very cycle in which the batch completes: a step failing in that
// cycle must leave the resolution in ERROR (to be retried), not
// BLOCKED_MAXRETRIES while its run_count is below its (extended) run_max.
func TestBatchRunMaxExtensionCountsInTheCompletingCycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTemplate(t, dir, "runmax-echo-child.yaml", runMaxEchoChild)
	writeTemplate(t, dir, "batch-runmax.yaml", `
name: batch-runmax
description: a batch in waves of one, then a failing step
title_format: batch runmax
auto_runnable: true
allow_all_resolver_usernames: true
retry_max: 2
steps:
  children:
    description: three children, one at a time
    action:
      type: batch
      configuration:
        template_name: runmax-echo-child
        json_inputs: '[{"num": "1"}, {"num": "2"}, {"num": "3"}]'
        sub_batch_size: "1"
  after:
    description: fails with a server error
    dependencies: [children]
    action:
      type: echo
      configuration:
        output: {}
        error_message: transient failure
`)
	ts := startServerWithTemplates(t, dir)
	var task taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "batch-runmax",
	}, &task))

	type resView struct {
		State    string `json:"state"`
		RunCount int    `json:"run_count"`
		RunMax   int    `json:"run_max"`
		Steps    map[string]struct {
			State    string `json:"state"`
			TryCount int    `json:"try_count"`
		} `json:"steps"`
	}
	var res resView
	require.Eventually(t, func() bool {
		res = resView{}
		ts.call(t, http.MethodGet, "/resolution/"+task.Resolution, "admin", nil, &res)
		return res.Steps["children"].State == "DONE" && (res.State == "ERROR" || res.State == "BLOCKED_MAXRETRIES")
	}, 20*time.Second, 5*time.Millisecond)
	t.Logf("state %s run_count %d run_max %d batch try_count %d", res.State, res.RunCount, res.RunMax,
		res.Steps["children"].TryCount)
	require.Greater(t, res.RunMax, 2, "the batch extended run_max")
	if res.State == "BLOCKED_MAXRETRIES" {
		require.GreaterOrEqual(t, res.RunCount, res.RunMax,
			"blocked by max retries although run_count is below the extended run_max")
	}
}
