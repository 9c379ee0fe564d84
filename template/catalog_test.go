package template

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)

	t.Run("Plugin", func(t *testing.T) {
		t.Parallel()
		levels, plugin, err := c.Resolve(Action{Type: "test", Configuration: json.RawMessage(`{}`)})
		require.NoError(t, err)
		require.Len(t, levels, 1)
		require.Nil(t, levels[0].Function)
		require.Equal(t, "test", levels[0].Action.Type)
		require.IsType(t, testAction{}, plugin)
	})

	t.Run("NestedFunctions", func(t *testing.T) {
		t.Parallel()
		step := Action{Type: "echo::hello::nested1", Configuration: json.RawMessage(`{"user":{"name":"bob"}}`)}
		levels, plugin, err := c.Resolve(step)
		require.NoError(t, err)
		require.IsType(t, testAction{}, plugin)
		var types, fns []string
		for _, l := range levels {
			types = append(types, l.Action.Type)
			if l.Function != nil {
				fns = append(fns, l.Function.Name)
			}
		}
		require.Equal(t, []string{"echo::hello::nested1", "echo::hello::nested2", "echo::hello::world", "test"}, types)
		require.Equal(t, []string{"echo::hello::nested1", "echo::hello::nested2", "echo::hello::world"}, fns)
		require.Nil(t, levels[3].Function)
		require.JSONEq(t, `{"user":{"name":"bob"}}`, string(levels[0].Action.Configuration))
		require.JSONEq(t, `{"who":"{{ .function_args.user.name }}"}`, string(levels[1].Action.Configuration))
		// The base_output of nested2's action was turned into a merge output.
		require.Equal(t, &Output{Strategy: OutputMerge, Format: map[string]any{"nested2": "foo"}}, levels[2].Action.Output)
	})

	t.Run("NoRunner", func(t *testing.T) {
		t.Parallel()
		levels, plugin, err := c.Resolve(Action{Type: "broken::inner"})
		require.EqualError(t, err, "No runner for type 'nope'")
		require.Nil(t, levels)
		require.Nil(t, plugin)
	})

	t.Run("Cycle", func(t *testing.T) {
		t.Parallel()
		_, _, err := c.Resolve(Action{Type: "cycle::b"})
		require.EqualError(t, err, `invalid cyclic import in function for "cycle::b"`)
	})

	t.Run("EmptyCatalog", func(t *testing.T) {
		t.Parallel()
		_, _, err := (&Catalog{}).Resolve(Action{Type: "test"})
		require.EqualError(t, err, "No runner for type 'test'")
		var nilCatalog *Catalog
		_, _, err = nilCatalog.Resolve(Action{Type: "test"})
		require.EqualError(t, err, "No runner for type 'test'")
	})
}

func TestEffective(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	own := &Condition{Type: ConditionCheck, Then: map[string]string{"this": "OWN"}}
	nested := &Step{
		Action:       Action{Type: "echo::hello::nested1"},
		CustomStates: []string{"OWN", "SHARED_STATE"},
		Conditions:   []*Condition{own},
	}

	t.Run("ConditionsInnermostFirst", func(t *testing.T) {
		t.Parallel()
		var thens []string
		for _, cond := range c.EffectiveConditions(nested) {
			thens = append(thens, cond.Then["this"])
		}
		require.Equal(t, []string{"HELLO_STATE", "NESTED2_STATE", "NESTED1_STATE", "OWN"}, thens)
	})

	t.Run("CustomStatesUnion", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"OWN", "SHARED_STATE", "NESTED1_STATE", "NESTED2_STATE", "HELLO_STATE"},
			c.EffectiveCustomStates(nested))
		require.Equal(t, []string{"A"}, c.EffectiveCustomStates(&Step{Action: Action{Type: "test"}, CustomStates: []string{"A", "A"}}))
	})

	t.Run("PreHookOwn", func(t *testing.T) {
		t.Parallel()
		ph := &Action{Type: "test"}
		require.Same(t, ph, c.EffectivePreHook(&Step{Action: Action{Type: "test"}, PreHook: ph}))
		require.Nil(t, c.EffectivePreHook(&Step{Action: Action{Type: "test"}}))
	})

	t.Run("PreHookFromFunctionWins", func(t *testing.T) {
		t.Parallel()
		got := c.EffectivePreHook(&Step{Action: Action{Type: "with::prehook"}, PreHook: &Action{Type: "test"}})
		require.NotNil(t, got)
		require.JSONEq(t, `{"output":"from function"}`, string(got.Configuration))
	})

	t.Run("PreHookInnermostFunctionWins", func(t *testing.T) {
		t.Parallel()
		got := c.EffectivePreHook(&Step{Action: Action{Type: "with::prehook::outer"}})
		require.NotNil(t, got)
		require.JSONEq(t, `{"output":"from function"}`, string(got.Configuration))
	})

	t.Run("BrokenChainKeepsWhatResolved", func(t *testing.T) {
		t.Parallel()
		s := &Step{Action: Action{Type: "cycle::a"}, CustomStates: []string{"X"}}
		require.Equal(t, []string{"X"}, c.EffectiveCustomStates(s))
		require.Empty(t, c.EffectiveConditions(&Step{Action: Action{Type: "nowhere"}}))
	})
}

func TestFunctionArguments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		config string
		want   []string
	}{
		{name: "Simple", config: `{"a":"{{ .function_args.name }}"}`, want: []string{"name"}},
		{name: "NoSpaces", config: `{"a":"{{.function_args.name}}"}`, want: []string{"name"}},
		{name: "Dotted", config: `{"a":"{{ .function_args.user.name }}"}`, want: []string{"user.name"}},
		{name: "NestedAndListsSortedKeys", config: `{"z":["{{ .function_args.zed }}"],"a":{"b":"x {{ .function_args.alpha }} {{ .function_args.zed }}"}}`, want: []string{"alpha", "zed"}},
		{name: "DigitsNotDiscovered", config: `{"a":"{{ .function_args.name1 }}"}`},
		{name: "UnderscoreNotDiscovered", config: `{"a":"{{ .function_args.my_arg }}"}`},
		{name: "PipelineNotDiscovered", config: `{"a":"{{ .function_args.name | default \"x\" }}"}`},
		{name: "KeysNotScanned", config: `{"{{ .function_args.key }}":"v"}`},
		{name: "NotAnObject", config: `"{{ .function_args.top }}"`, want: []string{"top"}},
		{name: "Absent", config: ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &Function{Action: Action{Configuration: json.RawMessage(tc.config)}}
			require.Equal(t, tc.want, f.Arguments())
		})
	}
}

func TestFunctionArgsValidation(t *testing.T) {
	t.Parallel()
	f := &Function{Action: Action{Configuration: json.RawMessage(`{"a":"{{ .function_args.user.name }} {{ .function_args.id }}"}`)}}
	for _, tc := range []struct {
		name, config, wantErr string
	}{
		{name: "AllPresent", config: `{"user":{"name":"bob"},"id":1,"extra":true}`},
		{name: "NullCounts", config: `{"user":{"name":null},"id":null}`},
		{name: "MissingNested", config: `{"user":{},"id":1}`, wantErr: `missing function_args "user.name"`},
		{name: "ParentNotObject", config: `{"user":"bob","id":1}`, wantErr: `missing function_args "user.name"`},
		{name: "MissingTopLevel", config: `{"user":{"name":"bob"}}`, wantErr: `missing function_args "id"`},
		{name: "NoConfiguration", config: ``, wantErr: `missing function_args "user.name"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := f.validateArgs(json.RawMessage(tc.config))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.wantErr)
		})
	}
}
