package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/utask/utask/api"
)

// Test sentinels: errPanic makes the test runner panic.
var (
	errDatabaseDown = errors.New("database down") //nolint:gochecknoglobals // test sentinel
	errPanic        = errors.New("panic, please") //nolint:gochecknoglobals // test sentinel
)

func TestAuthentication(t *testing.T) {
	t.Parallel()

	t.Run("HeaderModeAnonymous", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})

		for _, r := range []request{
			{method: http.MethodGet, path: "/meta"},
			{method: http.MethodGet, path: "/task"},
			{method: http.MethodGet, path: "/template"},
			{method: http.MethodGet, path: "/"},
			{method: http.MethodPost, path: "/task", body: `{"template_name": "greet", "input": {"name": "x"}}`},
			{method: http.MethodGet, path: "/meta", header: map[string]string{"X-Remote-User": ""}},
		} {
			resp := b.do(t, r)
			require.Equal(t, http.StatusUnauthorized, resp.status, "%s %s", r.method, r.path)
			require.Equal(t, "unauthorized", resp.errorMessage(t))
			require.Empty(t, resp.header.Get("WWW-Authenticate"))
		}

		require.Empty(t, b.allTasks(t), "an anonymous caller created nothing")
	})

	t.Run("BasicMode", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{basicAuth: map[string]string{"bob": "pw", "ada": "lovelace"}})
		basic := func(user, pass string) map[string]string {
			return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
		}

		for name, header := range map[string]map[string]string{
			"Missing":       nil,
			"WrongPassword": basic("bob", "nope"),
			"UnknownUser":   basic("eve", "pw"),
			"TrustedHeader": {"X-Remote-User": "bob"},
		} {
			resp := b.do(t, request{method: http.MethodGet, path: "/meta", header: header})
			require.Equal(t, http.StatusUnauthorized, resp.status, name)
			require.Equal(t, "unauthorized", resp.errorMessage(t))
			require.Equal(t, `Basic realm="Authorization Required"`, resp.header.Get("WWW-Authenticate"), name)
		}

		resp := b.do(t, request{method: http.MethodGet, path: "/meta", header: basic("ada", "lovelace")})
		require.Equal(t, http.StatusOK, resp.status)

		meta := resp.object(t)
		require.Equal(t, "ada", meta["username"])
		require.Equal(t, []any{"admins"}, meta["user_groups"])
		require.Equal(t, true, meta["user_is_admin"])

		require.Equal(t, http.StatusOK, b.do(t, request{method: http.MethodGet, path: "/unsecured/mon/ping"}).status,
			"ping needs no credentials")
	})
}

func TestMaintenance(t *testing.T) {
	t.Parallel()

	b := setup(t, options{maintenance: true})

	writes := []request{
		{method: http.MethodPost, path: "/task", user: "admin", body: `{"template_name": "greet", "input": {"name": "x"}}`},
		{method: http.MethodPost, path: "/resolution", user: "admin", body: `{"task_id": "00000000-0000-4000-8000-000000000000"}`},
	}

	// Every other write of the route table, on an id that does not exist:
	// without the gate it would be a 404.
	gated := 0

	for _, rt := range api.Routes() {
		if !rt.Maintenance {
			continue
		}

		gated++

		path := strings.NewReplacer("{id}", "00000000-0000-4000-8000-000000000000", "{stepName}", "s",
			"{commentid}", "00000000-0000-4000-8000-000000000001").Replace(rt.Pattern)
		if !strings.Contains(path, "{") && path != "/task" && path != "/resolution" {
			writes = append(writes, request{method: rt.Method, path: path, user: "admin"})
		}
	}

	require.Len(t, writes, gated, "every maintenance-gated route is tried")

	for _, r := range writes {
		resp := b.do(t, r)
		require.Equal(t, http.StatusMethodNotAllowed, resp.status, r.path)
		require.Equal(t, "Maintenance mode activated", resp.errorMessage(t))
	}

	require.Empty(t, b.allTasks(t), "the refused write did not run")

	launched, ran, wakes := b.runner.calls()
	require.Empty(t, launched)
	require.Empty(t, ran)
	require.Zero(t, wakes)

	require.Equal(t, http.StatusOK, b.get(t, "bob", "/template").status, "reads keep working")
	require.Equal(t, http.StatusOK, b.get(t, "bob", "/meta").status)

	anon := b.do(t, request{method: http.MethodPost, path: "/task", body: `{}`})
	require.Equal(t, http.StatusUnauthorized, anon.status, "authentication comes before maintenance")
}

