package template

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()

	t.Run("NormalisesName", func(t *testing.T) {
		t.Parallel()
		tmpl, err := Parse([]byte("name: '  Hello WORLD  '\n"))
		require.NoError(t, err)
		require.Equal(t, "hello world", tmpl.Name)
	})

	t.Run("LastDuplicateKeyWins", func(t *testing.T) {
		t.Parallel()
		tmpl, err := Parse([]byte("description: first\ndescription: second\nsteps:\n  a:\n    retry_pattern: seconds\n    retry_pattern: hours\n"))
		require.NoError(t, err)
		require.Equal(t, "second", tmpl.Description)
		require.Equal(t, RetryHours, tmpl.Steps["a"].RetryPattern)
	})

	t.Run("UnknownKeysIgnored", func(t *testing.T) {
		t.Parallel()
		tmpl, err := Parse([]byte("name: x\nallowed_resolver_tokens: [a]\nsteps:\n  a:\n    dependancies: [b]\n"))
		require.NoError(t, err)
		require.Empty(t, tmpl.Steps["a"].Dependencies)
	})

	t.Run("KeysMatchCaseInsensitively", func(t *testing.T) {
		t.Parallel()
		tmpl, err := Parse([]byte("Description: upper\n"))
		require.NoError(t, err)
		require.Equal(t, "upper", tmpl.Description)
	})

	t.Run("ExactNumbers", func(t *testing.T) {
		t.Parallel()
		tmpl, err := Parse([]byte("inputs:\n  - name: a\n    default: 12345678901234567\nresult_format:\n  num: 0.1\n"))
		require.NoError(t, err)
		require.Equal(t, json.Number("12345678901234567"), tmpl.Inputs[0].Default)
		require.Equal(t, json.Number("0.1"), tmpl.ResultFormat["num"])
	})

	t.Run("ExecutionDelayIsNanoseconds", func(t *testing.T) {
		t.Parallel()
		tmpl, err := Parse([]byte("steps:\n  a:\n    execution_delay: 1500000000\n"))
		require.NoError(t, err)
		require.Equal(t, "1.5s", tmpl.Steps["a"].ExecutionDelay.String())
		_, err = Parse([]byte("steps:\n  a:\n    execution_delay: 5s\n"))
		require.Error(t, err)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		_, err := Parse([]byte("steps: [\n"))
		require.ErrorContains(t, err, "unmarshal template: error converting YAML to JSON")
		_, err = Parse([]byte("steps: 1\n"))
		require.EqualError(t, err, `unmarshal template: field "steps": want an object, got the number 1`)
	})
}

func TestParseFunction(t *testing.T) {
	t.Parallel()

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		f, err := ParseFunction([]byte(`name: My::Function
description: ignored by the engine
action:
  type: test
  configuration:
    big: 12345678901234567
  base_output: {a: 1}
pre_hook:
  type: test
  configuration: {}
  base_output: {b: 2}
custom_states: [S]
conditions:
  - type: whatever
    if: [{operator: FOO}]
`))
		require.NoError(t, err)
		require.Equal(t, "My::Function", f.Name, "function names are not normalised")
		require.Equal(t, `{"big":12345678901234567}`, string(f.Action.Configuration))
		require.Equal(t, &Output{Strategy: OutputMerge, Format: map[string]any{"a": json.Number("1")}}, f.Action.Output)
		require.Nil(t, f.Action.BaseOutput)
		require.Equal(t, &Output{Strategy: OutputMerge, Format: map[string]any{"b": json.Number("2")}}, f.PreHook.Output)
		require.Equal(t, []string{"S"}, f.CustomStates)
		require.Len(t, f.Conditions, 1)
	})

	t.Run("NullConfigurationAccepted", func(t *testing.T) {
		t.Parallel()
		_, err := ParseFunction([]byte("name: f\naction:\n  type: test\n  configuration: ~\n"))
		require.NoError(t, err)
	})

	t.Run("ConfigurationMustBeObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseFunction([]byte("name: f\naction:\n  type: test\n"))
		require.EqualError(t, err, "unexpected end of JSON input")
		_, err = ParseFunction([]byte("name: f\naction:\n  type: test\n  configuration: text\n"))
		require.EqualError(t, err, "json: cannot unmarshal string into Go value of type map[string]interface {}")
	})
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	got := Warnings([]byte(`name: x
Description: case-insensitive match is known
allowed_resolver_tokens: [a]
inputs:
  - name: a
    nmae: typo
variables:
  - name: v
    value: {free: form}
base_configurations:
  b: {anything: goes}
steps:
  stepOne:
    dependancies: [b]
    action:
      type: test
      configuration: {unknown: fine}
      ouptut: {}
      output: {strategy: merge, format: {free: form}, extra: 1}
    pre_hook:
      typ: test
    json_schema: {whatever: 1}
    conditions:
      - type: check
        iff: []
        if:
          - value: a
            operatr: EQ
        then: {this: DONE}
`))
	require.Equal(t, []string{
		"allowed_resolver_tokens",
		"inputs[0].nmae",
		"steps.stepOne.action.ouptut",
		"steps.stepOne.action.output.extra",
		"steps.stepOne.conditions[0].if[0].operatr",
		"steps.stepOne.conditions[0].iff",
		"steps.stepOne.dependancies",
		"steps.stepOne.pre_hook.typ",
	}, got)
	require.Empty(t, Warnings([]byte("name: x\n")))
	require.Empty(t, Warnings([]byte("name: [\n")))
}

