package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/echo"
	"github.com/utask/utask/api"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store/sqlite"
	"github.com/utask/utask/store/storetest"
	"github.com/utask/utask/template"
)

// fuzzRoutes are the routes the fuzz target aims at: those that take a body
// or a path parameter.
func fuzzRoutes() []api.Route {
	var out []api.Route

	for _, rt := range api.Routes() {
		if rt.Body != nil || strings.Contains(rt.Pattern, "{") && !strings.Contains(rt.Pattern, "{$}") {
			out = append(out, rt)
		}
	}

	return out
}

// fuzzUsers are the callers the fuzz target picks from: an administrator, the
// requester, a template owner and a stranger.
func fuzzUsers() []string {
	return []string{adminByUser.user(), requester.user(), ownerByUser.user(), otherUser.user()}
}

// fuzzPath fills pattern: the first parameter ({id} or {name}) with id, the
// second ({commentid} or {stepName}) with sub, each escaped, or with the
// fixture's values when empty. It reports false for a value the router
// would clean away (a dot segment), which never reaches a handler.
func fuzzPath(f *decodeFixture, pattern, id, sub string) (string, bool) {
	override := map[string]string{}

	for _, v := range []struct {
		params []string
		value  string
	}{
		{[]string{"{id}", "{name}"}, id},
		{[]string{"{commentid}", "{stepName}"}, sub},
	} {
		if v.value == "" {
			continue
		}

		if v.value == "." || v.value == ".." {
			return "", false
		}

		for _, p := range v.params {
			override[p] = url.PathEscape(v.value)
		}
	}

	// A path whose decoded form is not clean ("a//b", a trailing slash,
	// dots) does not reach a route: the router answers it as an unknown
	// path (a plain-text 404, or a redirect), whatever the route.
	built := f.path(pattern, override)
	if decoded, err := url.PathUnescape(built); err != nil || path.Clean(decoded) != decoded {
		return "", false
	}

	return built, true
}

// fuzzBundle is a bundle like setup's, with no logs, that lives as long as
// tb: the fuzz target builds it once, since building one for every input
// would take most of the time, and gives every input fresh objects in it.
func fuzzBundle(tb testing.TB) *bundle {
	tb.Helper()

	ctx := context.Background()

	st, err := sqlite.Open(ctx, sqlite.Config{
		Path:   filepath.Join(tb.TempDir(), "utask.db"),
		Sealer: storetest.NewSealer(tb),
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, st.Close()) })

	var templates []*template.Template

	versions := map[string]int64{}

	for _, src := range []string{greetTemplate, manualTemplate, hiddenTemplate, blockedTemplate} {
		tt, err := template.Parse([]byte(src))
		require.NoError(tb, err)

		doc, err := json.Marshal(tt)
		require.NoError(tb, err)

		versions[tt.Name], err = st.TemplateVersionPut(ctx, tt.Name, doc)
		require.NoError(tb, err)

		templates = append(templates, tt)
	}

	functions := testFunctions(2)
	reg := action.NewRegistry()
	require.NoError(tb, reg.Register(echo.Name, echo.New()))

	runner := &testRunner{}
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	svc := service.New(service.Config{
		Store:     st,
		Runner:    runner,
		Templates: service.NewTemplates(templates, versions),
		Functions: functions,
		Catalog:   &template.Catalog{Actions: reg, Functions: functions, Templates: map[string]bool{}},
		Policy:    auth.Policy{AdminUsernames: []string{"admin"}, AdminGroups: []string{"admins"}},
		Now:       clk.Now,
	})

	groups := map[string][]string{"owners": {"grace"}, "watchers": {"walt"}, "admins": {"ada"}}
	srv := httptest.NewServer(api.New(api.Config{
		Service:      svc,
		Provider:     auth.NewDefaultProvider(nil, groups),
		MaxBodyBytes: decodeMaxBody,
	}))
	tb.Cleanup(srv.Close)

	return &bundle{store: st, runner: runner, server: srv, logs: &syncBuffer{}, clock: clk}
}

// FuzzRequestDecoding sends arbitrary bodies, content types and path
// parameters to the routes that take them, as one of a few callers, and
// requires that the API never fails with a 500 (a panic is one) and that
// every 4xx carries a JSON {"error": "…"} with a message.
func FuzzRequestDecoding(f *testing.F) {
	routes := fuzzRoutes()
	index := map[string]uint8{}

	for i, rt := range routes {
		index[rt.Method+" "+rt.Pattern] = uint8(i) //nolint:gosec // the route table is short
	}

	for key, fields := range bodyRoutes() {
		for _, tc := range malformedBodies(fields) {
			f.Add(index[key], uint8(0), tc.contentType, "", "", []byte(tc.body))
		}
	}

	for key, body := range validBodies() {
		f.Add(index[key], uint8(1), "application/json", "", "", []byte(body))
	}

	for _, rt := range routes {
		for _, pc := range pathCases(rt.Pattern) {
			id, sub := pc.value, ""
			if pc.param == "{commentid}" || pc.param == "{stepName}" {
				id, sub = "", pc.value
			}

			f.Add(index[rt.Method+" "+rt.Pattern], uint8(0), "", id, sub, []byte("{}"))
		}
	}

	f.Add(uint8(0), uint8(2), "text/plain", "", "", []byte("template_name: manual\ninput: {why: yes}\n"))
	f.Add(uint8(0), uint8(3), "application/x-yaml", "a/b", "%zz", []byte("&a [*a, *a]"))

	users := fuzzUsers()
	b := fuzzBundle(f)

	// current is the fixture the inputs aim at; a write that succeeds may
	// have changed or removed it, so the next input gets a new one.
	var current *decodeFixture

	f.Fuzz(func(t *testing.T, routeIndex, userIndex uint8, contentType, id, sub string, body []byte) {
		rt := routes[int(routeIndex)%len(routes)]
		user := users[int(userIndex)%len(users)]

		if current == nil {
			fx := populate(t, b, manualResolution, state.ResPaused, otherUser)
			current = &decodeFixture{b: fx.b, taskID: fx.taskID, resolutionID: fx.resolutionID, commentID: fx.commentID}
		}

		df := current

		path, ok := fuzzPath(df, rt.Pattern, id, sub)
		if !ok {
			return
		}

		path += pathQuery(rt.Pattern)

		req, err := http.NewRequestWithContext(t.Context(), rt.Method, "http://127.0.0.1"+path, bytes.NewReader(body))
		require.NoError(t, err, path)
		req.Header.Set("X-Remote-User", user)

		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}

		rec := httptest.NewRecorder()
		df.b.server.Config.Handler.ServeHTTP(rec, req)

		if rt.Method != http.MethodGet && rec.Code < http.StatusBadRequest {
			current = nil
		}

		requireWellFormedAnswer(t, rt.Method+" "+path, rec)
	})
}

// requireWellFormedAnswer fails on a 500, and on a 4xx whose body is not a
// JSON object with a non-empty "error" message.
func requireWellFormedAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()

	require.NotEqual(t, http.StatusInternalServerError, rec.Code, "%s: %s", what, rec.Body.Bytes())

	if rec.Code < http.StatusBadRequest || rec.Code >= http.StatusInternalServerError {
		return
	}

	require.Equal(t, "application/json", rec.Header().Get("Content-Type"), "%s: %d %s", what, rec.Code, rec.Body.Bytes())

	var m map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &m), "%s: %d %s", what, rec.Code, rec.Body.Bytes())

	msg, _ := m["error"].(string)
	require.NotEmpty(t, msg, "%s: %d %s", what, rec.Code, rec.Body.Bytes())
}
