package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
)

func TestMaxConcurrentRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw string
		want      int
		errPart   string
	}{
		{"Absent", `{}`, 0, ""},
		{"Set", `{"server_options": {"max_concurrent_requests": 64}}`, 64, ""},
		{"NoCap", `{"server_options": {"max_concurrent_requests": -1}}`, -1, ""},
		{"Mismatch", `{"server_options": {"max_concurrent_requests": "many"}}`, 0, "server_options.max_concurrent_requests"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.ParseUtaskConfig(tc.raw)
			if tc.errPart != "" {
				require.ErrorContains(t, err, tc.errPart)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.ServerOptions.MaxConcurrentRequests)
		})
	}
}
