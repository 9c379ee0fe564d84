package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/api"
	"github.com/utask/utask/state"
)

// decodeMaxBody is the body limit of the decoding tests.
const decodeMaxBody = 1024

// bindingPrefix starts the message of every body that cannot be decoded.
const bindingPrefix = "binding error: error parsing request body: "

// decodeFixture is a bundle with a task of the manual template, its
// resolution (paused, with steps) and a comment, so that every path id of
// the route table names something that exists.
type decodeFixture struct {
	b                               *bundle
	taskID, resolutionID, commentID string
}

func newDecodeFixture(t *testing.T) *decodeFixture {
	t.Helper()

	f := buildFixture(t, options{functions: testFunctions(2), maxBodyBytes: decodeMaxBody},
		manualResolution, state.ResPaused, otherUser)

	return &decodeFixture{b: f.b, taskID: f.taskID, resolutionID: f.resolutionID, commentID: f.commentID}
}

// path fills the parameters of pattern with the fixture's ids, or with the
// values of override for the parameters it names.
func (f *decodeFixture) path(pattern string, override map[string]string) string {
	values := map[string]string{
		"{id}": f.taskID, "{commentid}": f.commentID, "{stepName}": authzStep, "{name}": "manual", "{$}": "",
	}
	if strings.HasPrefix(pattern, "/resolution/") {
		values["{id}"] = f.resolutionID
	}

	if strings.HasPrefix(pattern, "/function/") {
		values["{name}"] = "fn-00"
	}

	for k, v := range override {
		values[k] = v
	}

	pairs := make([]string, 0, 2*len(values))
	for k, v := range values {
		pairs = append(pairs, k, v)
	}

	return strings.NewReplacer(pairs...).Replace(pattern)
}

// bodyFields names, for a route with a body, one field of each JSON type
// ("" when the body has none), to build the wrong-type cases.
type bodyFields struct {
	str, list, object, boolean string
	// nested is a body with a misspelt field inside a declared one, and
	// nestedField that field's name.
	nested, nestedField string
	// free bodies are any JSON object: no field is unknown.
	free bool
	// extra are the cases of this route alone.
	extra []decodeCase
}

// bodyRoutes are the routes whose bodies the decoding tests know; every
// route of the route table with a body must be listed.
func bodyRoutes() map[string]bodyFields {
	return map[string]bodyFields{
		"POST /task": {
			str: "template_name", list: "watcher_usernames", object: "input",
			extra: []decodeCase{typeCase("TagAsNumber", "tags", `{"a": 1}`, "a string", "number")},
		},
		"POST /batch":                        {str: "template_name", list: "inputs", object: "common_input"},
		"POST /unsecured/callback/{id}":      {free: true},
		"PUT /task/{id}":                     {list: "watcher_groups", object: "input"},
		"POST /task/{id}/comment":            {str: "content"},
		"PUT /task/{id}/comment/{commentid}": {str: "content"},
		"POST /resolution":                   {str: "task_id", object: "resolver_inputs", boolean: "start_over"},
		"PUT /resolution/{id}": {
			object: "steps", nested: `{"steps": {"first": {"actoin": {}}}}`, nestedField: "actoin",
			extra: []decodeCase{{
				name: "StepFieldType", body: `{"steps": {"first": {"max_retries": "x"}}}`, status: http.StatusBadRequest,
				msg: bindingPrefix + `field "steps.max_retries": expected a number, got string`,
			}},
		},
		"PUT /resolution/{id}/step/{stepName}/state": {str: "state"},
		"PUT /resolution/{id}/step/{stepName}": {
			str: "description", list: "dependencies", object: "action", boolean: "idempotent",
			nested: `{"action": {"typ": "echo"}}`, nestedField: "typ",
		},
	}
}

// decodeCase is one malformed request and the answer it gets.
type decodeCase struct {
	name        string
	body        string
	contentType string
	status      int
	msg         string // the exact error message; "" checks only the prefix
	prefix      string
}

