package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// DecodeError says which value of a template or function file does not fit
// the field it is given to.
type DecodeError struct {
	// Step is the name of the step holding the value, "" when the value is
	// not inside a step.
	Step string
	// Field is the path of the value from the top of the file, or from the
	// top of Step: keys joined with dots, list elements written [i] (e.g.
	// `action.output.strategy`, `conditions[0].if[1].value`). It is "" when
	// the step itself is the value at fault.
	Field string
	// Reason says what was expected and what was found.
	Reason string
	// Err is the decoding error of the value, if any.
	Err error
}

// Error renders the error as `step "<step>": field "<field>": <reason>`,
// leaving out the parts that are empty.
func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.Step != "" {
		fmt.Fprintf(&b, "step %q: ", e.Step)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns the decoding error of the value.
func (e *DecodeError) Unwrap() error { return e.Err }

// pathPart is one step of the path to a value: a key, or a list index.
type pathPart struct {
	key   string
	index int
	isKey bool
}

// locateDecodeError looks for the value of a file that does not fit the
// field of root it is decoded into, visiting keys in sorted order, and
// returns the first one found, or nil when it finds none (the file is not
// valid YAML, say). It is called once decoding failed, to name the step and
// the field at fault. As in Parse, a scalar given where a string is
// expected fits.
func locateDecodeError(data []byte, root reflect.Type) *DecodeError {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil
	}
	doc, err := decodeExact(j)
	if err != nil {
		return nil
	}
	var path []pathPart
	de := misfit(doc, root, &path)
	if de == nil {
		return nil
	}
	steps := root == reflect.TypeFor[Template]()
	if steps && len(path) >= 2 && path[0].isKey && path[1].isKey {
		if ft, ok := fieldType(root, path[0].key); ok && ft == reflect.TypeFor[map[string]*Step]() {
			de.Step = path[1].key
			path = path[2:]
		}
	}
	de.Field = joinPath(path)
	return de
}

// joinPath writes a path as keys joined with dots and indices as [i].
func joinPath(path []pathPart) string {
	var b strings.Builder
	for _, p := range path {
		if !p.isKey {
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
	}
	return b.String()
}

// misfit returns why doc does not fit type t, or nil when it does; path is
// extended to the value at fault and left so.
func misfit(doc any, t reflect.Type, path *[]pathPart) *DecodeError {
	if doc == nil {
		return leafMisfit(doc, t)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return leafMisfit(doc, t)
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := doc.(map[string]any)
		if !ok {
			return wrongShape(doc, t)
		}
		for _, key := range sortedKeys(m) {
			ft, ok := fieldType(t, key)
			if !ok {
				continue
			}
			*path = append(*path, pathPart{key: key, isKey: true})
			if de := misfit(m[key], ft, path); de != nil {
				return de
			}
			*path = (*path)[:len(*path)-1]
		}
		return nil
	case reflect.Map:
		m, ok := doc.(map[string]any)
		if !ok {
			return wrongShape(doc, t)
		}
		for _, key := range sortedKeys(m) {
			*path = append(*path, pathPart{key: key, isKey: true})
			if de := misfit(m[key], t.Elem(), path); de != nil {
				return de
			}
			*path = (*path)[:len(*path)-1]
		}
		return nil
	case reflect.Slice:
		l, ok := doc.([]any)
		if !ok {
			return wrongShape(doc, t)
		}
		for i, v := range l {
			*path = append(*path, pathPart{index: i})
			if de := misfit(v, t.Elem(), path); de != nil {
				return de
			}
			*path = (*path)[:len(*path)-1]
		}
		return nil
	case reflect.String:
		switch doc.(type) {
		case map[string]any, []any:
			return wrongShape(doc, t)
		}
		return nil // a scalar is rendered as text
	default:
		return leafMisfit(doc, t)
	}
}

// leafMisfit decodes doc into a value of type t as the JSON decoder does.
func leafMisfit(doc any, t reflect.Type) *DecodeError {
	b, err := json.Marshal(doc)
	if err != nil {
		return &DecodeError{Reason: err.Error(), Err: err}
	}
	err = json.Unmarshal(b, reflect.New(t).Interface())
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		de := wrongShape(doc, t)
		de.Err = err
		return de
	}
	return &DecodeError{Reason: err.Error(), Err: err}
}

// wrongShape is the error of a value of the wrong kind for type t.
func wrongShape(doc any, t reflect.Type) *DecodeError {
	return &DecodeError{Reason: "want " + describeType(t) + ", got " + describeValue(doc)}
}

// describeType names what a template file must give for a value of type t.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "an integer (a duration in nanoseconds)"
	case t == reflect.TypeFor[time.Time]():
		return "an RFC 3339 time"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return t.String()
	}
}

// maxQuoted is how much of a string value an error quotes.
const maxQuoted = 40

// describeValue names a decoded JSON value, quoting scalars.
func describeValue(doc any) string {
	switch v := doc.(type) {
	case nil:
		return "null"
	case bool:
		return "the boolean " + strconv.FormatBool(v)
	case json.Number:
		return "the number " + v.String()
	case string:
		if r := []rune(v); len(r) > maxQuoted {
			return "the string " + strconv.Quote(string(r[:maxQuoted])) + "…"
		}
		return "the string " + strconv.Quote(v)
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%T", doc)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