func TestParseDependency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Dependency
	}{
		{in: "stepA", want: Dependency{Step: "stepA", States: []string{"DONE"}}},
		{in: "stepA:ANY", want: Dependency{Step: "stepA", States: []string{"ANY"}}},
		{in: "stepA:DONE,X", want: Dependency{Step: "stepA", States: []string{"DONE", "X"}}},
		{in: "stepA:DONE, X", want: Dependency{Step: "stepA", States: []string{"DONE", " X"}}},
		{in: "stepA:", want: Dependency{Step: "stepA", States: []string{""}}},
		{in: "stepA:B:C", want: Dependency{Step: "stepA", States: []string{"B:C"}}},
		{in: "", want: Dependency{Step: "", States: []string{"DONE"}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, ParseDependency(tc.in))
		})
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	tmpl, err := Parse([]byte("name: ab\n"))
	require.NoError(t, err)
	err = Validate(tmpl, nil)
	var verr *ValidationError
	require.True(t, errors.As(err, &verr))
	require.EqualError(t, verr.Err, "template name can't be shorter than 3 characters")
	require.EqualError(t, err, "Invalid task template: template name can't be shorter than 3 characters")
}

// TestValidateIdempotent checks that a normalised template validates again
// to the same template, as when the engine reloads a stored one.
func TestValidateIdempotent(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	tmpl, err := Parse([]byte(`name: Again
description: validated twice
title_format: twice
steps:
  list:
    action: {type: test, configuration: {output: [1]}, base_output: {a: 1}}
    json_schema: {version: 4, properties: {a: {type: integer}}}
  loop:
    dependencies: [list]
    foreach: '{{ .step.list.output }}'
    action: {type: echo::hello::world, configuration: {name: x}}
    conditions:
      - type: skip
        then: {this: PRUNE}
`))
	require.NoError(t, err)
	require.NoError(t, Validate(tmpl, c))
	first, err := json.Marshal(tmpl)
	require.NoError(t, err)
	var again Template
	require.NoError(t, json.Unmarshal(first, &again))
	require.NoError(t, Validate(&again, c))
	second, err := json.Marshal(&again)
	require.NoError(t, err)
	require.JSONEq(t, string(first), string(second))
	require.Equal(t, ForeachParallel, again.Steps["loop"].ForeachStrategy)
	require.Equal(t, ForeachChildren, again.Steps["loop"].Conditions[0].Foreach)
}

// TestParseRejectsAliasBomb checks that YAML aliases cannot expand a small
// file into a huge document.
func TestParseRejectsAliasBomb(t *testing.T) {
	t.Parallel()
	y := "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		y += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
			", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	_, err := Parse([]byte(y))
	require.ErrorContains(t, err, "excessive aliasing")
	require.Empty(t, Warnings([]byte(y)))
}
