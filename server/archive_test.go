package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

// archivedYAML is a template whose first step always fails with a client
// error, so that its resolutions stop, and whose second step runs once an
// administrator marks the first IGNORED.
const archivedYAML = `name: archive-a
description: a template removed while its tasks live on
title_format: archived for {{.input.who}}
auto_runnable: true
allow_all_resolver_usernames: true
inputs:
  - name: who
    description: who asks
steps:
  probe:
    description: fails with a client error
    custom_states: [IGNORED]
    action:
      type: echo
      configuration:
        error_message: refused
        error_type: client
  after:
    description: runs once probe is ignored
    dependencies: ["probe:IGNORED"]
    action:
      type: echo
      configuration:
        output: {greeting: "resumed for {{.input.who}}"}
`

// keptYAML is a template that stays on disk throughout.
const keptYAML = `name: archive-b
description: a template that stays
title_format: kept
auto_runnable: true
allow_all_resolver_usernames: true
steps:
  hello:
    description: says hello
    action: {type: echo, configuration: {output: {said: hello}}}
`

// logBuffer collects the log lines of a server.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startWithTemplates starts a server on workDir's database with the
// templates of dir, logging into logs.
func startWithTemplates(t testing.TB, workDir, dir string, logs *logBuffer, environ ...string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths: []string{dir},
			ScriptsPath:    filepath.Join("testdata", "scripts"),
			FunctionsPath:  filepath.Join(workDir, "functions"),
			Region:         "default",
			LogsFormat:     "text",
		},
		Environ:  withDefaults(environ),
		WorkDir:  workDir,
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		Listener: ln,
	})
	require.NoError(t, err)
	ts := &testServer{srv: srv, base: "http://" + ln.Addr().String(), workDir: workDir}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// templateFlags is what the archive test reads of a template.
type templateFlags struct {
	Name    string `json:"name"`
	Hidden  bool   `json:"hidden"`
	Blocked bool   `json:"blocked"`
}

// listedTemplates returns the templates GET /template lists to user, by
// name.
func (ts *testServer) listedTemplates(t *testing.T, user string) map[string]templateFlags {
	t.Helper()
	var list []templateFlags
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/template", user, nil, &list))
	out := map[string]templateFlags{}
	for _, tf := range list {
		out[tf.Name] = tf
	}
	return out
}

func TestArchivedTemplate(t *testing.T) {
	t.Parallel()
	archivedTemplate(t)
}

func TestArchivedTemplatePostgres(t *testing.T) {
	t.Parallel()
	archivedTemplate(t, "CFG_DATABASE="+pgtest.FreshSchema(t), "CFG_ENCRYPTION_KEY="+testKey)
}

