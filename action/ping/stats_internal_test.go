package ping

import (
	"math"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStatsOutput(t *testing.T) {
	t.Parallel()

	dst := &net.IPAddr{IP: net.IPv4(192, 0, 2, 7)}
	tests := []struct {
		name string
		st   stats
		want map[string]any
	}{
		{
			name: "SomeLost",
			st:   stats{sent: 4, rtts: []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}},
			want: map[string]any{
				OutputPacketsReceived: uint64(3), OutputPacketsSent: uint64(4), OutputPacketLoss: 25.0,
				OutputIPAddr: "192.0.2.7", OutputRTTs: []int64{3e6, 1e6, 2e6},
				OutputMinRTT: int64(1e6), OutputMaxRTT: int64(3e6), OutputAvgRTT: int64(2e6),
				// sqrt(((1-2)² + (2-2)² + (3-2)²) / 3) ms
				OutputStdDevRTT: int64(math.Sqrt(2.0/3.0) * 1e6),
			},
		},
		{
			name: "NothingSent",
			st:   stats{rtts: []time.Duration{}},
			want: map[string]any{
				OutputPacketsReceived: uint64(0), OutputPacketsSent: uint64(0), OutputPacketLoss: 0.0,
				OutputIPAddr: "192.0.2.7", OutputRTTs: []int64{},
				OutputMinRTT: int64(0), OutputMaxRTT: int64(0), OutputAvgRTT: int64(0), OutputStdDevRTT: int64(0),
			},
		},
		{
			name: "AllLost",
			st:   stats{sent: 2},
			want: map[string]any{
				OutputPacketsReceived: uint64(0), OutputPacketsSent: uint64(2), OutputPacketLoss: 100.0,
				OutputIPAddr: "192.0.2.7", OutputRTTs: []int64{},
				OutputMinRTT: int64(0), OutputMaxRTT: int64(0), OutputAvgRTT: int64(0), OutputStdDevRTT: int64(0),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := tt.st.output(dst)
			require.InDelta(t, tt.want[OutputStdDevRTT], got[OutputStdDevRTT], 1)
			delete(got, OutputStdDevRTT)
			delete(tt.want, OutputStdDevRTT)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestChecksum(t *testing.T) {
	t.Parallel()

	// The worked example of RFC 1071 §3: the sum folds to 0xddf2.
	require.Equal(t, uint16(^uint16(0xddf2)), checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}))
	// A message carrying its own checksum sums to zero.
	msg := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c'}
	sum := checksum(msg)
	msg[2], msg[3] = byte(sum>>8), byte(sum)
	require.Equal(t, uint16(0), checksum(msg))
}