// aliasBomb is a small YAML document whose aliases expand to 9^9 strings.
func aliasBomb() string {
	var sb strings.Builder

	sb.WriteString(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")

	for prev, name := 'a', 'b'; name <= 'i'; prev, name = name, name+1 {
		refs := strings.TrimSuffix(strings.Repeat("*"+string(prev)+",", 9), ",")
		sb.WriteString(string(name) + ": &" + string(name) + " [" + refs + "]\n")
	}

	return sb.String()
}

// typeCase is a body whose field has the wrong JSON type.
func typeCase(name, field, value, expected, got string) decodeCase {
	return decodeCase{
		name: name, body: `{"` + field + `": ` + value + `}`, status: http.StatusBadRequest,
		msg: bindingPrefix + `field "` + field + `": expected ` + expected + `, got ` + got,
	}
}

// malformedBodies returns the malformed bodies of a route whose body has
// the fields of fields.
func malformedBodies(fields bodyFields) []decodeCase {
	cases := []decodeCase{
		{
			name: "Array", body: `[1, 2]`,
			status: http.StatusBadRequest, msg: bindingPrefix + "the body must be an object, got array",
		},
		{
			name: "Scalar", body: `"just a string"`,
			status: http.StatusBadRequest, msg: bindingPrefix + "the body must be an object, got string",
		},
		{
			name: "Number", body: `12`,
			status: http.StatusBadRequest, msg: bindingPrefix + "the body must be an object, got number",
		},
		{name: "TruncatedJSON", body: `{"a": "b"`, status: http.StatusBadRequest, prefix: bindingPrefix},
		{name: "TrailingJSON", body: `{} {}`, status: http.StatusBadRequest, prefix: bindingPrefix},
		{name: "BadYAML", body: "a: [\n", contentType: "application/x-yaml", status: http.StatusBadRequest, prefix: bindingPrefix},
		{
			// Aliases that would expand to millions of values are refused.
			name: "YAMLAliasBomb", body: aliasBomb(), contentType: "application/x-yaml",
			status: http.StatusBadRequest, prefix: bindingPrefix,
		},
		{
			// api.md §1.2 gives 400 for a body over max_body_bytes.
			name: "TooLarge", body: `{"x": "` + strings.Repeat("a", decodeMaxBody) + `"}`,
			status: http.StatusBadRequest, msg: bindingPrefix + "http: request body too large",
		},
	}

	if !fields.free {
		cases = append(cases,
			decodeCase{
				name: "UnknownField", body: `{"foo": 1}`,
				status: http.StatusBadRequest, msg: bindingPrefix + `unknown field "foo"`,
			},
			decodeCase{
				name: "UnknownFieldInYAML", body: "foo: 1\n", contentType: "text/plain",
				status: http.StatusBadRequest, msg: bindingPrefix + `unknown field "foo"`,
			},
		)
	}

	if fields.str != "" {
		cases = append(cases,
			decodeCase{
				name: "MisspeltField", body: `{"` + fields.str + `x": "a"}`,
				status: http.StatusBadRequest, msg: bindingPrefix + `unknown field "` + fields.str + `x"`,
			},
			typeCase("StringAsNumber", fields.str, "3", "a string", "number"),
			typeCase("StringAsObject", fields.str, `{"a": 1}`, "a string", "object"),
		)
	}

	if fields.list != "" {
		cases = append(cases, typeCase("ListAsString", fields.list, `"wendy"`, "a list", "string"))
	}

	if fields.object != "" {
		cases = append(cases, typeCase("ObjectAsList", fields.object, "[1]", "an object", "array"))
	}

	if fields.boolean != "" {
		cases = append(cases, typeCase("BooleanAsString", fields.boolean, `"yes"`, "a boolean", "string"))
	}

	if fields.nested != "" {
		c := decodeCase{name: "Nested", body: fields.nested, status: http.StatusBadRequest, prefix: bindingPrefix}
		if fields.nestedField != "" {
			c.msg = bindingPrefix + `unknown field "` + fields.nestedField + `"`
		}

		cases = append(cases, c)
	}

	return append(cases, fields.extra...)
}

func TestDecodeBodies(t *testing.T) {
	t.Parallel()

	known := bodyRoutes()

	t.Run("EveryBodyRouteIsListed", func(t *testing.T) {
		t.Parallel()

		for _, rt := range api.Routes() {
			if rt.Body == nil {
				continue
			}

			_, ok := known[rt.Method+" "+rt.Pattern]
			require.True(t, ok, "route %s %s takes a body but has no decoding cases", rt.Method, rt.Pattern)
		}
	})

	for _, rt := range api.Routes() {
		key := rt.Method + " " + rt.Pattern

		fields, ok := known[key]
		if !ok {
			continue
		}

		t.Run(strings.NewReplacer("{", "", "}", "").Replace(key), func(t *testing.T) {
			t.Parallel()

			f := newDecodeFixture(t)
			before := f.snapshot(t)

			for _, tc := range malformedBodies(fields) {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()

					header := map[string]string{}
					if tc.contentType != "" {
						header["Content-Type"] = tc.contentType
					}

					resp := f.b.do(t, request{
						method: rt.Method, path: f.path(rt.Pattern, nil) + pathQuery(rt.Pattern), user: "admin",
						body: tc.body, header: header,
					})
					require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

					msg := resp.errorMessage(t)
					if tc.msg != "" {
						require.Equal(t, tc.msg, msg)
					} else {
						require.True(t, strings.HasPrefix(msg, tc.prefix), msg)
					}
				})
			}

			t.Cleanup(func() {
				require.Equal(t, before, f.snapshot(t), "malformed bodies change nothing")
			})
		})
	}
}

