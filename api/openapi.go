package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// OpenAPIVersion is the version of the OpenAPI specification the generated
// document follows.
const OpenAPIVersion = "3.0.3"

// ErrorBody is the body of every error response that has one.
type ErrorBody struct {
	Error string `json:"error"`
}

// OpenAPIInfo is what the document says about the application.
type OpenAPIInfo struct {
	// Title is the application name.
	Title string
	// Version is the build version.
	Version string
	// ServerURL is the URL of the single servers entry; "/" when empty.
	ServerURL string
}

// pathParam matches a path parameter of a route pattern: {name}, or
// {name...} for the rest of the path.
var pathParam = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?:\.\.\.)?\}`) //nolint:gochecknoglobals // immutable

// Media types of the document's contents.
const (
	mediaText = "text/plain"
)

// OpenAPI returns the OpenAPI 3.0 document of routes: one operation per
// route, with its path parameters, operation id, tag, success response and
// the schemas of its request and response bodies, derived by reflection from
// the Go types of Route.Body and Route.Response. Every operation also
// describes the error body as its default response. The result encodes to
// JSON as is.
func OpenAPI(routes []Route, info OpenAPIInfo) map[string]any {
	g := newSchemaGen()
	errorSchema := g.schema(reflect.TypeFor[ErrorBody]())

	paths := map[string]any{}
	tagSet := map[string]bool{}

	var tags []any

	for _, rt := range routes {
		path := openAPIPath(rt.Pattern)

		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}

		op := map[string]any{
			"operationId": rt.OperationID,
			"responses": map[string]any{
				strconv.Itoa(rt.Status): g.successResponse(rt),
				"default": map[string]any{
					"description": "Error",
					"content":     jsonContent(errorSchema),
				},
			},
		}

		if rt.Tag != "" {
			op["tags"] = []any{rt.Tag}

			if !tagSet[rt.Tag] {
				tagSet[rt.Tag] = true
				tags = append(tags, map[string]any{"name": rt.Tag})
			}
		}

		params := pathParameters(rt.Pattern)
		for _, q := range rt.Query {
			params = append(params, g.queryParameter(q))
		}

		if len(params) > 0 {
			op["parameters"] = params
		}

		if rt.Body != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  jsonContent(g.schema(reflect.TypeOf(rt.Body))),
			}
		}

		item[strings.ToLower(rt.Method)] = op
	}

	server := info.ServerURL
	if server == "" {
		server = "/"
	}

	doc := map[string]any{
		"openapi": OpenAPIVersion,
		"info": map[string]any{
			"title":   info.Title,
			"version": info.Version,
		},
		"servers": []any{map[string]any{"url": server, "description": info.Title}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.defs,
		},
	}
	if len(tags) > 0 {
		doc["tags"] = tags
	}

	return doc
}

// openAPIPath returns the OpenAPI path of a route pattern: "{$}" (the exact
// match marker) is dropped and "{name...}" becomes "{name}".
func openAPIPath(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	if p == "" {
		p = "/"
	}

	return strings.ReplaceAll(p, "...}", "}")
}

// pathParameters returns the parameter objects of the path parameters of a
// route pattern.
func pathParameters(pattern string) []any {
	var out []any

	for _, m := range pathParam.FindAllStringSubmatch(pattern, -1) {
		out = append(out, map[string]any{
			"name":     m[1],
			"in":       "path",
			"required": true,
			"schema":   map[string]any{"type": "string"},
		})
	}

	return out
}

// queryParameter returns the parameter object of a query parameter. A
// repeated parameter is exploded: one value per occurrence.
func (g *schemaGen) queryParameter(q QueryParam) map[string]any {
	schema := g.schema(reflect.TypeOf(q.Value))
	delete(schema, "nullable")

	p := map[string]any{"name": q.Name, "in": "query", "required": false, "schema": schema}
	if schema["type"] == "array" {
		p["style"] = "form"
		p["explode"] = true
	}

	return p
}

// jsonContent returns the content map of a JSON (or YAML, on request) body
// of the given schema.
func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{
		mediaJSON: map[string]any{"schema": schema},
		mediaYAML: map[string]any{"schema": schema},
	}
}

// successResponse returns the response object of a route's success.
func (g *schemaGen) successResponse(rt Route) map[string]any {
	desc := http.StatusText(rt.Status)
	if desc == "" {
		desc = "Success"
	}

	resp := map[string]any{"description": desc}

	if rt.Status >= 300 && rt.Status < 400 {
		resp["headers"] = map[string]any{
			"Location": map[string]any{"schema": map[string]any{"type": "string"}},
		}
	}

	if rt.Response == nil {
		return resp
	}

	schema := g.schema(reflect.TypeOf(rt.Response))

	switch {
	case rt.ContentType != "":
		resp["content"] = map[string]any{rt.ContentType: map[string]any{"schema": schema}}
	case reflect.TypeOf(rt.Response).Kind() == reflect.String:
		resp["content"] = map[string]any{mediaText: map[string]any{"schema": schema}}
	default:
		resp["content"] = jsonContent(schema)
	}

	return resp
}

// schemaGen builds schemas of Go types; named struct types become
// components, referenced by name.
type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
	taken map[string]bool
}

func newSchemaGen() *schemaGen {
	return &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}, taken: map[string]bool{}}
}

// Types with a JSON form of their own.
var (
	typeTime       = reflect.TypeFor[time.Time]()       //nolint:gochecknoglobals // immutable
	typeRawMessage = reflect.TypeFor[json.RawMessage]() //nolint:gochecknoglobals // immutable
	typeNumber     = reflect.TypeFor[json.Number]()     //nolint:gochecknoglobals // immutable
)

// schema returns the schema of the JSON encoding of t.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case typeTime:
		return map[string]any{"type": "string", "format": "date-time"}
	case typeRawMessage:
		return map[string]any{}
	case typeNumber:
		return map[string]any{"type": "number"}
	}

	switch t.Kind() {
	case reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case reflect.Interface:
		return map[string]any{}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte", "nullable": true}
		}

		return map[string]any{"type": "array", "items": g.schema(t.Elem()), "nullable": true}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem()), "nullable": true}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}

		return map[string]any{"$ref": "#/components/schemas/" + g.component(t)}
	}

	// Channels, functions and complex numbers have no JSON form.
	return map[string]any{}
}

// component returns the component name of a named struct type, building its
// schema the first time.
func (g *schemaGen) component(t reflect.Type) string {
	if name, ok := g.names[t]; ok {
		return name
	}

	name := t.Name()
	if g.taken[name] {
		pkg := t.PkgPath()
		name = pkg[strings.LastIndex(pkg, "/")+1:] + "." + name

		for i := 2; g.taken[name]; i++ {
			name = t.Name() + strconv.Itoa(i)
		}
	}

	g.taken[name] = true
	g.names[t] = name // before the fields, for recursive types
	g.defs[name] = g.structSchema(t)

	return name
}

// structSchema returns the object schema of a struct type: its JSON fields,
// those without omitempty being required.
func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}

	var required []string

	g.addFields(t, props, &required)

	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}

	return s
}

// addFields adds the JSON fields of struct type t, embedded structs
// flattened, to props and required.
func (g *schemaGen) addFields(t reflect.Type, props map[string]any, required *[]string) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}

		name, opts, _ := strings.Cut(tag, ",")

		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}

			if ft.Kind() == reflect.Struct {
				g.addFields(ft, props, required)

				continue
			}
		}

		if !f.IsExported() {
			continue
		}

		if name == "" {
			name = f.Name
		}

		s := g.schema(f.Type)
		if strings.Contains(","+opts+",", ",string,") {
			s = map[string]any{"type": "string"}
		}

		props[name] = s

		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			*required = append(*required, name)
		}
	}
}

// nullable returns s accepting null too. A reference cannot have siblings,
// so it is wrapped in allOf.
func nullable(s map[string]any) map[string]any {
	if len(s) == 0 {
		return s
	}

	if _, ok := s["$ref"]; ok {
		return map[string]any{"allOf": []any{s}, "nullable": true}
	}

	out := make(map[string]any, len(s)+1)
	for k, v := range s {
		out[k] = v
	}

	out["nullable"] = true

	return out
}
