package values_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/values"
)

// newTestValues returns Values holding the inputs used by the reference configuration tests.
func newTestValues(t *testing.T) *values.Values {
	t.Helper()

	v := values.New(values.Options{})
	v.SetInput(map[string]any{
		"ifoo1": "Hello",
		"ifoo2": true,
		"ifoo3": json.Number("12"),
		"ifoo4": []any{"Hello", "you!"},
		"big":   json.Number("12345678912345678"),
		"neg":   json.Number("-2.3"),
		"null":  nil,
		"map":   map[string]any{"b": json.Number("2"), "a": "x", "n": nil},
	})

	return v
}

func TestRender(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want string
	}{
		{"PlainText", "no template here }}", "no template here }}"},
		{"String", "{{ .input.ifoo1 }} -> {{ .input.ifoo3 }}", "Hello -> 12"},
		{"Bool", "{{ .input.ifoo2 }}", "true"},
		{"ExactBigNumber", "{{ .input.big }}", "12345678912345678"},
		{"ExactDecimal", "{{ .input.neg }}", "-2.3"},
		{"AddOnExactNumbers", "{{ add .input.ifoo3 30 }}", "42"},
		{"AddOnBigExactNumber", "{{ add .input.big 1 }}", "12345678912345679"},
		{"List", "{{ .input.ifoo4 }}", "[Hello you!]"},
		{"MapSortedWithNil", "{{ .input.map }}", "map[a:x b:2 n:<nil>]"},
		{"MissingKey", "{{ .input.typo }}", "<no value>"},
		{"ChainOnMissingKey", "{{ .step.unknown.output.x }}", "<no value>"},
		{"PresentNilPrints", "{{ .input.null }}", "<no value>"},
		{"MissingKeyIsFalsy", "{{ if .input.typo }}yes{{ else }}no{{ end }}", "no"},
		{"DefaultOnMissingKey", "{{ .input.typo | default `d` }}", "d"},
		{"IteratorAbsentPrints", "{{ .iterator }}", "<no value>"},
		{"ToJSONKeepsNumbers", "{{ .input.map | toJson }}", `{"a":"x","b":2,"n":null}`},
		{"PreHookAbsent", "{{ .pre_hook }}", "<no value>"},
		{"FunctionArgsAbsent", "{{ .function_args }}", "<no value>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := newTestValues(t).Render(tt.text, values.Scope{})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		sc   values.Scope
		want string
	}{
		{
			"Parse", "{{ .input.ifoo1", values.Scope{},
			"Templating error: template: tmpl:1: unclosed action",
		},
		{
			"FieldOnNumber", "{{ .input.ifoo3.notexisting }}", values.Scope{},
			`Templating error: template: tmpl:1:9: executing "tmpl" at <.input.ifoo3.notexisting>: ` +
				"can't evaluate field notexisting in type interface {}",
		},
		{
			"FieldOnPresentNil", "{{ .input.null.b }}", values.Scope{},
			`Templating error: template: tmpl:1:9: executing "tmpl" at <.input.null.b>: ` +
				"nil pointer evaluating interface {}.b",
		},
		{
			"FieldOnNilIterator", "{{ .iterator.x }}", values.Scope{},
			`Templating error: template: tmpl:1:12: executing "tmpl" at <.iterator.x>: ` +
				"nil pointer evaluating interface {}.x",
		},
		{
			"IndexOfMissing", "{{ index .foo.unknown 3 }}", values.Scope{},
			`Templating error: template: tmpl:1:3: executing "tmpl" at <index .foo.unknown 3>: ` +
				"error calling index: index of untyped nil",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := newTestValues(t).Render(tt.text, tt.sc)
			require.ErrorIs(t, err, values.ErrTemplating)
			require.EqualError(t, err, tt.want)
			require.Empty(t, got)
		})
	}
}

func TestRenderPlainTextIsNotParsed(t *testing.T) {
	t.Parallel()

	c := values.NewCache(10)
	v := values.New(values.Options{Cache: c})

	for _, s := range []string{"", "plain", "a } b { c", "{ {", "}}", "{{", "x {{ .y"} {
		got, err := v.Render(s, values.Scope{})
		if strings.Contains(s, "{{") {
			require.ErrorContains(t, err, "unclosed action")

			continue
		}

		require.NoError(t, err)
		require.Equal(t, s, got)
	}

	require.Equal(t, 2, c.Len(), "only the texts holding {{ are parsed")
}

