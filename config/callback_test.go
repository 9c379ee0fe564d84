package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

func TestCallbackConfig(t *testing.T) {
	t.Parallel()

	for name, c := range map[string]struct {
		value string
		want  *config.CallbackConfig
		err   string
	}{
		"Missing": {value: "", want: nil},
		"BaseURLOnly": {
			value: `{"base_url": "https://tasks.example.org/"}`,
			want:  &config.CallbackConfig{BaseURL: "https://tasks.example.org"},
		},
		"WithPrefix": {
			value: `{"base_url": "https://tasks.example.org", "path_prefix": "hooks/"}`,
			want:  &config.CallbackConfig{BaseURL: "https://tasks.example.org", PathPrefix: "hooks/"},
		},
		"NoBaseURL":   {value: `{"path_prefix": "/hooks"}`, err: "callback-config item: base_url is required"},
		"InvalidJSON": {value: `{"base_url": `, err: "parse callback-config item"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			var items []config.Item
			if c.value != "" {
				items = append(items, config.Item{Key: "callback-config", Value: c.value})
			}

			got, err := config.NewStore(items...).CallbackConfig()
			if c.err != "" {
				require.ErrorContains(t, err, c.err)

				return
			}

			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}
