package echo_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/echo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestName(t *testing.T) {
	t.Parallel()

	registry := action.NewRegistry()
	require.NoError(t, registry.Register(echo.Name, echo.New()))
	_, ok := registry.Lookup("echo")
	require.True(t, ok)
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		base    string
		config  string
		wantErr string
	}{
		{name: "Empty", config: `{}`},
		{name: "Null", config: `null`},
		{name: "ClientErrorType", config: `{"error_type": "client", "error_message": "x"}`},
		{name: "ServerErrorType", config: `{"error_type": "server"}`},
		{name: "TemplatedOutput", config: `{"output": {"a": "{{ .input.a }}"}, "unmarshal": false}`},
		{name: "UnknownKeysIgnored", config: `{"foo": 1}`},
		{
			name:    "WrongErrorType",
			config:  `{"error_type": "fatal"}`,
			wantErr: "Wrong error type: expecting 'client' or 'server'",
		},
		{
			name:    "TemplatedErrorTypeRejected",
			config:  `{"error_type": "{{ .input.kind }}"}`,
			wantErr: "Wrong error type: expecting 'client' or 'server'",
		},
		{
			name:    "WrongErrorTypeFromBase",
			base:    `{"error_type": "CLIENT"}`,
			config:  `{"output": 1}`,
			wantErr: "Wrong error type: expecting 'client' or 'server'",
		},
		{name: "ConfigOverridesBaseErrorType", base: `{"error_type": "bad"}`, config: `{"error_type": "client"}`},
		{name: "MissingConfiguration", config: ``, wantErr: "unmarshal configuration: EOF"},
		{
			name:    "UnmarshalMustBeBoolean",
			config:  `{"unmarshal": "true"}`,
			wantErr: "unmarshal configuration: json: cannot unmarshal string into Go struct field config.unmarshal of type bool",
		},
		{
			name:    "ErrorMessageMustBeString",
			config:  `{"error_message": 3}`,
			wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.error_message of type string",
		},
		{
			name:    "BadBase",
			base:    `[1]`,
			config:  `{}`,
			wantErr: "unmarshal base configuration: json: cannot unmarshal array into Go value of type echo.config",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := echo.New().ValidateConfig(raw(tt.base), raw(tt.config))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestValidateConfigWrongErrorTypeIsSentinel(t *testing.T) {
	t.Parallel()

	err := echo.New().ValidateConfig(nil, raw(`{"error_type": "other"}`))
	require.ErrorIs(t, err, echo.ErrWrongErrorType)
}

func TestRun(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		base         string
		config       string
		wantOutput   any
		wantMetadata any
		wantErr      string
		wantKind     action.Kind
	}{
		{name: "NullOutput", config: `{}`},
		{name: "StringOutput", config: `{"output": "hello"}`, wantOutput: "hello"},
		{
			name:       "ExactNumbers",
			config:     `{"output": {"id": 12345678901234567, "ratio": 1.10, "big": 123456789012345678901234567890}}`,
			wantOutput: map[string]any{"id": json.Number("12345678901234567"), "ratio": json.Number("1.10"), "big": json.Number("123456789012345678901234567890")},
		},
		{
			name:       "ArrayOutput",
			config:     `{"output": [1, "two", true, null]}`,
			wantOutput: []any{json.Number("1"), "two", true, nil},
		},
		{
			name:         "OutputAndMetadata",
			config:       `{"output": {"k": "v"}, "metadata": {"HTTPStatus": 404}}`,
			wantOutput:   map[string]any{"k": "v"},
			wantMetadata: map[string]any{"HTTPStatus": json.Number("404")},
		},
		{
			name:         "ClientError",
			config:       `{"output": "partial", "metadata": {"m": 1}, "error_message": "not found", "error_type": "client"}`,
			wantOutput:   "partial",
			wantMetadata: map[string]any{"m": json.Number("1")},
			wantErr:      "not found",
			wantKind:     action.KindClient,
		},
		{
			name:       "ServerError",
			config:     `{"output": "partial", "error_message": "boom", "error_type": "server"}`,
			wantOutput: "partial",
			wantErr:    "boom",
			wantKind:   action.KindServer,
		},
		{
			name:     "DefaultErrorTypeIsServer",
			config:   `{"error_message": "Some error: with colon"}`,
			wantErr:  "Some error: with colon",
			wantKind: action.KindServer,
		},
		{name: "ErrorTypeWithoutMessage", config: `{"output": 1, "error_type": "client"}`, wantOutput: json.Number("1")},
		{
			name:       "UnmarshalJSON",
			config:     `{"unmarshal": true, "output": "{\"ids\": [12345678901234567, 2], \"count\": 2, \"name\": \"x\"}"}`,
			wantOutput: map[string]any{"ids": []any{json.Number("12345678901234567"), json.Number("2")}, "count": json.Number("2"), "name": "x"},
		},
		{
			name:       "UnmarshalJSONKeepsEveryDigit",
			config:     `{"unmarshal": true, "output": "{\"big\": 123456789012345678901234567890, \"ratio\": 1.10}"}`,
			wantOutput: map[string]any{"big": json.Number("123456789012345678901234567890"), "ratio": json.Number("1.10")},
		},
		{
			name:       "UnmarshalYAML",
			config:     `{"unmarshal": true, "output": "a: 1\nb:\n  - x\n  - \"y\"\nc: {d: true}\n"}`,
			wantOutput: map[string]any{"a": json.Number("1"), "b": []any{"x", "y"}, "c": map[string]any{"d": true}},
		},
		{name: "UnmarshalScalar", config: `{"unmarshal": true, "output": "12345678901234567"}`, wantOutput: json.Number("12345678901234567")},
		{name: "UnmarshalEmptyString", config: `{"unmarshal": true, "output": ""}`},
		{
			name:         "UnmarshalThenClientError",
			config:       `{"unmarshal": true, "output": "[1]", "metadata": "m", "error_message": "nope", "error_type": "client"}`,
			wantOutput:   []any{json.Number("1")},
			wantMetadata: "m",
			wantErr:      "nope",
			wantKind:     action.KindClient,
		},
		{
			name:     "UnmarshalObjectOutput",
			config:   `{"unmarshal": true, "output": {"a": 1}, "metadata": {"kept": false}}`,
			wantErr:  "cannot unmarshal: invalid data type (map[string]interface {})",
			wantKind: action.KindServer,
		},
		{
			name:     "UnmarshalNumberOutput",
			config:   `{"unmarshal": true, "output": 12}`,
			wantErr:  "cannot unmarshal: invalid data type (json.Number)",
			wantKind: action.KindServer,
		},
		{
			name:     "UnmarshalNullOutput",
			config:   `{"unmarshal": true}`,
			wantErr:  "cannot unmarshal: invalid data type (<nil>)",
			wantKind: action.KindServer,
		},
		{
			name:     "UnmarshalInvalidText",
			config:   `{"unmarshal": true, "output": "{\"a\": ", "metadata": {"kept": false}, "error_message": "ignored"}`,
			wantErr:  "failed to unmarshal output: yaml: line 1: did not find expected node content",
			wantKind: action.KindServer,
		},
		{
			name:     "UnmarshalInvalidYAML",
			config:   `{"unmarshal": true, "output": "a: b: c"}`,
			wantErr:  "failed to unmarshal output: yaml: mapping values are not allowed in this context",
			wantKind: action.KindServer,
		},
		{
			name:         "BaseOverlay",
			base:         `{"output": "from base", "metadata": {"a": 1, "b": 2}, "error_type": "client"}`,
			config:       `{"metadata": {"c": 3}, "error_message": "from step"}`,
			wantOutput:   "from base",
			wantMetadata: map[string]any{"c": json.Number("3")},
			wantErr:      "from step",
			wantKind:     action.KindClient,
		},
		{
			name:       "NullBase",
			base:       `null`,
			config:     `{"output": "x"}`,
			wantOutput: "x",
		},
		{
			name:     "MissingConfiguration",
			config:   ``,
			wantErr:  "unmarshal configuration: EOF",
			wantKind: action.KindServer,
		},
		{
			name:     "TrailingData",
			config:   `{"output": 1} {}`,
			wantErr:  "unmarshal configuration: invalid data after top-level value",
			wantKind: action.KindServer,
		},
		{
			name:     "BadBase",
			base:     `"text"`,
			config:   `{}`,
			wantErr:  "unmarshal base configuration: json: cannot unmarshal string into Go value of type echo.config",
			wantKind: action.KindServer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := echo.New().Run(context.Background(), action.Request{
				StepName:   "step",
				BaseConfig: raw(tt.base),
				Config:     raw(tt.config),
			})
			require.Equal(t, tt.wantOutput, res.Output)
			require.Equal(t, tt.wantMetadata, res.Metadata)
			require.Nil(t, res.Tags)
			if tt.wantErr == "" {
				require.NoError(t, res.Err)
				return
			}
			require.EqualError(t, res.Err, tt.wantErr)
			require.Equal(t, tt.wantKind, action.KindOf(res.Err))
		})
	}
}

func TestRunExactNumberSurvivesMarshal(t *testing.T) {
	t.Parallel()

	res := echo.New().Run(context.Background(), action.Request{
		Config: raw(`{"unmarshal": true, "output": "{\"id\": 12345678901234567}"}`),
	})
	require.NoError(t, res.Err)
	out, err := json.Marshal(res.Output)
	require.NoError(t, err)
	require.JSONEq(t, `{"id": 12345678901234567}`, string(out))
	require.Contains(t, string(out), "12345678901234567")
}

func TestResources(t *testing.T) {
	t.Parallel()

	require.Empty(t, echo.New().Resources(nil, raw(`{"output": "x"}`)))
}

// raw returns s as a raw configuration; an empty s is an absent one.
func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
