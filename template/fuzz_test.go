package template

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse parses and validates arbitrary template files against the test
// catalog, then lints the unknown keys: none of it may panic, and a
// template that validated must validate again once normalised.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/golden/*.test")
	require.NoError(f, err)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		yamlText, _, _ := strings.Cut(string(data), goldenSeparator)
		f.Add([]byte(yamlText))
	}
	c := testCatalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Warnings(data)
		tmpl, err := Parse(data)
		if err != nil {
			return
		}
		if Validate(tmpl, c) != nil {
			return
		}
		require.NoError(t, Validate(tmpl, c), "a valid template stays valid once normalised")
	})
}
