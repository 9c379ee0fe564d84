package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	d := func(s string) time.Duration {
		v, err := time.ParseDuration(s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		pattern string
		try     int
		want    time.Duration
	}{
		{"", 0, d("8s")},
		{"seconds", 1, d("10s")},
		{"seconds", 2, d("12.5s")},
		{"seconds", 3, d("15.625s")},
		{"seconds", 7, d("38.146972656s")},
		{"seconds", 10, d("1m14.505805969s")},
		{"seconds", 19, d("9m15.111512312s")},
		{"seconds", 20, d("10m")},
		{"seconds", 50, d("10m")},
		{"minutes", 0, 0},
		{"minutes", 1, d("1m36s")},
		{"minutes", 18, d("28m48s")},
		{"minutes", 19, d("30m")},
		{"hours", 0, d("50m")},
		{"hours", 1, d("1h")},
		{"hours", 4, d("1h30m")},
		{"hours", 100, d("3h")},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, retryDelay(tc.pattern, tc.try), "%s try %d", tc.pattern, tc.try)
	}
	// The resolution waits for its soonest step, never more than an hour.
	require.Equal(t, time.Hour, nextRetryDelay(nil))
	require.Equal(t, time.Hour, nextRetryDelay([]retriable{{pattern: "hours", tryCount: 5}}))
	require.Equal(t, d("10s"), nextRetryDelay([]retriable{{pattern: "hours", tryCount: 5}, {pattern: "", tryCount: 1}}))
}