// snapshot is the authorization table's snapshot of the fixture.
func (f *decodeFixture) snapshot(t *testing.T) authzSnapshot {
	t.Helper()

	return (&authzFixture{b: f.b, taskID: f.taskID, resolutionID: f.resolutionID, commentID: f.commentID}).snapshot(t)
}

// pathCase is one malformed or unknown path parameter and the answer it
// gets.
type pathCase struct {
	param, value string
	status       int
	msg          string
}

// pathCases returns the malformed and unknown values of the parameters of
// pattern, with their answers (api.md §1.3: a malformed UUID is a 400, an
// unknown one a 404).
func pathCases(pattern string) []pathCase {
	what := "task"

	switch {
	case strings.HasPrefix(pattern, "/resolution/"):
		what = "resolution"
	case strings.HasPrefix(pattern, "/unsecured/callback/"):
		what = "callback"
	}

	var cases []pathCase

	if strings.Contains(pattern, "{id}") {
		cases = append(cases,
			pathCase{"{id}", "not-a-uuid", http.StatusBadRequest,
				"Failed to load " + what + ` from public id: invalid input syntax for type uuid: "not-a-uuid"`},
			pathCase{"{id}", "1234", http.StatusBadRequest,
				"Failed to load " + what + ` from public id: invalid input syntax for type uuid: "1234"`},
			pathCase{"{id}", unknownID, http.StatusNotFound, ""},
		)
	}

	if strings.Contains(pattern, "{commentid}") {
		cases = append(cases,
			pathCase{"{commentid}", "not-a-uuid", http.StatusBadRequest,
				`Failed to load comment from public id: invalid input syntax for type uuid: "not-a-uuid"`},
			pathCase{"{commentid}", unknownID, http.StatusNotFound, ""},
		)
	}

	if strings.Contains(pattern, "{stepName}") {
		cases = append(cases, pathCase{"{stepName}", "nope", http.StatusNotFound,
			`given stepName "nope" for this resolution not found`})
	}

	if strings.Contains(pattern, "{name}") {
		cases = append(cases, pathCase{"{name}", "nope", http.StatusNotFound, ""})
	}

	return cases
}

// pathQuery is the query a route needs to reach its path parameters: a
// callback token.
func pathQuery(pattern string) string {
	if strings.HasPrefix(pattern, "/unsecured/callback/") {
		return "?t=some-token"
	}

	return ""
}