func TestRenderTemplatesAreIndependent(t *testing.T) {
	t.Parallel()

	v := values.New(values.Options{})

	got, err := v.Render(`{{ define "x" }}defined{{ end }}{{ template "x" }}`, values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "defined", got)

	_, err = v.Render(`{{ template "x" }}`, values.Scope{})
	require.ErrorContains(t, err, `template "x" not defined`)
}

func TestRenderStepThis(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) *values.Values {
		t.Helper()

		tries, maxRetries := 2, 10000
		v := values.New(values.Options{})
		v.SetStep("s", values.StepData{
			Output:     map[string]any{"k": "out"},
			Metadata:   map[string]any{"code": json.Number("200")},
			Error:      "boom",
			State:      "DONE",
			TryCount:   &tries,
			MaxRetries: &maxRetries,
		})
		v.SetStep("other", values.StepData{State: "TODO"})

		return v
	}

	t.Run("AliasesTheSevenFields", func(t *testing.T) {
		t.Parallel()

		v := setup(t)
		got, err := v.Render(
			"{{ .step.this.output.k }} {{ .step.this.metadata.code }} {{ .step.this.children }} "+
				"{{ .step.this.error }} {{ .step.this.state }} {{ .step.this.try_count }} "+
				"{{ .step.this.max_retries }}",
			values.Scope{This: "s"})
		require.NoError(t, err)
		require.Equal(t, "out 200 map[] boom DONE 2 10000", got)
	})

	t.Run("FollowsStateChanges", func(t *testing.T) {
		t.Parallel()

		v := setup(t)
		v.SetStepState("s", "RUNNING")
		v.SetStepError("s", "again")

		got, err := v.Render("{{ .step.this.state }} {{ .step.this.error }} {{ .step.s.state }}",
			values.Scope{This: "s"})
		require.NoError(t, err)
		require.Equal(t, "RUNNING again RUNNING", got)
	})

	t.Run("DoesNotLeak", func(t *testing.T) {
		t.Parallel()

		v := setup(t)
		_, err := v.Render("{{ .step.this.state }}", values.Scope{This: "s"})
		require.NoError(t, err)

		got, err := v.Render("{{ .step.this }}|{{ .step.this.output.x }}", values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "<no value>|<no value>", got)

		got, err = v.Render("{{ .step.this.state }}", values.Scope{This: "other"})
		require.NoError(t, err)
		require.Equal(t, "TODO", got)
	})

	t.Run("DoesNotLeakAfterError", func(t *testing.T) {
		t.Parallel()

		v := setup(t)
		_, err := v.Render("{{ .step.this.state.x }}", values.Scope{This: "s"})
		require.Error(t, err)

		got, err := v.Render("{{ .step.this }}", values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "<no value>", got)
	})

	t.Run("StepWithoutEntry", func(t *testing.T) {
		t.Parallel()

		got, err := setup(t).Render("{{ .step.this.output.x }}", values.Scope{This: "nostep"})
		require.NoError(t, err)
		require.Equal(t, "<no value>", got)
	})
}

func TestRenderSteps(t *testing.T) {
	t.Parallel()

	t.Run("NilFieldsAreEmptyMaps", func(t *testing.T) {
		t.Parallel()

		v := values.New(values.Options{})
		v.SetStep("never", values.StepData{State: "TODO"})

		got, err := v.Render(
			"{{ .step.never.output }} {{ .step.never.children | toJson }} {{ .step.never.output.a.b }} "+
				"{{ .step.never.try_count }}",
			values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "map[] {} <no value> <no value>", got)
	})

	t.Run("StateEntryOnly", func(t *testing.T) {
		t.Parallel()

		v := values.New(values.Options{})
		v.SetStepState("loop-0", "RUNNING")

		got, err := v.Render("{{ .step.loop-0 }}", values.Scope{})
		require.ErrorContains(t, err, "bad character") // dashes need index
		require.Empty(t, got)

		got, err = v.Render("{{ index .step `loop-0` }} {{ field `step` `loop-0` `output` }}", values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "map[state:RUNNING] <no value>", got)

		d, ok := v.Step("loop-0")
		require.True(t, ok)
		require.Equal(t, values.StepData{State: "RUNNING"}, d)

		v.SetStepError("loop-0", "e")
		d, ok = v.Step("loop-0")
		require.True(t, ok)
		require.Equal(t, values.StepData{State: "RUNNING", Error: "e"}, d)
	})

	t.Run("SetAndDelete", func(t *testing.T) {
		t.Parallel()

		v := values.New(values.Options{})
		tries := 1
		want := values.StepData{Output: "x", State: "DONE", TryCount: &tries}
		v.SetStep("a", want)

		got, ok := v.Step("a")
		require.True(t, ok)
		require.Equal(t, want, got)

		out, err := v.Render("{{ .step.a.output }} {{ .step.a.try_count }}", values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "x 1", out)

		v.DeleteStep("a")
		_, ok = v.Step("a")
		require.False(t, ok)

		out, err = v.Render("{{ .step.a }}", values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "<no value>", out)
	})
}

