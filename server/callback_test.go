package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

// callbackStep is a callback step as GET /resolution shows it.
type callbackStep struct {
	State  string         `json:"state"`
	Output map[string]any `json:"output"`
	Error  string         `json:"error"`
}

// callbackSteps reads the steps of a resolution as admin.
func (ts *testServer) callbackSteps(t *testing.T, resolutionID string) map[string]callbackStep {
	t.Helper()
	var res struct {
		Steps map[string]callbackStep `json:"steps"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+resolutionID, "admin", nil, &res))
	return res.Steps
}

// waitingCallbackTask starts a callback-flow task and waits until its wait
// step waits; it returns the task and the output of its create step.
func (ts *testServer) waitingCallbackTask(t *testing.T) (taskView, map[string]any) {
	t.Helper()
	var task taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{
		"template_name": "callback-flow",
	}, &task))
	require.Eventually(t, func() bool {
		var tv taskView
		ts.call(t, http.MethodGet, "/task/"+task.ID, "alice", nil, &tv)
		return tv.State == "WAITING"
	}, 20*time.Second, 5*time.Millisecond)
	steps := ts.callbackSteps(t, task.Resolution)
	require.Equal(t, "DONE", steps["create"].State)
	require.Equal(t, "WAITING", steps["wait"].State)
	require.Equal(t, "task is waiting for a callback", steps["wait"].Error)
	return task, steps["create"].Output
}

// post sends body to a URL, without credentials, and returns the status and
// the answer.
func post(t *testing.T, u, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body)) //nolint:noctx // a test's request
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, buf.String()
}

func TestCallbackResolvesAWaitingStep(t *testing.T) {
	t.Parallel()
	callbackResolvesAWaitingStep(t)
}

func TestCallbackResolvesAWaitingStepPostgres(t *testing.T) {
	t.Parallel()
	callbackResolvesAWaitingStep(t, "CFG_DATABASE="+pgtest.FreshSchema(t), "CFG_ENCRYPTION_KEY="+testKey)
}

func callbackResolvesAWaitingStep(t *testing.T, environ ...string) {
	ts := startServer(t, t.TempDir(), environ...)
	task, out := ts.waitingCallbackTask(t)

	id, _ := out["id"].(string)
	token, _ := out["token"].(string)
	require.NotEmpty(t, id)
	require.NotEmpty(t, token)
	require.NotEqual(t, id, token)
	require.Equal(t, map[string]any{
		"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": []any{"approved"},
		"properties": map[string]any{"approved": map[string]any{"type": "boolean"}},
	}, out["schema"])

	// With no base URL configured, the URL points at this server, on the
	// loopback address.
	callURL, _ := out["url"].(string)
	require.Equal(t, ts.base+"/unsecured/callback/"+id+"?t="+url.QueryEscape(token), callURL)

	wrong := ts.base + "/unsecured/callback/" + id + "?t=" + strings.Repeat("0", len(token))
	status, body := post(t, wrong, `{"approved": true}`)
	require.Equal(t, http.StatusNotFound, status, body)
	unknown := ts.base + "/unsecured/callback/00000000-0000-4000-8000-000000000000?t=" + token
	status2, body2 := post(t, unknown, `{"approved": true}`)
	require.Equal(t, http.StatusNotFound, status2)
	require.Equal(t, body, body2, "a wrong token reads as an unknown id")

	status, body = post(t, callURL, `{"approved": "yes"}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "unable to validate body")

	status, body = post(t, callURL, `{"approved": true, "note": "fine"}`)
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"message": "The callback has been resolved"}`, body)

	done := ts.waitTask(t, task.ID, "alice")
	require.Equal(t, "DONE", done.State)
	require.Equal(t, "true", done.Result["approved"])
	wait := ts.callbackSteps(t, task.Resolution)["wait"]
	require.Equal(t, id, wait.Output["id"])
	require.Equal(t, map[string]any{"approved": true, "note": "fine"}, wait.Output["body"])
	called, err := time.Parse(time.RFC3339, wait.Output["date"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), called, time.Minute)

	status, body = post(t, callURL, `{"approved": false}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "callback has already been resolved")
}

