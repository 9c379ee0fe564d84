package template

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/values"
)

func TestValidateChecksTemplateSyntax(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		yaml string
		want string
	}{
		"UnclosedTitle": {
			"name: abc\ndescription: abc\ntitle_format: \"{{.input.x\"\n",
			"Invalid task template: Invalid template in title_format: Templating error: template: tmpl:1: unclosed action",
		},
		"UnknownFunction": {
			"name: abc\ndescription: abc\ntitle_format: \"x {{nosuch 1}}\"\n",
			`Invalid template in title_format: Templating error: template: tmpl:1: function "nosuch" not defined`,
		},
		"InStepConfiguration": {
			"name: abc\ndescription: abc\ntitle_format: abc\nsteps:\n  one:\n    description: one\n    action:\n      type: test\n      configuration:\n        url: \"{{ if .input }}\"\n",
			"Invalid template in steps.one.action.configuration.url",
		},
	}
	for name, tc := range cases {
		tmpl, err := Parse([]byte(tc.yaml))
		require.NoError(t, err, name)
		c := testCatalog(t)
		c.Syntax = values.NewCache(16).Check
		require.ErrorContains(t, Validate(tmpl, c), tc.want, name)
	}
	ok, err := Parse([]byte("name: abc\ndescription: abc\ntitle_format: \"{{.task.task_id | upper}}\"\n"))
	require.NoError(t, err)
	c := testCatalog(t)
	c.Syntax = values.NewCache(16).Check
	require.NoError(t, Validate(ok, c))
}
