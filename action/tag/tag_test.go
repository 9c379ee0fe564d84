package tag_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/tag"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestName(t *testing.T) {
	t.Parallel()

	registry := action.NewRegistry()
	require.NoError(t, registry.Register(tag.Name, tag.New()))
	_, ok := registry.Lookup("tag")
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
		{name: "NoTags", config: `{"tags": {}}`},
		{name: "TemplatedValues", config: `{"tags": {"customer": "{{ .input.customer_id }}", "draft": ""}}`},
		{name: "NullValueRemoves", config: `{"tags": {"draft": null}}`},
		{name: "UnknownKeysIgnored", config: `{"tags": {"a": "b"}, "other": 1}`},
		{
			name:    "ReservedKey",
			config:  `{"tags": {"a": "b", "_utask_parent_task_id": "123"}}`,
			wantErr: `tag name "_utask_parent_task_id" not allowed`,
		},
		{
			name:    "ReservedKeyEmptyValue",
			config:  `{"tags": {"_utask_parent_task_id": ""}}`,
			wantErr: `tag name "_utask_parent_task_id" not allowed`,
		},
		{
			name:    "ReservedKeyFromBase",
			base:    `{"tags": {"_utask_parent_task_id": "1"}}`,
			config:  `{"tags": {"a": "b"}}`,
			wantErr: `tag name "_utask_parent_task_id" not allowed`,
		},
		{
			name:    "NumberValue",
			config:  `{"tags": {"count": 3}}`,
			wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.tags of type string",
		},
		{
			name:    "BooleanValue",
			config:  `{"tags": {"flag": true}}`,
			wantErr: "unmarshal configuration: json: cannot unmarshal bool into Go struct field config.tags of type string",
		},
		{
			name:    "TagsNotAnObject",
			config:  `{"tags": ["a"]}`,
			wantErr: "unmarshal configuration: json: cannot unmarshal array into Go struct field config.tags of type map[string]string",
		},
		{name: "MissingConfiguration", config: ``, wantErr: "unmarshal configuration: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := tag.New().ValidateConfig(raw(tt.base), raw(tt.config))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestValidateConfigReservedIsSentinel(t *testing.T) {
	t.Parallel()

	err := tag.New().ValidateConfig(nil, raw(`{"tags": {"_utask_parent_task_id": "x"}}`))
	require.ErrorIs(t, err, tag.ErrReservedTag)
}

func TestRun(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		base     string
		config   string
		wantTags map[string]string
		wantErr  string
		wantKind action.Kind
	}{
		{name: "NoTags", config: `{}`, wantTags: map[string]string{}},
		{
			name:     "SetAndRemove",
			config:   `{"tags": {"customer": "c-42", "draft": "", "old": null}}`,
			wantTags: map[string]string{"customer": "c-42", "draft": "", "old": ""},
		},
		{
			name:     "BaseMergedWithStep",
			base:     `{"tags": {"env": "prod", "team": "a"}}`,
			config:   `{"tags": {"team": "b"}}`,
			wantTags: map[string]string{"env": "prod", "team": "b"},
		},
		{
			name:     "ReservedKeyRefused",
			config:   `{"tags": {"_utask_parent_task_id": "forged"}}`,
			wantErr:  `tag name "_utask_parent_task_id" not allowed`,
			wantKind: action.KindClient,
		},
		{
			name:     "TemplatedNumberIsString",
			config:   `{"tags": {"n": "12345678901234567890"}}`,
			wantTags: map[string]string{"n": "12345678901234567890"},
		},
		{
			name:     "BadConfiguration",
			config:   `{"tags": {"n": 1}}`,
			wantErr:  "unmarshal configuration: json: cannot unmarshal number into Go struct field config.tags of type string",
			wantKind: action.KindServer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := tag.New().Run(context.Background(), action.Request{
				StepName:   "label",
				BaseConfig: raw(tt.base),
				Config:     raw(tt.config),
			})
			require.Nil(t, res.Output)
			require.Nil(t, res.Metadata)
			if tt.wantErr != "" {
				require.EqualError(t, res.Err, tt.wantErr)
				require.Equal(t, tt.wantKind, action.KindOf(res.Err))
				require.Nil(t, res.Tags)
				return
			}
			require.NoError(t, res.Err)
			require.Equal(t, tt.wantTags, res.Tags)
		})
	}
}

func TestResources(t *testing.T) {
	t.Parallel()

	require.Empty(t, tag.New().Resources(nil, raw(`{"tags": {"a": "b"}}`)))
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