func TestCallbackURLFromConfiguration(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		environ []string
		prefix  string
	}{
		"CallbackConfig": {
			environ: []string{`CFG_CALLBACK_CONFIG={"base_url": "https://tasks.example.org/", "path_prefix": "hooks/"}`},
			prefix:  "https://tasks.example.org/hooks/",
		},
		"CallbackConfigRootPrefix": {
			environ: []string{`CFG_CALLBACK_CONFIG={"base_url": "https://tasks.example.org", "path_prefix": "/"}`},
			prefix:  "https://tasks.example.org/",
		},
		"UtaskCfgBaseURL": {
			environ: []string{`CFG_UTASK_CFG={"admin_usernames": ["admin"], "base_url": "https://utask.example.org/"}`},
			prefix:  "https://utask.example.org/unsecured/callback/",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, t.TempDir(), c.environ...)
			task, out := ts.waitingCallbackTask(t)
			id, _ := out["id"].(string)
			token, _ := out["token"].(string)
			require.Equal(t, c.prefix+id+"?t="+token, out["url"])

			// The route itself does not move.
			status, body := post(t, ts.base+"/unsecured/callback/"+id+"?t="+token, `{"approved": false}`)
			require.Equal(t, http.StatusOK, status, body)
			done := ts.waitTask(t, task.ID, "alice")
			require.Equal(t, "DONE", done.State)
			require.Equal(t, "false", done.Result["approved"])
		})
	}
}

func TestCallbackRefusedWhenTaskIsOver(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	task, out := ts.waitingCallbackTask(t)
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/resolution/"+task.Resolution+"/cancel",
		"admin", nil, nil))

	status, body := post(t, out["url"].(string), `{"approved": true}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "related task is not in a valid state: CANCELLED")
}

// A callback called while its resolution is PAUSED is recorded, and the
// resolution stays paused until someone runs it.
func TestCallbackLeavesAPausedResolutionPaused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir())
	task, out := ts.waitingCallbackTask(t)
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/resolution/"+task.Resolution+"/pause", "alice", nil, nil))

	callURL, _ := out["url"].(string)
	status, body := post(t, callURL, `{"approved": true}`)
	require.Equal(t, http.StatusOK, status, body)
	// Had the call run the resolution, its cycle would have started before
	// the answer.
	var res struct {
		State string `json:"state"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+task.Resolution, "admin", nil, &res))
	require.Equal(t, "PAUSED", res.State)
	require.Equal(t, "WAITING", ts.callbackSteps(t, task.Resolution)["wait"].State)

	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/resolution/"+task.Resolution+"/run", "alice", nil, nil))
	done := ts.waitTask(t, task.ID, "alice")
	require.Equal(t, "DONE", done.State)
	require.Equal(t, "true", done.Result["approved"])
}

// With --http-port 0 and no base URL, callback URLs carry the port the
// server listens on, not 0. The server listens on the address
// --http-host names.
func TestCallbackURLOnAPickedPort(t *testing.T) {
	t.Parallel()
	workDir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths: []string{filepath.Join("testdata", "templates")},
			ScriptsPath:    filepath.Join("testdata", "scripts"),
			FunctionsPath:  filepath.Join(workDir, "functions"),
			Region:         "default",
			LogsFormat:     "text",
			HTTPPort:       0,
			HTTPHost:       "127.0.0.1",
		},
		Environ: withDefaults(nil),
		WorkDir: workDir,
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(srv.Addr())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host, "--http-host")
	ts := &testServer{srv: srv, base: "http://127.0.0.1:" + port, workDir: workDir}
	t.Cleanup(func() { ts.stop(t) })
	_, out := ts.waitingCallbackTask(t)
	callURL, _ := out["url"].(string)
	require.True(t, strings.HasPrefix(callURL, "http://127.0.0.1:"+port+"/unsecured/callback/"), callURL)
}
