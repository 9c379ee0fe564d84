package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/utask/utask/service"
)

// Media types of the responses.
const (
	mediaJSON = "application/json"
	mediaYAML = "application/x-yaml"
)

// writeBody encodes v as JSON, or as YAML when the Accept header prefers
// application/x-yaml, and writes it with the given status.
func (s *server) writeBody(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer

	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)

	if err := enc.Encode(v); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "encode response", "path", r.URL.Path, "err", err)
		w.WriteHeader(http.StatusInternalServerError)

		return
	}

	body, contentType := buf.Bytes(), mediaJSON

	if prefersYAML(r.Header.Values("Accept")) {
		y, err := yaml.JSONToYAML(body)
		if err != nil {
			s.cfg.Logger.ErrorContext(r.Context(), "encode yaml response", "path", r.URL.Path, "err", err)
			w.WriteHeader(http.StatusInternalServerError)

			return
		}

		body, contentType = y, mediaYAML
	}

	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// prefersYAML reports whether, of application/json and application/x-yaml,
// the Accept header values rank application/x-yaml first (highest q, then
// first listed). Anything else, including no header, means JSON.
func prefersYAML(accept []string) bool {
	bestQ, best := -1.0, ""

	for _, value := range accept {
		for _, part := range strings.Split(value, ",") {
			media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || (media != mediaJSON && media != mediaYAML) {
				continue
			}

			q := 1.0
			if raw, ok := params["q"]; ok {
				if parsed, err := strconv.ParseFloat(raw, 64); err == nil {
					q = parsed
				}
			}

			if q > bestQ {
				bestQ, best = q, media
			}
		}
	}

	return best == mediaYAML && bestQ > 0
}

// bindingError is the error of a request that cannot be decoded.
func bindingError(err error) error {
	return service.Errorf(service.KindBadRequest, "binding error: error parsing request body: %s", err.Error())
}

// decodeBody decodes the request body into dst. The body is YAML (JSON
// being YAML), whatever its Content-Type; numbers are kept exact as
// json.Number. A field that dst does not declare, at any depth, is refused
// with a bad request naming it: a misspelt field would otherwise be dropped
// silently and change what the request means. The only fields accepted
// without being declared are those of readOnlyFields. A GET request or an
// empty body leaves dst as is.
func (s *server) decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.Method == http.MethodGet || r.ContentLength == 0 || r.Body == nil {
		return nil
	}

	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return bindingError(tooLarge)
		}

		return bindingError(err)
	}

	// A JSON body is decoded as JSON, so that every number keeps its exact
	// digits, and reported with JSON's error messages; anything else is
	// YAML.
	doc := bytes.TrimSpace(raw)
	if len(doc) > 0 && (doc[0] == '{' || doc[0] == '[') {
		if !json.Valid(doc) {
			var probe any
			return bindingError(json.Unmarshal(doc, &probe))
		}
	} else {
		var err error
		if doc, err = yaml.YAMLToJSON(raw); err != nil {
			return bindingError(err)
		}
	}

	if readOnly := readOnlyFields(dst); len(readOnly) > 0 {
		if doc, err = dropFields(doc, dst, readOnly); err != nil {
			return bindingError(describeDecodeError(err))
		}
	}

	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	dec.DisallowUnknownFields()

	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return bindingError(describeDecodeError(err))
	}

	return nil
}

// dropFields removes from doc, when it is an object, the top-level fields
// named in names that dst does not declare itself.
func dropFields(doc []byte, dst any, names []string) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc, &fields); err != nil || fields == nil {
		return doc, nil //nolint:nilerr // not an object: the strict decoding reports it
	}

	declared := jsonFields(reflect.TypeOf(dst))
	dropped := false

	for _, name := range names {
		if _, ok := fields[name]; ok && !declared[name] {
			delete(fields, name)

			dropped = true
		}
	}

	if !dropped {
		return doc, nil
	}

	out, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}

	return out, nil
}

