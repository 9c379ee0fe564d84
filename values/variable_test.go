package values_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/values"
)

func TestVariables(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) *values.Values {
		t.Helper()

		v := values.New(values.Options{})
		v.SetInput(map[string]any{"n": json.Number("3"), "name": "World"})
		v.SetVariables([]values.Variable{
			{Name: "truc", Expression: "2 + 2"},
			{Name: "bidule", Expression: "{{ .input.n }} + 2"},
			{Name: "templated", Value: "Hello {{ `World` }}!"},
			{Name: "plain", Value: "ok"},
			{Name: "number", Value: json.Number("12345678912345678")},
			{Name: "list", Value: []any{"a", json.Number("1")}},
			{Name: "bool", Value: true},
			{Name: "third", Expression: "1/3"},
			{Name: "eq", Expression: "1==1"},
			{Name: "array", Expression: "[1,2]"},
			{Name: "object", Expression: "({a:1})"},
			{Name: "undef", Expression: "undefined"},
			{Name: "member", Expression: `var foo = {"foo":"bar"}; foo.foo;`},
			{Name: "json", Expression: `JSON.stringify({a: [1, 2], b: "x"})`},
			{Name: "chain", Value: "{{ eval `templated` }} / {{ eval `truc` }}"},
			{Name: "dup", Value: "first"},
			{Name: "dup", Value: "last"},
			{Name: "item", Value: "{{ .iterator }}|{{ .step.this }}|{{ .pre_hook.output }}"},
		})

		return v
	}

	tests := []struct {
		name string
		text string
		want string
	}{
		{"Expression", "{{ eval `truc` }}", "4"},
		{"TemplatedExpression", "{{ eval `bidule` }}", "5"},
		{"TemplatedValue", "{{ eval `templated` }}", "Hello World!"},
		{"PlainValue", "{{ eval `plain` }}", "ok"},
		{"NumberValue", "{{ eval `number` }}", "12345678912345678"},
		{"ListValue", "{{ eval `list` }}", "[a 1]"},
		{"BoolValue", "{{ eval `bool` }}", "true"},
		{"Division", "{{ eval `third` }}", "0.3333333333333333"},
		{"Comparison", "{{ eval `eq` }}", "true"},
		{"Array", "{{ eval `array` }}", "1,2"},
		{"Object", "{{ eval `object` }}", "[object Object]"},
		{"Undefined", "{{ eval `undef` }}", "undefined"},
		{"Member", "{{ evalCache `member` }}", "bar"},
		{"StructureThroughJSON", "{{ (eval `json` | fromJson).a }}", "[1 2]"},
		{"Nested", "{{ eval `chain` }}", "Hello World! / 4"},
		{"LastDuplicateWins", "{{ eval `dup` }}", "last"},
		{"NoItemNoThisButPreHook", "{{ eval `item` }}", "<no value>|<no value>|hook"},
		{"OuterScopeRestored", "{{ eval `item` }} {{ .iterator }} {{ .step.this.state }}", "<no value>|<no value>|hook it DONE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			v := setup(t)
			v.SetStep("s", values.StepData{State: "DONE"})

			got, err := v.Render(tt.text, values.Scope{
				Iterator: "it",
				This:     "s",
				PreHook:  map[string]any{"output": "hook"},
			})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestVariablesErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		vars []values.Variable
		text string
		want string
	}{
		{
			"UnknownName", nil, "{{ eval `nope` }}",
			"error calling eval: Var name not found in template: 'nope'",
		},
		{
			"UnknownNameCached", nil, "{{ evalCache `nope` }}",
			"error calling evalCache: Var name not found in template: 'nope'",
		},
		{
			"Exception", []values.Variable{{Name: "x", Expression: `throw new Error("x")`}}, "{{ eval `x` }}",
			"error calling eval: Error: x",
		},
		{
			"ReferenceError", []values.Variable{{Name: "x", Expression: "nope.field"}}, "{{ eval `x` }}",
			"error calling eval: ReferenceError: nope is not defined",
		},
		{
			"SyntaxError", []values.Variable{{Name: "x", Expression: "a = = 1"}}, "{{ eval `x` }}",
			"error calling eval: (anonymous): Line 1:5 Unexpected token =",
		},
		{
			"Timeout", []values.Variable{{Name: "x", Expression: "while (true) {}", ExpressionTimeout: "20ms"}}, "{{ eval `x` }}",
			"error calling eval: Recovered from unsafe JS eval: Timed out variable evaluation",
		},
		{
			"InfiniteRecursion", []values.Variable{{Name: "x", Expression: "function f() { return f() }; f()"}}, "{{ eval `x` }}",
			"error calling eval: RangeError: Maximum call stack size exceeded",
		},
		{
			"BadTimeout", []values.Variable{{Name: "x", Expression: "1", ExpressionTimeout: "foo"}}, "{{ eval `x` }}",
			`error calling eval: parse expression timeout of variable "x": time: invalid duration "foo"`,
		},
		{
			"TemplatingInValue", []values.Variable{{Name: "x", Value: "{{ .input.a.b }}"}}, "{{ eval `x` }}",
			"error calling eval: Templating error: template: tmpl:1:9: executing \"tmpl\" at <.input.a.b>: can't evaluate field b in type interface {}",
		},
		{
			"TemplatingInExpression", []values.Variable{{Name: "x", Expression: "{{ .input.a.b }}"}}, "{{ eval `x` }}",
			"can't evaluate field b in type interface {}",
		},
		{
			"SelfReference", []values.Variable{{Name: "x", Value: "{{ eval `x` }}"}}, "{{ eval `x` }}",
			values.ErrEvalTooDeep.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			v := values.New(values.Options{})
			v.SetInput(map[string]any{"a": json.Number("1")})
			v.SetVariables(tt.vars)

			got, err := v.Render(tt.text, values.Scope{})
			require.ErrorIs(t, err, values.ErrTemplating)
			require.ErrorContains(t, err, tt.want)
			require.Empty(t, got)
		})
	}

	t.Run("TimeoutIsASentinel", func(t *testing.T) {
		t.Parallel()

		v := values.New(values.Options{})
		v.SetVariables([]values.Variable{{Name: "x", Expression: "for (;;) {}", ExpressionTimeout: "1ms"}})

		_, err := v.Render("{{ eval `x` }}", values.Scope{})
		require.ErrorIs(t, err, values.ErrJSTimeout)
	})
}