func archivedTemplate(t *testing.T, environ ...string) {
	workDir := t.TempDir()
	dir := t.TempDir()
	fileA := filepath.Join(dir, "a.yaml")
	require.NoError(t, os.WriteFile(fileA, []byte(archivedYAML), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(keptYAML), 0o600))

	// First start: both templates, two tasks of A that stop on their
	// failing step; one is paused.
	ts := startWithTemplates(t, workDir, dir, &logBuffer{}, environ...)
	var paused, blocked taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "archive-a", "input": map[string]any{"who": "alice"}}, &paused))
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "archive-a", "input": map[string]any{"who": "bob"}}, &blocked))
	require.Equal(t, "BLOCKED", ts.waitTask(t, paused.ID, "alice").State)
	require.Equal(t, "BLOCKED", ts.waitTask(t, blocked.ID, "alice").State)
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, "/resolution/"+paused.Resolution+"/pause", "admin", nil, nil))
	ts.stop(t)

	// Second start without A's file: A is archived.
	require.NoError(t, os.Remove(fileA))
	logs := &logBuffer{}
	ts = startWithTemplates(t, workDir, dir, logs, environ...)
	require.Contains(t, logs.String(), `msg="archived task template" template_name=archive-a`)

	require.Equal(t, map[string]templateFlags{"archive-b": {Name: "archive-b"}}, ts.listedTemplates(t, "alice"),
		"an archived template is hidden from non-administrators")
	require.Equal(t, map[string]templateFlags{
		"archive-a": {Name: "archive-a", Hidden: true, Blocked: true},
		"archive-b": {Name: "archive-b"},
	}, ts.listedTemplates(t, "admin"))

	var full struct {
		templateFlags
		Steps map[string]any `json:"steps"`
	}
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/template/archive-a", "alice", nil, &full))
	require.Equal(t, templateFlags{Name: "archive-a", Hidden: true, Blocked: true}, full.templateFlags)
	require.Len(t, full.Steps, 2, "the archived template is read in full")

	var refused struct {
		Error string `json:"error"`
	}
	require.Equal(t, http.StatusBadRequest, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "archive-a", "input": map[string]any{"who": "carol"}}, &refused))
	require.Equal(t, "Template not available (blocked)", refused.Error)

	var read taskView
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+blocked.ID, "alice", nil, &read))
	require.Equal(t, "BLOCKED", read.State)
	require.Equal(t, "archived for bob", read.Title)
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+paused.ID, "alice", nil, &read))
	require.Equal(t, paused.Resolution, read.Resolution)

	// The paused resolution resumes and finishes on its recorded version.
	res := "/resolution/" + paused.Resolution
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPut, res+"/step/probe/state", "admin", map[string]any{"state": "IGNORED"}, nil))
	require.Equal(t, http.StatusNoContent, ts.call(t, http.MethodPost, res+"/run", "admin", nil, nil))
	require.Equal(t, "DONE", ts.waitTask(t, paused.ID, "alice").State)
	steps := ts.stepsOf(t, paused.Resolution)
	require.Equal(t, "IGNORED", steps["probe"].State)
	require.Equal(t, "DONE", steps["after"].State)
	require.Equal(t, map[string]any{"greeting": "resumed for alice"}, steps["after"].Output)

	// The other template is untouched.
	var kept taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{"template_name": "archive-b"}, &kept))
	require.Equal(t, "DONE", ts.waitTask(t, kept.ID, "alice").State)
	ts.stop(t)

	// Third start with A's file back: A is listed and takes tasks again.
	require.NoError(t, os.WriteFile(fileA, []byte(archivedYAML), 0o600))
	logs = &logBuffer{}
	ts = startWithTemplates(t, workDir, dir, logs, environ...)
	require.NotContains(t, logs.String(), "archived task template")
	require.Equal(t, map[string]templateFlags{
		"archive-a": {Name: "archive-a"},
		"archive-b": {Name: "archive-b"},
	}, ts.listedTemplates(t, "alice"))
	var again taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "archive-a", "input": map[string]any{"who": "dave"}}, &again))
	require.Equal(t, "BLOCKED", ts.waitTask(t, again.ID, "alice").State, "the restored template runs as written")
}

func TestArchivedTemplateWithoutTasksIsGone(t *testing.T) {
	t.Parallel()
	workDir := t.TempDir()
	dir := t.TempDir()
	fileA := filepath.Join(dir, "a.yaml")
	require.NoError(t, os.WriteFile(fileA, []byte(archivedYAML), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(keptYAML), 0o600))
	ts := startWithTemplates(t, workDir, dir, &logBuffer{})
	var kept taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice", map[string]any{"template_name": "archive-b"}, &kept))
	ts.stop(t)

	require.NoError(t, os.Remove(fileA))
	logs := &logBuffer{}
	ts = startWithTemplates(t, workDir, dir, logs)
	require.NotContains(t, logs.String(), "archived task template")
	require.Equal(t, map[string]templateFlags{"archive-b": {Name: "archive-b"}}, ts.listedTemplates(t, "admin"))
	require.Equal(t, http.StatusNotFound, ts.call(t, http.MethodGet, "/template/archive-a", "admin", nil, nil))
	require.Equal(t, http.StatusNotFound, ts.call(t, http.MethodPost, "/task", "alice",
		map[string]any{"template_name": "archive-a", "input": map[string]any{"who": "x"}}, nil))
}