func TestMetaRootPing(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})

	t.Run("Meta", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "bob", "/meta")
		require.Equal(t, http.StatusOK, resp.status)
		require.Equal(t, "application/json", resp.header.Get("Content-Type"))
		require.Equal(t, map[string]any{
			"application_name": "µTask test", "user_is_admin": false, "username": "bob",
			"user_groups": []any{}, "version": "v-test", "commit": "c0ffee",
		}, resp.object(t))

		grace := b.get(t, "grace", "/meta").object(t)
		require.Equal(t, []any{"owners"}, grace["user_groups"])
		require.Equal(t, false, grace["user_is_admin"])
	})

	t.Run("Root", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "bob", "/")
		require.Equal(t, http.StatusMovedPermanently, resp.status)
		require.Equal(t, "/meta", resp.header.Get("Location"))
	})

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "", "/unsecured/mon/ping")
		require.Equal(t, http.StatusOK, resp.status)
		require.Equal(t, "pong", string(resp.body))
	})

	t.Run("TemplateSchema", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "", "/unsecured/template-schema.json")
		require.Equal(t, http.StatusOK, resp.status)
		require.Equal(t, "application/schema+json", resp.header.Get("Content-Type"))
		var doc map[string]any
		require.NoError(t, json.Unmarshal(resp.body, &doc))
		require.Equal(t, "utask task template", doc["title"])
	})

	t.Run("PingFails", func(t *testing.T) {
		t.Parallel()

		down := setup(t, options{ping: func(context.Context) error { return errDatabaseDown }})
		resp := down.get(t, "", "/unsecured/mon/ping")
		require.Equal(t, http.StatusInternalServerError, resp.status)
		require.Empty(t, resp.body)
	})

	t.Run("CORS", func(t *testing.T) {
		t.Parallel()

		for _, path := range []string{"/meta", "/nowhere", "/unsecured/mon/ping"} {
			resp := b.get(t, "", path)
			require.Equal(t, "*", resp.header.Get("Access-Control-Allow-Origin"), path)
			require.Equal(t, "GET,POST,PUT,DELETE", resp.header.Get("Access-Control-Allow-Methods"), path)
			require.Equal(t, "Content-Type", resp.header.Get("Access-Control-Allow-Headers"), path)
			require.Equal(t, "Content-Type", resp.header.Get("Access-Control-Expose-Headers"), path)
		}
	})

	t.Run("UnknownRoutes", func(t *testing.T) {
		t.Parallel()

		for _, r := range []request{
			{method: http.MethodGet, path: "/nowhere", user: "bob"},
			{method: http.MethodDelete, path: "/meta", user: "bob"},
			{method: http.MethodPut, path: "/task", user: "bob"},
			{method: http.MethodOptions, path: "/task", user: "bob"},
		} {
			resp := b.do(t, r)
			require.Equal(t, http.StatusNotFound, resp.status, "%s %s", r.method, r.path)
			require.Equal(t, "404 page not found\n", string(resp.body))
		}
	})

	t.Run("TrailingSlash", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "bob", "/task/?type=all")
		require.Equal(t, http.StatusMovedPermanently, resp.status)
		require.Equal(t, "/task?type=all", resp.header.Get("Location"))

		post := b.post(t, "bob", "/resolution/", "{}")
		require.Equal(t, http.StatusTemporaryRedirect, post.status)
		require.Equal(t, "/resolution", post.header.Get("Location"))
	})

	t.Run("YAMLResponse", func(t *testing.T) {
		t.Parallel()

		resp := b.do(t, request{method: http.MethodGet, path: "/template/greet", user: "bob",
			header: map[string]string{"Accept": "text/html, application/x-yaml, application/json;q=0.9"}})
		require.Equal(t, http.StatusOK, resp.status)
		require.Equal(t, "application/x-yaml", resp.header.Get("Content-Type"))

		var tt map[string]any
		require.NoError(t, yaml.Unmarshal(resp.body, &tt))
		require.Equal(t, "greet", tt["name"])

		jsonFirst := b.do(t, request{method: http.MethodGet, path: "/meta", user: "bob",
			header: map[string]string{"Accept": "application/json, application/x-yaml"}})
		require.Equal(t, "application/json", jsonFirst.header.Get("Content-Type"))
	})
}

