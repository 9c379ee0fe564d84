package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
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

// testServer is a utask server started in this process on a loopback port.
type testServer struct {
	srv     *server.Server
	base    string
	workDir string
}

func startServer(t testing.TB, workDir string, environ ...string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths: []string{filepath.Join("testdata", "templates")},
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

func (ts *testServer) stop(t testing.TB) {
	if ts.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, ts.srv.Stop(ctx))
	ts.srv = nil
}

// withDefaults adds the test configuration to environ: items from env
// variables, admin "admin" unless environ sets utask-cfg.
func withDefaults(environ []string) []string {
	out := append([]string{"CONFIGURATION_FROM=env:CFG"}, environ...)
	for _, kv := range environ {
		if strings.HasPrefix(kv, "CFG_UTASK_CFG=") {
			return out
		}
	}
	return append(out, `CFG_UTASK_CFG={"admin_usernames":["admin"]}`)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// call sends a request as user and decodes the JSON answer into out.
func (ts *testServer) call(t *testing.T, method, path, user string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.base+path, rd)
	require.NoError(t, err)
	if user != "" {
		req.Header.Set("x-remote-user", user)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, out), "body: %s", b)
	}
	return resp.StatusCode
}

type taskView struct {
	ID         string            `json:"id"`
	Tags       map[string]string `json:"tags"`
	State      string            `json:"state"`
	Title      string            `json:"title"`
	Result     map[string]any    `json:"result"`
	Resolution string            `json:"resolution"`
	StepsDone  int               `json:"steps_done"`
	StepsTotal int               `json:"steps_total"`
}

// waitTask polls a task until it reaches a final state.
func (ts *testServer) waitTask(t *testing.T, id, user string) taskView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var tv taskView
		require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+id, user, nil, &tv))
		switch tv.State {
		case "DONE", "BLOCKED", "CANCELLED", "WONTFIX":
			return tv
		}
		require.True(t, time.Now().Before(deadline), "task %s still %s", id, tv.State)
		time.Sleep(5 * time.Millisecond)
	}
}

// recorder is the server the e2e template's http steps call.
type recorder struct {
	mu      sync.Mutex
	records []string
	items   []string
	headers []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/records":
		rc.records = append(rc.records, string(b))
		rc.headers = append(rc.headers, r.Header.Get("X-Task"))
		_, _ = w.Write([]byte(`{"id": "rec-42"}`))
	case "/items":
		rc.items = append(rc.items, string(b))
		var in struct{ Item string }
		_ = json.Unmarshal(b, &in)
		status := "ok"
		if in.Item == "b" {
			status = "special"
		}
		_, _ = w.Write([]byte(`{"status": "` + status + `"}`))
	default:
		http.NotFound(w, r)
	}
}

func TestEndToEndFlow(t *testing.T) {
	t.Parallel()
	endToEndFlow(t)
}

// testKey is an encryption-key item for the tests.
const testKey = `{"identifier":"storage","cipher":"aes-gcm","timestamp":1535627466,"key":"e5f45aef9f072e91f735547be63f3434e6de49695b178e3868b23b0e32269800"}`

func TestEndToEndFlowPostgres(t *testing.T) {
	t.Parallel()
	endToEndFlow(t, "CFG_DATABASE="+pgtest.FreshSchema(t), "CFG_ENCRYPTION_KEY="+testKey)
}

