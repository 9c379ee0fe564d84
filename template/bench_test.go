package template

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// largeTemplate is a chain of n steps, each depending on the previous one,
// with a check condition on its predecessor and output handles linted
// against a schema.
func largeTemplate(n int) []byte {
	var b strings.Builder
	b.WriteString("name: large\ndescription: a long chain\ntitle_format: large\nsteps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d:\n    action:\n      type: test\n      configuration:\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "        output: '{{ .step.s%d.output.value }}'\n    dependencies: [s%d]\n", i-1, i-1)
			fmt.Fprintf(&b, "    conditions:\n      - type: check\n        then:\n          s%d: PRUNE\n", i-1)
		} else {
			b.WriteString("        output: first\n")
		}
		b.WriteString("    json_schema:\n      properties:\n        value: {type: string}\n")
	}
	return []byte(b.String())
}

func BenchmarkParseValidate(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("Steps%d", n), func(b *testing.B) {
			data := largeTemplate(n)
			c := testCatalog(b)
			for b.Loop() {
				tmpl, err := Parse(data)
				require.NoError(b, err)
				require.NoError(b, Validate(tmpl, c))
			}
		})
	}
}
