package template

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeErrorNamesFileStepAndField(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good.yaml": templateYAML("good", ""),
		"x.yaml": templateYAML("x", "steps:\n  fetch:\n    action:\n      type: test\n      configuration: {}\n"+
			"    retry_pattern: {every: minute}\n"),
	})
	got, err := LoadDirs([]string{dir}, testCatalog(t))
	require.EqualError(t, err, "template "+filepath.Join(dir, "x.yaml")+
		`: unmarshal template: step "fetch": field "retry_pattern": want a string, got an object`)
	require.Equal(t, []string{"good"}, templateNames(got))

	var de *DecodeError
	require.True(t, errors.As(err, &de))
	require.Equal(t, "fetch", de.Step)
	require.Equal(t, "retry_pattern", de.Field)
}

func TestDecodeErrorLocation(t *testing.T) {
	t.Parallel()
	step := func(extra string) string {
		return "steps:\n  s:\n    action:\n      type: test\n      configuration: {}\n" + extra
	}
	for _, tc := range []struct {
		name      string
		yaml      string
		wantStep  string
		wantField string
	}{
		{
			// Scalars given for strings are text, as in Parse: the
			// numeric description and title are not at fault.
			name:      "ScalarsForStringsFit",
			yaml:      "name: golden\ndescription: 404\ntitle_format: yes\n" + step("    execution_delay: soon\n"),
			wantStep:  "s",
			wantField: "execution_delay",
		},
		{
			name:      "StepNameWithDots",
			yaml:      "steps:\n  a.b:\n    max_retries: [1]\n",
			wantStep:  "a.b",
			wantField: "max_retries",
		},
		{
			name:      "KeyMatchedCaseInsensitively",
			yaml:      "Steps:\n  s:\n    Max_Retries: lots\n",
			wantStep:  "s",
			wantField: "Max_Retries",
		},
		{
			name:      "PreHookOutputStrategy",
			yaml:      step("    pre_hook:\n      type: test\n      output: {strategy: [merge]}\n"),
			wantStep:  "s",
			wantField: "pre_hook.output.strategy",
		},
		{
			name:      "ResolverInputDefaultIsFreeForm",
			yaml:      "resolver_inputs:\n  - name: a\n    default: {any: thing}\n    optional: perhaps\n",
			wantField: "resolver_inputs[0].optional",
		},
		{
			name:      "UnknownKeysAreSkipped",
			yaml:      "steps:\n  s:\n    dependancies: {not: checked}\n    foreach: [1, 2]\n",
			wantStep:  "s",
			wantField: "foreach",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml))
			var de *DecodeError
			require.True(t, errors.As(err, &de), "error %v", err)
			require.Equal(t, tc.wantStep, de.Step)
			require.Equal(t, tc.wantField, de.Field)
		})
	}
}

func TestDecodeErrorKeepsSyntaxErrors(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("steps:\n  s: [unclosed\n"))
	require.ErrorContains(t, err, "unmarshal template: error converting YAML to JSON: yaml: line 2")
	var de *DecodeError
	require.False(t, errors.As(err, &de))
}

func TestDecodeErrorOfFunction(t *testing.T) {
	t.Parallel()
	_, err := ParseFunction([]byte("name: f\naction:\n  type: test\n  configuration: {}\n  output: {strategy: 3}\n" +
		"custom_states: [A, [B]]\n"))
	require.EqualError(t, err, `unmarshal function: field "action.output.strategy": OutputStrategy should be a string, got 3`)
}

func TestDecodeErrorLongStringIsCut(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("steps:\n  s:\n    idempotent: ééééééééééééééééééééééééééééééééééééééééééééééééé\n"))
	require.EqualError(t, err, `unmarshal template: step "s": field "idempotent": want a boolean, `+
		`got the string "`+"éééééééééééééééééééééééééééééééééééééééé"+`"…`)
}
