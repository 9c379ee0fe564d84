package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/utask/utask/api"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// specOf fetches the OpenAPI document of a bundle's server.
func specOf(t *testing.T, b *bundle) (map[string]any, []byte) {
	t.Helper()

	resp := b.get(t, "", "/unsecured/spec.json")
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, "application/json", resp.header.Get("Content-Type"))

	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(resp.body))
	require.NoError(t, err)

	m, ok := doc.(map[string]any)
	require.True(t, ok)

	return m, resp.body
}

// obj returns v as an object; the test fails if it is not one.
func obj(t *testing.T, v any, what string) map[string]any {
	t.Helper()

	m, ok := v.(map[string]any)
	require.True(t, ok, "%s is an object: %#v", what, v)

	return m
}

// str returns v as a non-empty string; the test fails if it is not one.
func str(t *testing.T, v any, what string) string {
	t.Helper()

	s, ok := v.(string)
	require.True(t, ok, "%s is a string: %#v", what, v)
	require.NotEmpty(t, s, what)

	return s
}

// Keywords of an OpenAPI 3.0 Schema Object.
var openAPISchemaKeywords = []string{ //nolint:gochecknoglobals // immutable test table
	"title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
	"pattern", "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "required", "enum",
	"type", "allOf", "oneOf", "anyOf", "not", "items", "properties", "additionalProperties", "description",
	"format", "default", "nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example",
	"deprecated", "$ref",
}

var (
	openAPIMethods  = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} //nolint:gochecknoglobals,lll // immutable test table
	templateParam   = regexp.MustCompile(`\{([^}]+)\}`)                                             //nolint:gochecknoglobals // immutable
	componentName   = regexp.MustCompile(`^[a-zA-Z0-9.\-_]+$`)                                      //nolint:gochecknoglobals // immutable
	responseCodeKey = regexp.MustCompile(`^[1-5][0-9][0-9]$`)                                       //nolint:gochecknoglobals // immutable
)

// checkSchema checks that s is an OpenAPI 3.0 Schema Object whose references
// resolve in components.
func checkSchema(t *testing.T, s any, components map[string]any, where string) {
	t.Helper()

	m := obj(t, s, where)
	for k := range m {
		require.True(t, slices.Contains(openAPISchemaKeywords, k) || strings.HasPrefix(k, "x-"),
			"%s: %q is not a schema keyword", where, k)
	}

	if ref, ok := m["$ref"]; ok {
		require.Len(t, m, 1, "%s: a reference has no siblings in OpenAPI 3.0", where)

		name, found := strings.CutPrefix(str(t, ref, where), "#/components/schemas/")
		require.True(t, found, "%s: local reference", where)
		require.Contains(t, components, name, "%s: reference resolves", where)

		return
	}

	if typ, ok := m["type"]; ok {
		require.Contains(t, []string{"string", "number", "integer", "boolean", "array", "object"}, typ, where)

		if typ == "array" {
			require.Contains(t, m, "items", "%s: an array has items", where)
		}
	}

	if nullable, ok := m["nullable"]; ok {
		require.IsType(t, true, nullable, where)
	}

	if props, ok := m["properties"]; ok {
		for name, p := range obj(t, props, where+".properties") {
			checkSchema(t, p, components, where+".properties."+name)
		}
	}

	if req, ok := m["required"]; ok {
		list, isList := req.([]any)
		require.True(t, isList, where)
		require.NotEmpty(t, list, "%s: required is non-empty", where)

		props := obj(t, m["properties"], where+".properties")
		for _, r := range list {
			require.Contains(t, props, str(t, r, where), "%s: required names a property", where)
		}
	}

	for _, key := range []string{"items", "not"} {
		if sub, ok := m[key]; ok {
			checkSchema(t, sub, components, where+"."+key)
		}
	}

	if ap, ok := m["additionalProperties"]; ok {
		if _, isBool := ap.(bool); !isBool {
			checkSchema(t, ap, components, where+".additionalProperties")
		}
	}

	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := m[key]; ok {
			subs, isList := list.([]any)
			require.True(t, isList, where)
			require.NotEmpty(t, subs, where)

			for i, sub := range subs {
				checkSchema(t, sub, components, fmt.Sprintf("%s.%s[%d]", where, key, i))
			}
		}
	}
}

