package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// useNumber makes the JSON half of the YAML bridge keep numbers as their
// exact decimal text.
func useNumber(d *json.Decoder) *json.Decoder {
	d.UseNumber()
	return d
}

// decodeExact decodes a JSON document keeping numbers as json.Number.
func decodeExact(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode json: unexpected data after the top-level value")
	}
	return v, nil
}

// normaliseName is the identity of a template: its name trimmed of
// surrounding whitespace and lower-cased.
func normaliseName(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// Parse decodes one template file. The YAML is read with YAML 1.1 typing
// (unquoted yes/no/on/off are booleans, also as keys; 010 is octal); a
// scalar given where a string is expected is rendered as text (404 becomes
// "404"). Numbers keep their exact decimal text, unknown keys are ignored
// and the last of duplicate keys wins. The name is normalised (trimmed and
// lower-cased); everything else is left to Validate. A value that does not
// fit its field gives a *DecodeError naming the step and the field.
func Parse(data []byte) (*Template, error) {
	var t Template
	if err := yaml.Unmarshal(data, &t, useNumber); err != nil {
		if de := locateDecodeError(data, reflect.TypeFor[Template]()); de != nil {
			return nil, fmt.Errorf("unmarshal template: %w", de)
		}
		return nil, fmt.Errorf("unmarshal template: %w", err)
	}
	t.Name = normaliseName(t.Name)
	return &t, nil
}

// ParseFunction decodes one function file, with the typing rules of Parse.
// The function's action configuration must be a JSON object (a missing one
// is an error); a deprecated base_output is turned into a merge output. The
// name is kept as written.
func ParseFunction(data []byte) (*Function, error) {
	var f Function
	if err := yaml.Unmarshal(data, &f, useNumber); err != nil {
		if de := locateDecodeError(data, reflect.TypeFor[Function]()); de != nil {
			return nil, fmt.Errorf("unmarshal function: %w", de)
		}
		return nil, fmt.Errorf("unmarshal function: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(f.Action.Configuration, &cfg); err != nil {
		return nil, err
	}
	if err := f.Action.NormalizeOutput(); err != nil {
		return nil, err
	}
	if f.PreHook != nil {
		if err := f.PreHook.NormalizeOutput(); err != nil {
			return nil, err
		}
	}
	return &f, nil
}

// NormalizeOutput applies the deprecated base_output key: when it is present
// and not null, it replaces Output with a merge of its value, and is
// cleared.
func (a *Action) NormalizeOutput() error {
	if len(a.BaseOutput) == 0 {
		return nil
	}
	v, err := decodeExact(a.BaseOutput)
	if err != nil {
		return fmt.Errorf("decode base_output: %w", err)
	}
	a.BaseOutput = nil
	if v == nil {
		return nil
	}
	a.Output = &Output{Strategy: OutputMerge, Format: v}
	return nil
}

// Warnings returns the keys of a template file that no field reads (such as
// a misspelt "dependancies"), each as a dotted path from the top of the
// file, list elements written [i] (e.g. `steps.stepOne.dependancies`,
// `inputs[0].nmae`), sorted. Keys match fields case-insensitively, as in
// decoding. Content that Parse keeps as free-form JSON (configurations,
// schemas, defaults, formats) is not inspected. A file that does not parse
// gives no warnings.
func Warnings(data []byte) []string {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil
	}
	doc, err := decodeExact(j)
	if err != nil {
		return nil
	}
	var out []string
	unknownKeys(doc, reflect.TypeFor[Template](), "", &out)
	sort.Strings(out)
	return out
}

// unknownKeys collects into out the paths of the keys of doc that the type
// t does not decode.
func unknownKeys(doc any, t reflect.Type, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := doc.(map[string]any)
		if !ok {
			return
		}
		for key, v := range m {
			ft, ok := fieldType(t, key)
			if !ok {
				*out = append(*out, join(key))
				continue
			}
			unknownKeys(v, ft, join(key), out)
		}
	case reflect.Map:
		m, ok := doc.(map[string]any)
		if !ok {
			return
		}
		for key, v := range m {
			unknownKeys(v, t.Elem(), join(key), out)
		}
	case reflect.Slice:
		l, ok := doc.([]any)
		if !ok {
			return
		}
		for i, v := range l {
			unknownKeys(v, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

// fieldType returns the type of the field of struct t that decoding fills
// from key: an exact match of the JSON name first, else a case-insensitive
// one.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	var folded reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type, true
		}
		if folded == nil && strings.EqualFold(name, key) {
			folded = f.Type
		}
	}
	return folded, folded != nil
}