func endToEndFlow(t *testing.T, environ ...string) {
	rec := &recorder{}
	target := httptest.NewServer(rec)
	t.Cleanup(target.Close)
	workDir := t.TempDir()
	ts := startServer(t, workDir, environ...)

	var created taskView
	status := ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "e2e-flow",
		"input":         map[string]any{"target": target.URL, "items": []string{"a", "b", "c"}},
	}, &created)
	require.Equal(t, http.StatusCreated, status)
	require.NotEmpty(t, created.ID)
	require.NotEmpty(t, created.Resolution, "an auto-runnable task starts at once")

	done := ts.waitTask(t, created.ID, "alice")
	require.Equal(t, "DONE", done.State)
	want := map[string]any{
		"record":      "rec-42",
		"branch_a":    "DONE",
		"branch_b":    "PRUNE",
		"after_b":     "PRUNE",
		"join":        "a+PRUNE",
		"each_states": "a=DONE;b=SPECIAL;c=DONE;",
	}
	require.Equal(t, want, done.Result)
	require.Equal(t, 6, done.StepsTotal)
	require.Equal(t, 6, done.StepsDone)

	rec.mu.Lock()
	require.Equal(t, []string{`{"title": "record for ` + created.ID + `"}`}, rec.records)
	require.Equal(t, []string{created.ID}, rec.headers)
	items := append([]string(nil), rec.items...)
	rec.mu.Unlock()
	sort.Strings(items)
	require.Equal(t, []string{
		`{"item": "a", "join": "a+PRUNE"}`,
		`{"item": "b", "join": "a+PRUNE"}`,
		`{"item": "c", "join": "a+PRUNE"}`,
	}, items)

	// The resolution shows every step, the foreach children folded into
	// their parent.
	var res struct {
		State string `json:"state"`
		Steps map[string]struct {
			State    string `json:"state"`
			Children []struct {
				State  string         `json:"state"`
				Output map[string]any `json:"output"`
			} `json:"children"`
		} `json:"steps"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+created.Resolution, "alice", nil, &res))
	require.Equal(t, "DONE", res.State)
	require.Len(t, res.Steps, 6)
	require.Equal(t, "PRUNE", res.Steps["afterB"].State)
	require.Len(t, res.Steps["each"].Children, 3)
	require.Equal(t, "special", res.Steps["each"].Children[1].Output["status"])

	// After a restart on the same directory the task and its result are
	// still there.
	ts.stop(t)
	ts2 := startServer(t, workDir, environ...)
	var again taskView
	require.Equal(t, http.StatusOK, ts2.call(t, http.MethodGet, "/task/"+created.ID, "alice", nil, &again))
	require.Equal(t, "DONE", again.State)
	require.Equal(t, want, again.Result)
}

func TestRejectedRequestsLeaveNothing(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())

	cases := []struct {
		name     string
		body     map[string]any
		status   int
		contains []string
	}{
		{"UnknownTemplate", map[string]any{"template_name": "nope", "input": map[string]any{}}, http.StatusNotFound, []string{"nope"}},
		{"MissingInput", map[string]any{"template_name": "strict-inputs", "input": map[string]any{"name": "abc", "count": 1}}, http.StatusBadRequest, []string{"color"}},
		{"RegexMismatch", map[string]any{"template_name": "strict-inputs", "input": map[string]any{"name": "ABC", "count": 1, "color": "red"}}, http.StatusBadRequest, []string{"name", "regex"}},
		{"WrongType", map[string]any{"template_name": "strict-inputs", "input": map[string]any{"name": "abc", "count": "one", "color": "red"}}, http.StatusBadRequest, []string{"count", "number"}},
		{"IllegalValue", map[string]any{"template_name": "strict-inputs", "input": map[string]any{"name": "abc", "count": 1, "color": "pink"}}, http.StatusBadRequest, []string{"color", "pink"}},
		{"NotAList", map[string]any{"template_name": "strict-inputs", "input": map[string]any{"name": "abc", "count": 1, "color": "red", "tags": "x"}}, http.StatusBadRequest, []string{"tags", "array"}},
	}
	for _, tc := range cases {
		var e struct {
			Error string `json:"error"`
		}
		status := ts.call(t, http.MethodPost, "/task", "alice", tc.body, &e)
		require.Equal(t, tc.status, status, tc.name)
		for _, s := range tc.contains {
			require.Contains(t, e.Error, s, tc.name)
		}
	}

	// Anonymous callers are refused.
	require.Equal(t, http.StatusUnauthorized, ts.call(t, http.MethodPost, "/task", "", cases[1].body, nil))

	var tasks []taskView
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task?type=all", "admin", nil, &tasks))
	require.Empty(t, tasks)

	// A valid request after the rejected ones is the only task.
	var ok taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "strict-inputs",
		"input":         map[string]any{"name": "abc", "count": 3, "color": "red"},
	}, &ok))
	require.Equal(t, "DONE", ts.waitTask(t, ok.ID, "alice").State)
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task?type=all", "admin", nil, &tasks))
	require.Len(t, tasks, 1)
}

func TestSubtaskWakesItsParent(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(slow.Close)
	ts := startServer(t, t.TempDir())

	for _, tc := range []struct {
		name       string
		fail       bool
		childState string
		parent     string
	}{
		{"ChildDone", false, "DONE", "DONE"},
		{"ChildBlocked", true, "BLOCKED", "BLOCKED"},
	} {
		var parent taskView
		require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
			"template_name": "parent-child",
			"input":         map[string]any{"word": "w-" + tc.name, "url": slow.URL, "fail": tc.fail},
		}, &parent), tc.name)
		// The parent waits for the child, which waits for the slow server.
		require.Eventually(t, func() bool {
			var tv taskView
			ts.call(t, http.MethodGet, "/task/"+parent.ID, "alice", nil, &tv)
			return tv.State == "WAITING"
		}, 10*time.Second, 5*time.Millisecond, tc.name)
		release <- struct{}{}
		done := ts.waitTask(t, parent.ID, "alice")
		require.Equal(t, tc.parent, done.State, tc.name)
		var res struct {
			Steps map[string]struct {
				State  string         `json:"state"`
				Output map[string]any `json:"output"`
			} `json:"steps"`
		}
		require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+parent.Resolution, "alice", nil, &res))
		require.Equal(t, tc.childState, res.Steps["child"].Output["state"], tc.name)
		if tc.fail {
			require.Equal(t, "CLIENT_ERROR", res.Steps["child"].State)
			continue
		}
		require.Equal(t, "DONE", done.Result["child_state"])
		require.Equal(t, "w-"+tc.name, done.Result["child_result"])
	}
}

func TestTemplatesCannotReadServerSecrets(t *testing.T) {
	t.Parallel()
	keys := func(ts *testServer) string {
		var created taskView
		require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{"template_name": "config-keys"}, &created))
		done := ts.waitTask(t, created.ID, "alice")
		require.Equal(t, "DONE", done.State)
		return done.Result["keys"].(string)
	}
	secrets := func() []string {
		return []string{
			"CFG_DATABASE=sqlite:" + filepath.Join(t.TempDir(), "x.db"),
			`CFG_ENCRYPTION_KEY={"identifier":"storage","cipher":"aes-gcm","timestamp":1535627466,"key":"e5f45aef9f072e91f735547be63f3434e6de49695b178e3868b23b0e32269800"}`,
			`CFG_GROUPS_AUTH={"g":["alice"]}`,
			"CFG_SOME_API=token",
		}
	}
	// By default only the items that are not the server's own are readable.
	require.Equal(t, "some-api ", keys(startServer(t, t.TempDir(), secrets()...)))

	// concealed_secrets replaces the default list, but never exposes the
	// keys and passwords.
	withList := append([]string{`CFG_UTASK_CFG={"admin_usernames":["admin"],"concealed_secrets":["some-api"]}`}, secrets()...)
	require.Equal(t, "database groups-auth utask-cfg ", keys(startServer(t, t.TempDir(), withList...)))
}

func TestScriptAndTagActions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	var created taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "script-tag", "input": map[string]any{"who": "Ada Lovelace"},
	}, &created))
	done := ts.waitTask(t, created.ID, "alice")
	require.Equal(t, "DONE", done.State)
	require.Equal(t, map[string]any{"greeting": "hello Ada Lovelace", "step": "greet"}, done.Result)
	require.Equal(t, map[string]string{"greeted": "Ada Lovelace"}, done.Tags)
}