func TestRenderScope(t *testing.T) {
	t.Parallel()

	v := values.New(values.Options{})
	sc := values.Scope{
		Iterator:     map[string]any{"foo": map[string]any{"bar": []any{"foobar", "buzz"}}},
		PreHook:      map[string]any{"output": map[string]any{"token": "t"}, "metadata": map[string]any{}},
		FunctionArgs: map[string]any{"name": "n"},
	}

	got, err := v.Render("{{ index .iterator.foo.bar 1 }} {{ .pre_hook.output.token }} {{ .function_args.name }}", sc)
	require.NoError(t, err)
	require.Equal(t, "buzz t n", got)

	got, err = v.Render("{{ .iterator }}{{ .pre_hook }}{{ .function_args }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "<no value><no value><no value>", got)
}

func TestRenderTimes(t *testing.T) {
	t.Parallel()

	created := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	v := values.New(values.Options{})
	v.SetTask(map[string]any{"created": created, "nested": []any{map[string]any{"at": &created}}, "region": "default"})
	v.SetStep("s", values.StepData{Output: map[string]any{"when": created}})

	got, err := v.Render("{{ .task.created }}|{{ index .task.nested 0 }}|{{ .step.s.output.when }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "2024-01-02 03:04:05.0000006 +0000 UTC|map[at:2024-01-02 03:04:05.0000006 +0000 UTC]|"+
		"2024-01-02 03:04:05.0000006 +0000 UTC", got)

	got, err = v.Render("{{ .task.created }}|{{ index .task.nested 0 }}|{{ .step.this.output.when }}|{{ .task.region }}",
		values.Scope{Attempt: true, This: "s"})
	require.NoError(t, err)
	require.Equal(t, "2024-01-02T03:04:05.0000006Z|map[at:2024-01-02T03:04:05.0000006Z]|2024-01-02T03:04:05.0000006Z|default", got)

	v.SetStepState("s", "DONE")
	got, err = v.Render("{{ .step.s.state }}", values.Scope{Attempt: true})
	require.NoError(t, err)
	require.Equal(t, "DONE", got)

	got, err = v.Render("{{ .task.created }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "2024-01-02 03:04:05.0000006 +0000 UTC", got)
}

func TestRenderMutatingFunctions(t *testing.T) {
	t.Parallel()

	v := values.New(values.Options{})
	v.SetInput(map[string]any{"a": "1"})

	_, err := v.Render(`{{ $_ := set . "extra" "x" }}{{ $_ := unset . "input" }}{{ $_ := set . "iterator" "it" }}`, values.Scope{})
	require.NoError(t, err)

	got, err := v.Render("{{ .extra }} {{ .input.a }} {{ .iterator }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "<no value> 1 <no value>", got)
}

// encodeJSON encodes x without HTML escaping, as the engine re-encodes configurations.
func encodeJSON(t *testing.T, x any) string {
	t.Helper()

	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(x))

	return strings.TrimSuffix(sb.String(), "\n")
}

func TestRenderJSON(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"Object", `{"foo": "{{ .input.ifoo1}} -> {{.input.ifoo3 }}"}`, `{"foo":"Hello -> 12"}`},
		{
			"Nested", `{"fooo":{"foo": "{{ .input.ifoo1}} -> {{.input.ifoo3 }}","array":["{{.input.ifoo2}}"]}}`,
			`{"fooo":{"array":["true"],"foo":"Hello -> 12"}}`,
		},
		{
			"Array", `["fooo",{"foo": "{{ .input.ifoo1}} -> {{.input.ifoo3 }}","array":["{{.input.ifoo2}}"]}]`,
			`["fooo",{"array":["true"],"foo":"Hello -> 12"}]`,
		},
		{"KeysNotTemplated", `{"{{ .input.ifoo1 }}": 1}`, `{"{{ .input.ifoo1 }}":1}`},
		{"NoTypeInference", `{"l": "{{ .input.ifoo4 | toJson }}", "n": "{{ .input.big }}"}`, `{"l":"[\"Hello\",\"you!\"]","n":"12345678912345678"}`},
		{"OtherLeavesKept", `{"n": 1619464078, "f": -2.50, "b": false, "z": null}`, `{"b":false,"f":-2.50,"n":1619464078,"z":null}`},
		{"TopLevelString", `"{{ .input.ifoo1 }}"`, `"{{ .input.ifoo1 }}"`},
		{"TopLevelNumber", `12345678912345678`, `12345678912345678`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			doc, err := values.DecodeJSON([]byte(tt.doc))
			require.NoError(t, err)

			before := encodeJSON(t, doc)

			got, err := newTestValues(t).RenderJSON(doc, values.Scope{})
			require.NoError(t, err)
			require.Equal(t, tt.want, encodeJSON(t, got)) // exact text: numbers untouched
			require.Equal(t, before, encodeJSON(t, doc), "input document modified")
		})
	}

	t.Run("Multiline", func(t *testing.T) {
		t.Parallel()

		v := values.New(values.Options{})
		in := "Un,\n\tDeux,\n\tTrois,\n\tSoleil!"
		v.SetInput(map[string]any{"multilineString": in})

		got, err := v.RenderJSON(map[string]any{"raw": "{{.input.multilineString}}"}, values.Scope{})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"raw": in}, got)
	})

	t.Run("IteratorExactNumber", func(t *testing.T) {
		t.Parallel()

		items, err := values.DecodeJSON([]byte(`[{"id": 1619464078}]`))
		require.NoError(t, err)

		list, ok := items.([]any)
		require.True(t, ok)

		got, err := values.New(values.Options{}).RenderJSON(map[string]any{"path": "/id/{{.iterator.id}}"},
			values.Scope{Iterator: list[0], Attempt: true})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"path": "/id/1619464078"}, got)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		for _, doc := range []string{
			`{"foo": "{{ .input.ifoo1}} -> {{.input.ifoo3.notexisting }}"}`,
			`{"fooo":{"foo": "{{.input.ifoo3.notexisting }}","array":["{{.input.ifoo2}}"]}}`,
			`["fooo",{"array":["{{.input.ifoo3.notexisting}}"]}]`,
		} {
			d, err := values.DecodeJSON([]byte(doc))
			require.NoError(t, err)

			got, err := newTestValues(t).RenderJSON(d, values.Scope{})
			require.ErrorContains(t, err, "can't evaluate field notexisting in type interface")
			require.ErrorIs(t, err, values.ErrTemplating)
			require.Nil(t, got)
		}
	})
}

