package values_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/values"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()

	got, err := values.DecodeJSON([]byte(`{"id": 1619464078, "big": 12345678912345678, "f": -2.30, "l": [1, "a", null, true]}`))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"id":  json.Number("1619464078"),
		"big": json.Number("12345678912345678"),
		"f":   json.Number("-2.30"),
		"l":   []any{json.Number("1"), "a", nil, true},
	}, got)

	for _, bad := range []string{``, `{`, `{"a":1} {"b":2}`, `1 2`, `nul`} {
		_, err := values.DecodeJSON([]byte(bad))
		require.Error(t, err, bad)
	}

	got, err = values.DecodeJSON([]byte(" \"s\" \n"))
	require.NoError(t, err)
	require.Equal(t, "s", got)
}

func TestParseYAML(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want any
	}{
		{"ExactNumbers", "id: 1619464078\nf: -2.3\n", map[string]any{"id": json.Number("1619464078"), "f": json.Number("-2.3")}},
		{"YAML11Booleans", "a: yes\nb: off\nc: N\n", map[string]any{"a": true, "b": false, "c": false}},
		{"BooleanKey", "n: 42\n", map[string]any{"false": json.Number("42")}},
		{"Octal", "o: 010\n", map[string]any{"o": json.Number("8")}},
		{"Hex", "h: 0x10\n", map[string]any{"h": json.Number("16")}},
		{"QuotedStaysString", "q: 'N'\n", map[string]any{"q": "N"}},
		{"List", "- a\n- 1\n", []any{"a", json.Number("1")}},
		{"PlainScalar", "just text", "just text"},
		{"JSONDocument", `{"a": [1, 2]}`, map[string]any{"a": []any{json.Number("1"), json.Number("2")}}},
		{"LastDuplicateWins", "a: 1\na: 2\n", map[string]any{"a": json.Number("2")}},
		{"Empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := values.ParseYAML(tt.text)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		_, err := values.ParseYAML("a: [1, 2\n")
		require.ErrorContains(t, err, "convert yaml")
	})
}