// checkContent checks a content map.
func checkContent(t *testing.T, content any, components map[string]any, where string) {
	t.Helper()

	for media, mt := range obj(t, content, where) {
		_, _, err := mime.ParseMediaType(media)
		require.NoError(t, err, where)
		checkSchema(t, obj(t, mt, where+"."+media)["schema"], components, where+"."+media+".schema")
	}
}

// checkOpenAPI checks that doc is a valid OpenAPI 3.0 document: the
// required fields of each object, operation ids unique, path parameters
// declared as in their path template, tags declared, every schema a Schema
// Object and every reference resolved.
func checkOpenAPI(t *testing.T, doc map[string]any) {
	t.Helper()

	require.Regexp(t, `^3\.0\.\d+$`, doc["openapi"])

	info := obj(t, doc["info"], "info")
	str(t, info["title"], "info.title")
	str(t, info["version"], "info.version")

	servers, ok := doc["servers"].([]any)
	require.True(t, ok)

	for _, s := range servers {
		str(t, obj(t, s, "server")["url"], "server.url")
	}

	declaredTags := map[string]bool{}

	if tags, ok := doc["tags"].([]any); ok {
		for _, tag := range tags {
			name := str(t, obj(t, tag, "tag")["name"], "tag.name")
			require.False(t, declaredTags[name], "tag %s declared once", name)
			declaredTags[name] = true
		}
	}

	components := obj(t, obj(t, doc["components"], "components")["schemas"], "components.schemas")
	for name, s := range components {
		require.Regexp(t, componentName, name)
		checkSchema(t, s, components, "components.schemas."+name)
	}

	ops := map[string]bool{}

	for path, item := range obj(t, doc["paths"], "paths") {
		require.True(t, strings.HasPrefix(path, "/"), path)

		var inPath []string
		for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
			inPath = append(inPath, m[1])
		}

		for method, opv := range obj(t, item, path) {
			require.Contains(t, openAPIMethods, method, path)

			where := method + " " + path
			op := obj(t, opv, where)

			id := str(t, op["operationId"], where+".operationId")
			require.False(t, ops[id], "operation id %s is unique", id)
			ops[id] = true

			if tags, ok := op["tags"].([]any); ok {
				for _, tag := range tags {
					require.True(t, declaredTags[str(t, tag, where)], "%s: tag %v is declared", where, tag)
				}
			}

			var declared []string

			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm := obj(t, p, where+".parameter")
				name := str(t, pm["name"], where+".parameter.name")
				in := str(t, pm["in"], where+".parameter.in")
				require.Contains(t, []string{"path", "query", "header", "cookie"}, in)

				if in == "path" {
					require.Equal(t, true, pm["required"], "%s: a path parameter is required", where)

					declared = append(declared, name)
				}

				checkSchema(t, pm["schema"], components, where+".parameter."+name)
			}

			require.ElementsMatch(t, inPath, declared, "%s: path parameters", where)

			if body, ok := op["requestBody"]; ok {
				checkContent(t, obj(t, body, where+".requestBody")["content"], components, where+".requestBody")
			}

			responses := obj(t, op["responses"], where+".responses")
			require.NotEmpty(t, responses, where)

			for code, rv := range responses {
				require.True(t, code == "default" || responseCodeKey.MatchString(code), "%s: response %s", where, code)

				r := obj(t, rv, where+"."+code)
				str(t, r["description"], where+"."+code+".description")

				if content, ok := r["content"]; ok {
					checkContent(t, content, components, where+"."+code)
				}
			}
		}
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	doc, raw := specOf(t, b)

	checkOpenAPI(t, doc)

	info := obj(t, doc["info"], "info")
	require.Equal(t, "µTask test", info["title"])
	require.Equal(t, "v-test", info["version"])
	require.Equal(t, []any{map[string]any{"url": "/", "description": "µTask test"}}, doc["servers"])

	paths := obj(t, doc["paths"], "paths")
	routes := api.Routes()

	force := obj(t, obj(t, paths["/resolution/{id}/pause"], "pause")["post"], "pause")["parameters"]
	require.Contains(t, force, map[string]any{
		"name": "force", "in": "query", "required": false, "schema": map[string]any{"type": "boolean"},
	})
	count := 0

	for _, rt := range routes {
		path := strings.ReplaceAll(rt.Pattern, "{$}", "")
		if path == "" {
			path = "/"
		}

		item := obj(t, paths[path], path)
		op := obj(t, item[strings.ToLower(rt.Method)], rt.Method+" "+path)
		require.Equal(t, rt.OperationID, op["operationId"])
		require.Equal(t, []any{rt.Tag}, op["tags"])
		require.Contains(t, obj(t, op["responses"], "responses"), fmt.Sprint(rt.Status), rt.OperationID)
		require.Equal(t, rt.Body != nil, op["requestBody"] != nil, rt.OperationID)

		var query []string

		params, _ := op["parameters"].([]any)
		for _, p := range params {
			if pm := obj(t, p, "parameter"); pm["in"] == "query" {
				query = append(query, str(t, pm["name"], "name"))
			}
		}

		var want []string
		for _, q := range rt.Query {
			want = append(want, q.Name)
		}

		require.ElementsMatch(t, want, query, "%s: query parameters", rt.OperationID)
	}

	for _, item := range paths {
		count += len(obj(t, item, "path item"))
	}

	require.Equal(t, len(routes), count, "one operation per route, none more")

	// The document is a constant of the route table.
	_, again := specOf(t, b)
	require.Equal(t, raw, again)

	// Every schema compiles as a JSON Schema once converted.
	compiler := specCompiler(t, raw)
	for name := range obj(t, obj(t, doc["components"], "components")["schemas"], "schemas") {
		_, err := compiler.Compile("spec.json#/components/schemas/" + name)
		require.NoError(t, err, name)
	}
}