// jsonFields returns the names of the JSON fields of the struct t (or t
// points to), the fields of its embedded structs included.
func jsonFields(t reflect.Type) map[string]bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}

	out := map[string]bool{}
	if t == nil || t.Kind() != reflect.Struct {
		return out
	}

	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}

		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}

		if f.Anonymous && name == "" {
			for k := range jsonFields(f.Type) {
				out[k] = true
			}

			continue
		}

		if name == "" {
			name = f.Name
		}

		out[name] = true
	}

	return out
}

// readOnlyFields returns the top-level fields that decodeBody accepts and
// drops for dst: for an edit, the fields of the view a client read before
// editing it (GET, edit, PUT: the dashboard sends back the whole document),
// which the edit does not change.
func readOnlyFields(dst any) []string {
	switch dst.(type) {
	case *service.EditTaskRequest:
		return viewFields(service.Task{})
	case *service.EditResolutionRequest:
		return viewFields(service.Resolution{})
	}

	return nil
}

// viewFields returns the JSON field names of the view v.
func viewFields(v any) []string {
	m := jsonFields(reflect.TypeOf(v))
	out := make([]string, 0, len(m))

	for k := range m {
		out = append(out, k)
	}

	sort.Strings(out)

	return out
}

// describeDecodeError names the field and the expected type of a type
// mismatch, without the Go type names of the request structures.
func describeDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Type == nil {
			return err
		}

		if te.Field == "" {
			return fmt.Errorf("the body must be an object, got %s", te.Value)
		}

		return fmt.Errorf("field %q: expected %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	}

	// The decoder reports a field the destination does not declare as
	// `json: unknown field "name"`.
	if msg, ok := strings.CutPrefix(err.Error(), "json: "); ok && strings.HasPrefix(msg, "unknown field ") {
		return errors.New(msg)
	}

	return err
}

func jsonKind(goKind string) string {
	switch goKind {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "interface":
		return "a value"
	}

	return "a number"
}

// query reads the query parameters of a listing. Each occurrence of a
// parameter is one value (commas are not split) and empty occurrences are
// dropped.
type query struct {
	values url.Values
	in     string // name of the parameter set, for error messages
}

// newQuery returns the query of r without its empty values.
func newQuery(r *http.Request, in string) query {
	q := query{values: url.Values{}, in: in}

	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if v != "" {
				q.values[k] = append(q.values[k], v)
			}
		}
	}

	return q
}

// list returns every value of key.
func (q query) list(key string) []string {
	return q.values[key]
}

// single returns the value of key, "" when absent; field names it in the
// error given when the parameter is repeated.
func (q query) single(key, field string) (string, error) {
	vs := q.values[key]
	if len(vs) > 1 {
		return "", service.Errorf(service.KindBadRequest,
			"binding error on field '%s' of type '%s': multiple values not supported", field, q.in)
	}

	if len(vs) == 0 {
		return "", nil
	}

	return vs[0], nil
}

// unsigned returns the value of key as an unsigned integer, 0 when absent.
func (q query) unsigned(key, field string) (uint64, error) {
	v, err := q.single(key, field)
	if err != nil || v == "" {
		return 0, err
	}

	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, service.Errorf(service.KindBadRequest, "expected '%s' to be of type uint64", key)
	}

	return n, nil
}

// timestamp returns the value of key as an RFC 3339 time, nil when absent.
func (q query) timestamp(key, field string) (*time.Time, error) {
	v, err := q.single(key, field)
	if err != nil || v == "" {
		return nil, err
	}

	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, service.Errorf(service.KindBadRequest, "expected '%s' to be of type struct", key)
	}

	return &t, nil
}

// nextLink returns the Link header of the page after the one ending with
// last: the same query with last and page_size replaced.
func nextLink(path string, q url.Values, last string, pageSize int) string {
	next := url.Values{}
	for k, vs := range q {
		next[k] = append([]string(nil), vs...)
	}

	next.Set("last", last)
	next.Set("page_size", strconv.Itoa(pageSize))

	return "<" + path + "?" + next.Encode() + ">; rel=next"
}

// boolean returns the value of key as a boolean, false when absent.
func (q query) boolean(key, field string) (bool, error) {
	v, err := q.single(key, field)
	if err != nil || v == "" {
		return false, err
	}

	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, service.Errorf(service.KindBadRequest, "expected '%s' to be of type bool", key)
	}

	return b, nil
}
