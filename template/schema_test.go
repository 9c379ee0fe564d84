package template

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want, wantErr string
	}{
		{name: "KeepsExplicitDialectVerbatim", in: `{"version": 4, "$schema": "http://json-schema.org/draft-06/schema#"}`, want: `{"version": 4, "$schema": "http://json-schema.org/draft-06/schema#"}`},
		{name: "Version4", in: `{"version":4,"type":"object"}`, want: `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object"}`},
		{name: "Version6", in: `{"version":6}`, want: `{"$schema":"http://json-schema.org/draft-06/schema#"}`},
		{name: "Version6Decimal", in: `{"version":6.0}`, want: `{"$schema":"http://json-schema.org/draft-06/schema#"}`},
		{name: "Version7", in: `{"version":7}`, want: `{"$schema":"http://json-schema.org/draft-07/schema#"}`},
		{name: "VersionString", in: `{"version":"4"}`, want: `{"$schema":"http://json-schema.org/draft-07/schema#"}`},
		{name: "NoVersion", in: `{"type":"object"}`, want: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`},
		{name: "SortedKeysExactNumbers", in: `{"z":{"maximum":12345678901234567},"a":"<b>"}`, want: `{"$schema":"http://json-schema.org/draft-07/schema#","a":"<b>","z":{"maximum":12345678901234567}}`},
		{name: "NotAnObject", in: `true`, wantErr: "json: cannot unmarshal bool into Go value of type map[string]json.RawMessage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeSchema(json.RawMessage(tc.in))
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

func TestCompileSchema(t *testing.T) {
	t.Parallel()

	t.Run("ValidatesExactNumbers", func(t *testing.T) {
		t.Parallel()
		sch, err := CompileSchema("stepOne", json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"n":{"maximum":12345678901234567}}}`))
		require.NoError(t, err)
		ok, err := decodeExact([]byte(`{"n":12345678901234567}`))
		require.NoError(t, err)
		require.NoError(t, sch.Validate(ok))
		tooBig, err := decodeExact([]byte(`{"n":12345678901234568}`))
		require.NoError(t, err)
		require.Error(t, sch.Validate(tooBig))
	})

	t.Run("DefaultDialectIsDraft07", func(t *testing.T) {
		t.Parallel()
		// exclusiveMaximum is a number from draft-06 on; draft-04 wants a boolean.
		_, err := CompileSchema("s", json.RawMessage(`{"exclusiveMaximum": 3}`))
		require.NoError(t, err)
		_, err = CompileSchema("s", json.RawMessage(`{"$schema":"http://json-schema.org/draft-04/schema#","exclusiveMaximum": 3}`))
		require.Error(t, err)
	})

	t.Run("NamesTheStep", func(t *testing.T) {
		t.Parallel()
		_, err := CompileSchema("my step/#1", json.RawMessage(`{"type": 1}`))
		require.ErrorContains(t, err, `"utask:///step/my%20step%2F%231#" is not valid against metaschema`)
	})

	t.Run("RefusesOtherDocuments", func(t *testing.T) {
		t.Parallel()
		for _, ref := range []string{"other.json", "file:///etc/hostname", "http://127.0.0.1:1/schema.json"} {
			_, err := CompileSchema("s", json.RawMessage(`{"properties":{"a":{"$ref":"`+ref+`"}}}`))
			require.ErrorContains(t, err, "schema references outside the step schema are not allowed", ref)
		}
	})

	t.Run("InternalReferences", func(t *testing.T) {
		t.Parallel()
		sch, err := CompileSchema("s", json.RawMessage(`{"definitions":{"x":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/x"}}}`))
		require.NoError(t, err)
		require.Error(t, sch.Validate(map[string]any{"a": json.Number("1")}))
		require.NoError(t, sch.Validate(map[string]any{"a": "text"}))
	})

	t.Run("InvalidJSON", func(t *testing.T) {
		t.Parallel()
		_, err := CompileSchema("s", json.RawMessage(`{`))
		require.ErrorContains(t, err, "decode schema: ")
	})
}
