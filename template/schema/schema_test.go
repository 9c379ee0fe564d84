package schema_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/utask/utask/template/schema"
)

func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Template))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("template.schema.json", doc))
	s, err := c.Compile("template.schema.json")
	require.NoError(t, err)
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, yamlText []byte) error {
	t.Helper()
	js, err := yaml.YAMLToJSON(yamlText)
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	require.NoError(t, err)
	return s.Validate(v)
}

// TestValidTemplatesConform checks the shipped templates, the end-to-end
// ones and every golden template the linter accepts against the schema.
func TestValidTemplatesConform(t *testing.T) {
	t.Parallel()
	s := compile(t)
	var files []string
	for _, pattern := range []string{"../../templates/*.yaml", "../../server/testdata/templates/*.yaml"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, validate(t, s, data), f)
	}
	golden, err := filepath.Glob("../testdata/golden/*.test")
	require.NoError(t, err)
	valid := 0
	for _, f := range golden {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		tmpl, expected, ok := strings.Cut(string(data), "\n----------\n")
		require.True(t, ok, f)
		if strings.HasPrefix(strings.TrimSpace(expected), "error:") {
			continue
		}
		valid++
		require.NoError(t, validate(t, s, []byte(tmpl)), f)
	}
	require.Positive(t, valid)
}

func TestInvalidTemplatesAreFlagged(t *testing.T) {
	t.Parallel()
	s := compile(t)
	cases := map[string]string{
		"MissingTitle":     "name: abc\ndescription: abc\n",
		"ShortName":        "name: ab\ndescription: abc\ntitle_format: abc\n",
		"ReservedStepName": "name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  this: {action: {type: echo, configuration: {}}}\n",
		"BadStrategy":      "name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  a: {action: {type: echo, configuration: {}}, foreach: x, foreach_strategy: random}\n",
		"ReservedCustom":   "name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  a: {action: {type: echo, configuration: {}}, custom_states: [DONE]}\n",
		"BadOperator":      "name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  a:\n    action: {type: echo, configuration: {}}\n    conditions: [{type: check, if: [{value: a, operator: LIKE, expected: b}]}]\n",
		"EchoErrorType":    "name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  a: {action: {type: echo, configuration: {error_type: fatal}}}\n",
		"HTTPHeadersMap":   "name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  a: {action: {type: http, configuration: {method: GET, url: x, headers: {a: b}}}}\n",
		"EngineField":      "name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  a: {action: {type: echo, configuration: {}}, state: DONE}\n",
		"RegexAndLegal":    "name: abc\ndescription: abc\ntitle_format: abc\ninputs: [{name: x, regex: a, legal_values: [a]}]\n",
		"ReservedTag":      "name: abc\ndescription: abc\ntitle_format: abc\ntags: {_utask_parent_task_id: x}\n",
	}
	for name, text := range cases {
		require.Error(t, validate(t, s, []byte(text)), name)
	}
}