func TestVariablesEvalCache(t *testing.T) {
	t.Parallel()

	random := []values.Variable{{Name: "r", Expression: "Math.random()"}}
	v := values.New(values.Options{})
	v.SetVariables(random)

	got, err := v.Render("{{ eval `r` }} {{ eval `r` }}", values.Scope{})
	require.NoError(t, err)

	plain := strings.Fields(got)
	require.NotEqual(t, plain[0], plain[1], "eval must not memoise")

	got, err = v.Render("{{ evalCache `r` }}", values.Scope{})
	require.NoError(t, err)

	first := got

	got, err = v.Render("{{ evalCache `r` }} {{ evalCache `r` }}", values.Scope{Attempt: true})
	require.NoError(t, err)
	require.Equal(t, first+" "+first, got)

	other := values.New(values.Options{})
	other.SetVariables(random)
	got, err = other.Render("{{ evalCache `r` }}", values.Scope{})
	require.NoError(t, err)
	require.NotEqual(t, first, got, "the memo belongs to one Values")

	v.SetVariables(random)
	got, err = v.Render("{{ evalCache `r` }}", values.Scope{})
	require.NoError(t, err)
	require.NotEqual(t, first, got, "SetVariables drops the memo")
}

func TestVariablesEvalCacheSkipsNil(t *testing.T) {
	t.Parallel()

	v := values.New(values.Options{})
	v.SetInput(map[string]any{"x": "one"})
	// field gives nil for a missing key: that result is not memoised.
	v.SetVariables([]values.Variable{{Name: "n", Value: []any{"constant"}}, {Name: "t", Value: "{{ .input.x }}"}})

	got, err := v.Render("{{ evalCache `t` }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "one", got)

	v.SetInput(map[string]any{"x": "two"})
	got, err = v.Render("{{ evalCache `t` }} {{ eval `t` }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "one two", got)
}