// validBodies are bodies that decode on each route with a body, so that the
// path parameters decide the answer.
func validBodies() map[string]string {
	return map[string]string{
		"POST /task/{id}/comment":                    `{"content": "a comment"}`,
		"PUT /task/{id}/comment/{commentid}":         `{"content": "a comment"}`,
		"PUT /resolution/{id}/step/{stepName}/state": `{"state": "TODO"}`,
		"PUT /resolution/{id}/step/{stepName}": `{"description": "fixed", "action": {"type": "echo", ` +
			`"configuration": {"output": {"a": 2}}}}`,
		"PUT /task/{id}":                `{"input": {"why": "edited"}}`,
		"PUT /resolution/{id}":          `{"resolver_inputs": {"ri1": "y"}}`,
		"POST /unsecured/callback/{id}": `{"answer": 42}`,
	}
}

func TestDecodePathParameters(t *testing.T) {
	t.Parallel()

	bodies := validBodies()

	for _, rt := range api.Routes() {
		cases := pathCases(rt.Pattern)
		if len(cases) == 0 {
			continue
		}

		key := rt.Method + " " + rt.Pattern

		t.Run(strings.NewReplacer("{", "", "}", "").Replace(key), func(t *testing.T) {
			t.Parallel()

			f := newDecodeFixture(t)
			before := f.snapshot(t)

			for _, tc := range cases {
				t.Run(strings.Trim(tc.param, "{}")+"="+tc.value, func(t *testing.T) {
					t.Parallel()

					body, ok := bodies[key]
					if !ok && rt.Body != nil {
						body = "{}"
					}

					resp := f.b.do(t, request{
						method: rt.Method, path: f.path(rt.Pattern, map[string]string{tc.param: tc.value}) + pathQuery(rt.Pattern),
						user: "admin", body: body,
					})
					require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

					msg := resp.errorMessage(t)
					require.NotEmpty(t, msg)

					if tc.msg != "" {
						require.Equal(t, tc.msg, msg)
					}
				})
			}

			t.Cleanup(func() {
				require.Equal(t, before, f.snapshot(t), "refused requests change nothing")
			})
		})
	}
}

// TestDecodeEditRoundTrip sends back, as the dashboard does, what a GET
// returned: the read-only fields of the view are accepted and ignored, while
// a field that is neither in the request nor in the view is still refused.
func TestDecodeEditRoundTrip(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name, get, put string
		status         int
	}{
		{"Task", "/task/{id}", "/task/{id}", http.StatusOK},
		{"Resolution", "/resolution/{id}", "/resolution/{id}", http.StatusNoContent},
		{"Step", "/resolution/{id}/step/{stepName}", "/resolution/{id}/step/{stepName}", http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			fx := buildFixture(t, options{functions: testFunctions(2)}, manualResolution, state.ResPaused, otherUser)
			f := &decodeFixture{b: fx.b, taskID: fx.taskID, resolutionID: fx.resolutionID, commentID: fx.commentID}
			path := f.path(tc.get, nil)

			for _, accept := range []string{"application/json", "application/x-yaml"} {
				read := f.b.do(t, request{
					method: http.MethodGet, path: path, user: "admin", header: map[string]string{"Accept": accept},
				})
				require.Equal(t, http.StatusOK, read.status, "body: %s", read.body)

				resp := f.b.do(t, request{method: http.MethodPut, path: f.path(tc.put, nil), user: "admin", body: string(read.body)})
				require.Equal(t, tc.status, resp.status, "%s round trip: %s", accept, resp.body)
			}

			read := f.b.get(t, "admin", path)
			require.Equal(t, http.StatusOK, read.status, "body: %s", read.body)

			doc := read.object(t)
			doc["descriptoin"] = "typo"

			raw, err := json.Marshal(doc)
			require.NoError(t, err)

			resp := f.b.do(t, request{method: http.MethodPut, path: f.path(tc.put, nil), user: "admin", body: string(raw)})
			require.Equal(t, http.StatusBadRequest, resp.status, "body: %s", resp.body)
			require.Equal(t, bindingPrefix+`unknown field "descriptoin"`, resp.errorMessage(t))
		})
	}
}