func TestRenderResult(t *testing.T) {
	t.Parallel()

	v := newTestValues(t)
	in := map[string]any{
		"{{ .input.ifoo1 }}": "{{ .input.ifoo3 }}",
		"plain":              "{{ .input.ifoo2 }}",
		"list":               []any{"{{ .input.ifoo1 }}"},
		"number":             json.Number("3"),
		"nested":             map[string]any{"{{ `k` }}": "{{ .input.big }}", "deeper": map[string]any{"x": "{{ .input.neg }}"}},
	}

	got, err := v.RenderResult(in, values.Scope{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"Hello":  "12",
		"plain":  "true",
		"list":   []any{"{{ .input.ifoo1 }}"},
		"number": json.Number("3"),
		"nested": map[string]any{"k": "12345678912345678", "deeper": map[string]any{"x": "-2.3"}},
	}, got)
	require.Contains(t, in, "{{ .input.ifoo1 }}", "input map modified")

	t.Run("PartialOnError", func(t *testing.T) {
		t.Parallel()

		got, err := newTestValues(t).RenderResult(map[string]any{
			"a":     "{{ .input.ifoo3.x }}",
			"b":     "{{ .input.ifoo1 }}",
			"{{ c":  "v",
			"z":     "{{ .input.null.y }}",
			"inner": map[string]any{"k": "{{ .input.ifoo2 }}"},
		}, values.Scope{})
		require.ErrorIs(t, err, values.ErrTemplating)
		require.ErrorContains(t, err, "can't evaluate field x") // first in key order
		require.Equal(t, map[string]any{
			"a":     "{{ .input.ifoo3.x }}",
			"b":     "Hello",
			"{{ c":  "v",
			"z":     "{{ .input.null.y }}",
			"inner": map[string]any{"k": "true"},
		}, got)
	})
}