func TestAuditLog(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "audit"}}`)
	require.Equal(t, http.StatusForbidden, b.get(t, "mallory", "/task/"+task["id"].(string)).status)
	require.Equal(t, http.StatusUnauthorized, b.get(t, "", "/meta").status)

	var lines []map[string]any

	sc := bufio.NewScanner(strings.NewReader(b.logs.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))

		if line["msg"] == "api request" {
			lines = append(lines, line)
		}
	}

	require.Len(t, lines, 3, "one line per request")

	want := []struct {
		method, path, user, action string
		status                     float64
	}{
		{http.MethodPost, "/task", "bob", "CreateTask", http.StatusCreated},
		{http.MethodGet, "/task/" + task["id"].(string), "mallory", "GetTask", http.StatusForbidden},
		{http.MethodGet, "/meta", "", "GetMetadata", http.StatusUnauthorized},
	}

	for i, w := range want {
		l := lines[i]
		require.Equal(t, w.method, l["method"])
		require.Equal(t, w.path, l["path"])
		require.Equal(t, w.status, l["status"])
		require.Equal(t, w.user, l["user"])
		require.Equal(t, w.action, l["action"])
		require.Contains(t, l, "duration_ms")
	}

	require.Equal(t, task["id"], lines[0]["action_metadata_task_id"])
}

func TestRoutes(t *testing.T) {
	t.Parallel()

	type key struct{ method, pattern string }

	want := map[key]struct {
		op                string
		auth, maintenance bool
		status            int
	}{
		{http.MethodPost, "/task"}:                          {"CreateTask", true, true, http.StatusCreated},
		{http.MethodGet, "/task"}:                           {"ListTasks", true, false, http.StatusOK},
		{http.MethodGet, "/task/{id}"}:                      {"GetTask", true, false, http.StatusOK},
		{http.MethodPost, "/resolution"}:                    {"CreateTaskResolution", true, true, http.StatusCreated},
		{http.MethodGet, "/resolution/{id}"}:                {"GetTaskResolution", true, false, http.StatusOK},
		{http.MethodPost, "/resolution/{id}/run"}:           {"ExecuteTask", true, true, http.StatusNoContent},
		{http.MethodGet, "/template"}:                       {"ListTemplates", true, false, http.StatusOK},
		{http.MethodGet, "/template/{name}"}:                {"GetTemplate", true, false, http.StatusOK},
		{http.MethodGet, "/meta"}:                           {"GetMetadata", true, false, http.StatusOK},
		{http.MethodPost, "/key-rotate"}:                    {"ReencryptData", true, false, http.StatusOK},
		{http.MethodGet, "/{$}"}:                            {"Root", true, false, http.StatusMovedPermanently},
		{http.MethodGet, "/unsecured/mon/ping"}:             {"Ping", false, false, http.StatusOK},
		{http.MethodGet, "/metrics"}:                        {"GetMetrics", false, false, http.StatusOK},
		{http.MethodGet, "/unsecured/template-schema.json"}: {"GetTemplateSchema", false, false, http.StatusOK},
		{http.MethodGet, "/unsecured/spec.json"}:            {"GetOpenAPISpec", false, false, http.StatusOK},
		{http.MethodPost, "/task/{id}/wontfix"}:             {"CancelTask", true, true, http.StatusNoContent},
		{http.MethodPost, "/resolution/{id}/pause"}:         {"PauseTaskExecution", true, true, http.StatusNoContent},
		{http.MethodPost, "/resolution/{id}/extend"}:        {"ExtendTaskResolution", true, true, http.StatusNoContent},
		{http.MethodPost, "/resolution/{id}/cancel"}:        {"CancelTaskResolution", true, true, http.StatusNoContent},
		{http.MethodGet, "/resolution/{id}/step/{stepName}"}: {
			"GetTaskResolutionStep", true, false, http.StatusOK,
		},
		{http.MethodPut, "/resolution/{id}/step/{stepName}/state"}: {
			"EditTaskResolutionStepState", true, true, http.StatusNoContent,
		},
		{http.MethodGet, "/function"}:        {"ListFunctions", true, false, http.StatusOK},
		{http.MethodGet, "/function/{name}"}: {"GetFunction", true, false, http.StatusOK},
		{http.MethodDelete, "/task/{id}"}:    {"DeleteTask", true, true, http.StatusNoContent},
		{http.MethodPost, "/task/{id}/comment"}: {
			"AddTaskComment", true, true, http.StatusCreated,
		},
		{http.MethodGet, "/task/{id}/comment"}: {"ListTaskComments", true, false, http.StatusOK},
		{http.MethodGet, "/task/{id}/comment/{commentid}"}: {
			"GetTaskComment", true, false, http.StatusOK,
		},
		{http.MethodPut, "/task/{id}/comment/{commentid}"}: {
			"EditTaskComment", true, true, http.StatusOK,
		},
		{http.MethodDelete, "/task/{id}/comment/{commentid}"}: {
			"DeleteTaskComment", true, true, http.StatusNoContent,
		},
		{http.MethodGet, "/unsecured/stats"}: {"GetStats", false, false, http.StatusOK},
		{http.MethodPost, "/batch"}:          {"BatchCreateTask", true, true, http.StatusCreated},
		{http.MethodPost, "/unsecured/callback/{id}"}: {
			"HandleCallback", false, true, http.StatusOK,
		},
		{http.MethodPut, "/task/{id}"}:       {"EditTask", true, true, http.StatusOK},
		{http.MethodGet, "/task/{id}/audit"}: {"ListTaskAudit", true, false, http.StatusOK},
		{http.MethodPut, "/resolution/{id}"}: {"EditTaskResolution", true, true, http.StatusNoContent},
		{http.MethodPut, "/resolution/{id}/step/{stepName}"}: {
			"EditTaskResolutionStep", true, true, http.StatusNoContent,
		},
	}

	// Only these routes are for administrators alone.
	admins := map[key]bool{
		{http.MethodDelete, "/task/{id}"}:    true,
		{http.MethodPost, "/key-rotate"}:     true,
		{http.MethodPut, "/resolution/{id}"}: true, {http.MethodPut, "/resolution/{id}/step/{stepName}"}: true,
	}

	routes := api.Routes()
	require.Len(t, routes, len(want))

	ops := map[string]bool{}

	for _, r := range routes {
		w, ok := want[key{r.Method, r.Pattern}]
		require.True(t, ok, "unexpected route %s %s", r.Method, r.Pattern)
		require.Equal(t, w.op, r.OperationID, r.Pattern)
		require.Equal(t, w.auth, r.Auth, r.Pattern)
		require.Equal(t, w.maintenance, r.Maintenance, r.Pattern)
		require.Equal(t, w.status, r.Status, r.Pattern)
		require.Equal(t, admins[key{r.Method, r.Pattern}], r.Admin, r.Pattern)
		require.NotEmpty(t, r.Tag, r.Pattern)
		require.False(t, ops[r.OperationID], "operation id %s is unique", r.OperationID)
		ops[r.OperationID] = true
	}
}