func TestOpenAPIDocumentSchemas(t *testing.T) {
	t.Parallel()

	type inner struct {
		N int `json:"n"`
	}

	type sample struct {
		inner

		Name     string         `json:"name"`
		Opt      *string        `json:"opt,omitempty"`
		List     []inner        `json:"list"`
		Ref      *inner         `json:"ref"`
		Skipped  string         `json:"-"`
		Free     any            `json:"free,omitempty"`
		Map      map[string]int `json:"map"`
		Untagged bool
	}

	doc := api.OpenAPI([]api.Route{{
		Method: http.MethodPost, Pattern: "/x/{id}/y/{rest...}", OperationID: "X", Tag: "t",
		Status: http.StatusCreated, Body: sample{}, Response: sample{},
	}}, api.OpenAPIInfo{Title: "app", Version: "1", ServerURL: "/api/"})

	raw, err := json.Marshal(doc)
	require.NoError(t, err)

	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	checkOpenAPI(t, obj(t, parsed, "doc"))

	require.Equal(t, "/api/", obj(t, doc["servers"].([]any)[0], "server")["url"])

	op := obj(t, obj(t, obj(t, parsed, "doc")["paths"], "paths")["/x/{id}/y/{rest}"], "path")["post"]
	require.NotNil(t, op)

	s := obj(t, obj(t, obj(t, parsed, "doc")["components"], "c")["schemas"], "s")["sample"]
	props := obj(t, obj(t, s, "sample")["properties"], "props")
	require.ElementsMatch(t, []string{"n", "name", "opt", "list", "ref", "free", "map", "Untagged"}, keys(props))
	require.ElementsMatch(t, []any{"n", "name", "list", "ref", "map", "Untagged"}, obj(t, s, "sample")["required"])

	compiler := specCompiler(t, raw)
	sch, err := compiler.Compile("spec.json#/components/schemas/sample")
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"Full", `{"n": 1, "name": "a", "opt": "b", "list": [{"n": 2}], "ref": {"n": 3}, "free": [1],
			"map": {"k": 4}, "Untagged": true}`, true},
		{"Nulls", `{"n": 1, "name": "a", "list": null, "ref": null, "map": null, "Untagged": false}`, true},
		{"MissingRequired", `{"n": 1, "list": [], "ref": null, "map": {}, "Untagged": false}`, false},
		{"WrongType", `{"n": "1", "name": "a", "list": [], "ref": null, "map": {}, "Untagged": false}`, false},
		{"UnknownField", `{"n": 1, "name": "a", "list": [], "ref": null, "map": {}, "Untagged": false, "x": 1}`, false},
		{"WrongItem", `{"n": 1, "name": "a", "list": [{"n": "x"}], "ref": null, "map": {}, "Untagged": false}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			v, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.body))
			require.NoError(t, err)

			if tc.ok {
				require.NoError(t, sch.Validate(v))
			} else {
				require.Error(t, sch.Validate(v))
			}
		})
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}

	return out
}

// toJSONSchema converts an OpenAPI 3.0 schema, in place, to the JSON Schema
// it means: nullable becomes a "null" type, and an object with properties
// accepts no other property, so that a response with a field its schema
// does not describe fails.
func toJSONSchema(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}

	for _, key := range []string{"items", "not", "additionalProperties"} {
		toJSONSchema(m[key])
	}

	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := m[key].([]any); ok {
			for _, sub := range list {
				toJSONSchema(sub)
			}
		}
	}

	if props, ok := m["properties"].(map[string]any); ok {
		for _, p := range props {
			toJSONSchema(p)
		}

		if _, set := m["additionalProperties"]; !set {
			m["additionalProperties"] = false
		}
	}

	if m["nullable"] == true {
		delete(m, "nullable")

		if typ, ok := m["type"]; ok {
			m["type"] = []any{typ, "null"}
		} else {
			rest := map[string]any{}
			for k, v := range m {
				rest[k] = v
				delete(m, k)
			}

			m["anyOf"] = []any{map[string]any{"type": "null"}, rest}
		}
	}
}

// specCompiler returns a JSON Schema compiler holding the document raw, its
// schemas converted, as the resource spec.json.
func specCompiler(t *testing.T, raw []byte) *jsonschema.Compiler {
	t.Helper()

	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)

	doc := obj(t, v, "doc")
	for _, s := range obj(t, obj(t, doc["components"], "components")["schemas"], "schemas") {
		toJSONSchema(s)
	}

	for _, item := range obj(t, doc["paths"], "paths") {
		for _, op := range obj(t, item, "path item") {
			opm := obj(t, op, "operation")

			var contents []any
			if body, ok := opm["requestBody"].(map[string]any); ok {
				contents = append(contents, body["content"])
			}

			for _, r := range obj(t, opm["responses"], "responses") {
				if c, ok := obj(t, r, "response")["content"]; ok {
					contents = append(contents, c)
				}
			}

			for _, c := range contents {
				for _, mt := range obj(t, c, "content") {
					toJSONSchema(obj(t, mt, "media")["schema"])
				}
			}
		}
	}

	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("spec.json", doc))

	return c
}

// pointerToken escapes a JSON pointer token.
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// conformance checks responses against the document of the server.
type conformance struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	checked  map[string]bool // "METHOD pattern" of the routes checked
}

// check validates resp, a response of the route of method and pattern,
// against the document: its status must be described (or fall to the
// default response), and its body must match the schema of its media type.
func (c *conformance) check(t *testing.T, method, pattern string, resp response) {
	t.Helper()

	path := strings.ReplaceAll(pattern, "{$}", "")
	if path == "" {
		path = "/"
	}

	item := obj(t, obj(t, c.doc["paths"], "paths")[path], path)
	op := obj(t, item[strings.ToLower(method)], method+" "+path)
	responses := obj(t, op["responses"], "responses")

	code := fmt.Sprint(resp.status)
	if _, ok := responses[code]; !ok {
		require.GreaterOrEqual(t, resp.status, http.StatusBadRequest, "%s %s: success %d is described", method, path, resp.status)

		code = "default"
	}

	if resp.status < http.StatusBadRequest {
		c.checked[method+" "+pattern] = true
	}

	r := obj(t, responses[code], code)

	content, ok := r["content"].(map[string]any)
	if !ok {
		if resp.status < http.StatusMultipleChoices || resp.status >= http.StatusBadRequest {
			require.Empty(t, resp.body, "%s %s %s: no body described", method, path, code)
		}

		return
	}

	media, _, err := mime.ParseMediaType(resp.header.Get("Content-Type"))
	require.NoError(t, err)
	require.Contains(t, content, media, "%s %s %s: media type described", method, path, code)

	body := resp.body

	var value any

	switch media {
	case "text/plain":
		value = string(body)
	case "application/x-yaml":
		body, err = yaml.YAMLToJSON(body)
		require.NoError(t, err)

		fallthrough
	default:
		value, err = jsonschema.UnmarshalJSON(bytes.NewReader(body))
		require.NoError(t, err, "body: %s", body)
	}

	loc := fmt.Sprintf("spec.json#/paths/%s/%s/responses/%s/content/%s/schema",
		pointerToken(path), strings.ToLower(method), code, pointerToken(media))

	sch, err := c.compiler.Compile(loc)
	require.NoError(t, err, loc)
	require.NoError(t, sch.Validate(value), "%s %s %d: body %s", method, path, resp.status, resp.body)
}

func TestResponsesConformToSpec(t *testing.T) {
	t.Parallel()

	b := setup(t, options{functions: testFunctions(3)})
	doc, raw := specOf(t, b)
	c := &conformance{doc: doc, compiler: specCompiler(t, raw), checked: map[string]bool{}}

	call := func(method, pattern, path, user, body string, want int) response {
		t.Helper()

		resp := b.do(t, request{method: method, path: path, user: user, body: body})
		require.Equal(t, want, resp.status, "%s %s: %s", method, path, resp.body)
		c.check(t, method, pattern, resp)

		return resp
	}

	greet := call(http.MethodPost, "/task", "/task", "bob",
		`{"template_name": "greet", "input": {"name": "ada", "secret": "pw"}, "tags": {"k": "v"}}`, http.StatusCreated).object(t)
	greetID, _ := greet["id"].(string)

	manual := call(http.MethodPost, "/task", "/task", "bob",
		`{"template_name": "manual", "input": {"why": "because"}, "watcher_usernames": ["walt"]}`, http.StatusCreated).object(t)
	manualID, _ := manual["id"].(string)

	call(http.MethodGet, "/task", "/task?type=all", "admin", "", http.StatusOK)
	call(http.MethodGet, "/task/{id}", "/task/"+greetID, "bob", "", http.StatusOK)
	call(http.MethodGet, "/task/{id}", "/task/"+manualID, "admin", "", http.StatusOK)

	res := call(http.MethodPost, "/resolution", "/resolution", "owner",
		`{"task_id": "`+manualID+`", "resolver_inputs": {"ri1": "x"}}`, http.StatusCreated).object(t)
	resID, _ := res["id"].(string)

	b.runner.setSteps(resID, map[string]*template.Step{
		"first": {
			Name: "first", Description: "the first step", State: "DONE", Output: map[string]any{"a": 1},
			Metadata: map[string]any{"code": 200}, Tags: map[string]string{"t": "v"},
			Action: template.Action{Type: "echo", Configuration: []byte(`{"output": {"a": 1}}`)},
			Conditions: []*template.Condition{{
				Type: "check", If: []template.Assert{{Value: "1", Operator: "EQ", Expected: "1"}},
				Then: map[string]string{"this": "DONE"},
			}},
		},
		"second": {Name: "second", Description: "the second step", State: "TODO", Dependencies: []string{"first"}},
	})

	b.setTaskState(t, manualID, state.TaskBlocked)
	call(http.MethodGet, "/task/{id}", "/task/"+manualID, "bob", "", http.StatusOK)
	callbackID, token := b.insertCallback(t, manualID, resID, "")
	call(http.MethodPost, "/unsecured/callback/{id}", "/unsecured/callback/"+callbackID+"?t="+token, "",
		`{"ok": true}`, http.StatusOK)
	call(http.MethodPost, "/batch", "/batch", "bob", `{"template_name": "greet", "inputs": [{"name": "ada"}]}`,
		http.StatusCreated)
	call(http.MethodGet, "/resolution/{id}", "/resolution/"+resID, "admin", "", http.StatusOK)
	call(http.MethodGet, "/resolution/{id}", "/resolution/"+resID, "walt", "", http.StatusOK)
	call(http.MethodGet, "/resolution/{id}/step/{stepName}", "/resolution/"+resID+"/step/first", "owner", "", http.StatusOK)
	call(http.MethodGet, "/resolution/{id}/step/{stepName}", "/resolution/"+resID+"/step/second", "bob", "", http.StatusOK)
	call(http.MethodPost, "/resolution/{id}/run", "/resolution/"+resID+"/run", "owner", "", http.StatusNoContent)
	call(http.MethodPost, "/resolution/{id}/pause", "/resolution/"+resID+"/pause", "owner", "", http.StatusNoContent)
	call(http.MethodPut, "/resolution/{id}/step/{stepName}/state", "/resolution/"+resID+"/step/second/state", "owner",
		`{"state": "PRUNE"}`, http.StatusNoContent)
	b.changeResolution(t, resID, func(r *store.Resolution) { r.State = state.ResBlockedMaxRetries })
	call(http.MethodPost, "/resolution/{id}/extend", "/resolution/"+resID+"/extend", "owner", "", http.StatusNoContent)
	call(http.MethodPost, "/resolution/{id}/cancel", "/resolution/"+resID+"/cancel", "owner", "", http.StatusNoContent)

	other := b.createTask(t, "bob", `{"template_name": "manual"}`)
	otherID, _ := other["id"].(string)
	call(http.MethodPost, "/task/{id}/wontfix", "/task/"+otherID+"/wontfix", "bob", "", http.StatusNoContent)

	commentPath := "/task/" + manualID + "/comment"
	comment := call(http.MethodPost, "/task/{id}/comment", commentPath, "walt", `{"content": "looks good"}`,
		http.StatusCreated).object(t)
	commentID, _ := comment["id"].(string)
	call(http.MethodGet, "/task/{id}/comment", commentPath, "bob", "", http.StatusOK)
	call(http.MethodGet, "/task/{id}/comment/{commentid}", commentPath+"/"+commentID, "bob", "", http.StatusOK)
	call(http.MethodPut, "/task/{id}/comment/{commentid}", commentPath+"/"+commentID, "walt",
		`{"content": "looks better"}`, http.StatusOK)
	call(http.MethodGet, "/task/{id}", "/task/"+manualID, "walt", "", http.StatusOK)
	call(http.MethodDelete, "/task/{id}/comment/{commentid}", commentPath+"/"+commentID, "admin", "",
		http.StatusNoContent)
	call(http.MethodGet, "/unsecured/stats", "/unsecured/stats?tag=k=v", "", "", http.StatusOK)
	doomed := b.createTask(t, "bob", `{"template_name": "manual", "comment": "to be deleted"}`)
	doomedID, _ := doomed["id"].(string)
	call(http.MethodDelete, "/task/{id}", "/task/"+doomedID, "admin", "", http.StatusNoContent)

	call(http.MethodGet, "/template", "/template", "admin", "", http.StatusOK)
	call(http.MethodGet, "/template/{name}", "/template/greet", "bob", "", http.StatusOK)
	call(http.MethodGet, "/template/{name}", "/template/manual", "bob", "", http.StatusOK)
	call(http.MethodGet, "/function", "/function", "bob", "", http.StatusOK)
	call(http.MethodGet, "/function/{name}", "/function/fn-01", "bob", "", http.StatusOK)
	call(http.MethodGet, "/meta", "/meta", "ada", "", http.StatusOK)
	call(http.MethodPost, "/key-rotate", "/key-rotate", "admin", "", http.StatusOK)
	call(http.MethodGet, "/{$}", "/", "bob", "", http.StatusMovedPermanently)
	call(http.MethodGet, "/unsecured/mon/ping", "/unsecured/mon/ping", "", "", http.StatusOK)
	call(http.MethodGet, "/metrics", "/metrics", "", "", http.StatusOK)
	call(http.MethodGet, "/unsecured/template-schema.json", "/unsecured/template-schema.json", "", "", http.StatusOK)
	call(http.MethodGet, "/unsecured/spec.json", "/unsecured/spec.json", "", "", http.StatusOK)

	editTaskID, editResID := b.manualResolution(t)
	b.manualSteps(editResID)
	b.pause(t, editResID)
	call(http.MethodPut, "/task/{id}", "/task/"+editTaskID, "owner", `{"input": {"why": "edited"}}`, http.StatusOK)
	call(http.MethodPut, "/resolution/{id}", "/resolution/"+editResID, "admin",
		`{"resolver_inputs": {"ri1": "y"}}`, http.StatusNoContent)
	call(http.MethodPut, "/resolution/{id}/step/{stepName}", "/resolution/"+editResID+"/step/second", "admin",
		`{"description": "edited", "dependencies": ["first"], "action": {"type": "echo", "configuration": {}}, "state": "TODO"}`,
		http.StatusNoContent)
	call(http.MethodGet, "/task/{id}/audit", "/task/"+editTaskID+"/audit", "bob", "", http.StatusOK)

	// Errors follow the default response.
	call(http.MethodGet, "/task/{id}", "/task/"+greetID, "eve", "", http.StatusForbidden)
	call(http.MethodGet, "/function/{name}", "/function/nope", "bob", "", http.StatusNotFound)
	call(http.MethodPost, "/task/{id}/wontfix", "/task/"+otherID+"/wontfix", "bob", "", http.StatusBadRequest)

	// YAML answers follow the same schemas.
	yamlResp := b.do(t, request{
		method: http.MethodGet, path: "/resolution/" + resID, user: "admin",
		header: map[string]string{"Accept": "application/x-yaml"},
	})
	require.Equal(t, http.StatusOK, yamlResp.status)
	require.Equal(t, "application/x-yaml", yamlResp.header.Get("Content-Type"))
	c.check(t, http.MethodGet, "/resolution/{id}", yamlResp)

	for _, rt := range api.Routes() {
		require.True(t, c.checked[rt.Method+" "+rt.Pattern], "the success of %s %s is checked", rt.Method, rt.Pattern)
	}
}

func TestResponseConformanceCatchesDrift(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	doc, raw := specOf(t, b)
	c := &conformance{doc: doc, compiler: specCompiler(t, raw), checked: map[string]bool{}}

	sch, err := c.compiler.Compile("spec.json#/paths/~1meta/get/responses/200/content/application~1json/schema")
	require.NoError(t, err)

	good := b.get(t, "bob", "/meta")
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(good.body))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(v))

	for _, bad := range []string{
		`{"application_name": "a", "user_is_admin": "no", "username": "b", "user_groups": [], "version": "v", "commit": "c"}`,
		`{"application_name": "a", "user_is_admin": false, "username": "b", "user_groups": [], "version": "v"}`,
		`{"application_name": "a", "user_is_admin": false, "username": "b", "user_groups": [1], "version": "v", "commit": "c"}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		require.NoError(t, err)
		require.Error(t, sch.Validate(v), bad)
	}
}
