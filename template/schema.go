package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSON schema dialects a step schema may name through its version key.
const (
	SchemaDraft04 = "http://json-schema.org/draft-04/schema#"
	SchemaDraft06 = "http://json-schema.org/draft-06/schema#"
	SchemaDraft07 = "http://json-schema.org/draft-07/schema#"
)

// NormalizeSchema returns a step json_schema with its dialect made explicit.
// A schema that has a $schema key is returned as it is. Otherwise its
// numeric version key picks the dialect (4: draft-04, 6: draft-06, anything
// else or absent: draft-07): the version key is removed, $schema is added
// and the object is re-serialised with sorted keys and exact numbers. A
// schema that is not a JSON object is an error.
func NormalizeSchema(raw json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		obj = map[string]json.RawMessage{}
	}
	if _, ok := obj["$schema"]; ok {
		return raw, nil
	}
	dialect := SchemaDraft07
	if v, ok := obj["version"]; ok {
		if n, err := decodeExact(v); err == nil {
			if f, ok := numberValue(n); ok {
				switch f {
				case 4:
					dialect = SchemaDraft04
				case 6:
					dialect = SchemaDraft06
				}
			}
		}
		delete(obj, "version")
	}
	d, _ := json.Marshal(dialect)
	obj["$schema"] = d
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// schemaURL is the resource URL of a step's schema. It names the step but
// is not a file path, so that compilation never depends on the working
// directory.
func schemaURL(stepName string) string {
	return "utask:///step/" + url.PathEscape(stepName)
}

// noLoader refuses every schema reference outside the compiled document
// (the standard meta-schemas are built into the compiler and still load),
// so that compiling a template never reads a file or the network.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, errors.New("schema references outside the step schema are not allowed")
}

// CompileSchema compiles a (normalised) step json_schema, as resource named
// after the step, with draft-07 as the dialect when none is named. It is
// used at validation and by the engine to validate outputs. References to
// other documents are refused.
func CompileSchema(stepName string, raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(noLoader{})
	u := schemaURL(stepName)
	if err := c.AddResource(u, doc); err != nil {
		return nil, err
	}
	return c.Compile(u)
}

// rootKey names the entry of a property graph holding the root's
// properties; no schema property may use it.
const rootKey = "utaskRootKey"

// propertyGraph maps each property name of a schema (and rootKey) to the
// property names that may appear under it. Names are global: every
// occurrence of a name contributes to the same set.
type propertyGraph map[string]map[string]bool

// buildPropertyGraph walks a compiled schema through properties, $ref, not,
// if/then/else, allOf, anyOf and oneOf.
func buildPropertyGraph(root *jsonschema.Schema) (propertyGraph, error) {
	g := propertyGraph{}
	type visit struct {
		s     *jsonschema.Schema
		under string
	}
	seen := map[visit]bool{}
	var walk func(s *jsonschema.Schema, under string) error
	walk = func(s *jsonschema.Schema, under string) error {
		if s == nil || seen[visit{s, under}] {
			return nil
		}
		seen[visit{s, under}] = true
		if g[under] == nil {
			g[under] = map[string]bool{}
		}
		for name, sub := range s.Properties {
			if name == rootKey {
				return fmt.Errorf("Cannot use property %q as it's a reserved keyword. Please rename your property", rootKey) //nolint:staticcheck // exact µTask text
			}
			g[under][name] = true
			if err := walk(sub, name); err != nil {
				return err
			}
		}
		for _, sub := range []*jsonschema.Schema{s.Ref, s.Not, s.If, s.Then, s.Else} {
			if err := walk(sub, under); err != nil {
				return err
			}
		}
		for _, list := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
			for _, sub := range list {
				if err := walk(sub, under); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root, rootKey); err != nil {
		return nil, err
	}
	return g, nil
}

// check reports whether the field path may exist: the first field a root
// property, each next one allowed under the previous.
func (g propertyGraph) check(fields []string) error {
	cur := rootKey
	for _, f := range fields {
		if !g[cur][f] {
			return fmt.Errorf("Variable %s does not exist", strings.Join(fields, ".")) //nolint:staticcheck // exact µTask text
		}
		cur = f
	}
	return nil
}

// numberValue returns the value of a decoded JSON number.
func numberValue(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}
