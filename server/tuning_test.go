package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTuning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		raw     string
		want    EngineTuning
		wantErr string
	}{
		{name: "Empty", raw: ""},
		{name: "OtherKeysOnly", raw: `{"admin_usernames":["a"],"max_concurrent_executions":3}`},
		{
			name: "Every",
			raw: `{"instance_heartbeat_interval":"1s","instance_dead_after":"3s","leader_election_interval":"200ms",` +
				`"leader_lease_ttl":"2s","maintenance_interval":"500ms","poll_interval":"4s"}`,
			want: EngineTuning{
				HeartbeatInterval: time.Second, DeadAfter: 3 * time.Second, ElectInterval: 200 * time.Millisecond,
				LeaderTTL: 2 * time.Second, MaintenanceInterval: 500 * time.Millisecond, PollInterval: 4 * time.Second,
			},
		},
		{name: "EmptyStringIsAbsent", raw: `{"poll_interval":""}`},
		{name: "BadDuration", raw: `{"instance_dead_after":"soon"}`, wantErr: "instance_dead_after"},
		{name: "Zero", raw: `{"maintenance_interval":"0s"}`, wantErr: "maintenance_interval: 0s is not positive"},
		{name: "Negative", raw: `{"leader_lease_ttl":"-1s"}`, wantErr: "leader_lease_ttl: -1s is not positive"},
		{name: "NotAString", raw: `{"poll_interval":5}`, wantErr: "parse utask-cfg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseTuning(tc.raw)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestTuningMergeKeepsSetFields(t *testing.T) {
	t.Parallel()
	fromCfg := EngineTuning{HeartbeatInterval: time.Second, PollInterval: time.Minute}
	opts := EngineTuning{PollInterval: time.Second, DeadAfter: 5 * time.Second}
	require.Equal(t, EngineTuning{HeartbeatInterval: time.Second, PollInterval: time.Second, DeadAfter: 5 * time.Second},
		opts.merge(fromCfg))
}
