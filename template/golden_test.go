package template

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

//nolint:gochecknoglobals // test flag
var update = flag.Bool("update", false, "rewrite the expected part of testdata/golden/*.test files")

// goldenSeparator separates a golden file's template from its expected
// result.
const goldenSeparator = "\n----------\n"

// goldenResult parses and validates a template against the test catalog
// and renders the outcome: the normalised template as indented JSON, or
// "error: <text>".
func goldenResult(t *testing.T, c *Catalog, yamlText string) string {
	t.Helper()
	tmpl, err := Parse([]byte(yamlText))
	if err == nil {
		err = Validate(tmpl, c)
	}
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(tmpl))
	return buf.String()
}

func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/golden/*.test")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	c := testCatalog(t)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".test")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			yamlText, want, ok := strings.Cut(string(data), goldenSeparator)
			require.True(t, ok, "%s: no %q separator line", file, strings.TrimSpace(goldenSeparator))
			got := goldenResult(t, c, yamlText)
			if *update {
				require.NoError(t, os.WriteFile(file, []byte(yamlText+goldenSeparator+got), 0o600))
				return
			}
			require.Equal(t, strings.TrimSpace(want), strings.TrimSpace(got))
		})
	}
}
