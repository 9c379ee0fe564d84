package ping_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/ping"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// obj is a JSON object literal.
type obj = map[string]any

// errNoDNS is what the test resolver answers instead of querying a server.
var errNoDNS = errors.New("no DNS in tests") //nolint:gochecknoglobals // immutable sentinel

// offlineResolver resolves from /etc/hosts and IP literals only: every DNS
// query fails without leaving the process.
func offlineResolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errNoDNS
		},
	}
}

func newAction(privileged bool) action.Action {
	return ping.New(ping.Options{Resolver: offlineResolver(), Privileged: privileged})
}

func marshal(t *testing.T, v any) json.RawMessage {
	t.Helper()

	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

func run(ctx context.Context, t *testing.T, a action.Action, cfg obj) action.Result {
	t.Helper()
	return a.Run(ctx, action.Request{StepName: "pingStep", Config: marshal(t, cfg)})
}

// rawAllowed reports whether this process may open raw ICMP sockets.
func rawAllowed() bool {
	conn, err := net.ListenPacket("ip4:icmp", "127.0.0.1")
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// datagramAllowed reports whether the kernel lets this process open a
// datagram ICMP socket.
func datagramAllowed() bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, syscall.IPPROTO_ICMP)
	if err != nil {
		return false
	}
	_ = syscall.Close(fd)
	return true
}

func TestName(t *testing.T) {
	t.Parallel()

	registry := action.NewRegistry()
	require.NoError(t, registry.Register(ping.Name, newAction(false)))
	_, ok := registry.Lookup("ping")
	require.True(t, ok)
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		base    any
		config  any
		wantErr string
	}{
		{name: "Minimal", config: obj{"hostname": "example.org"}},
		{name: "EveryField", config: obj{"hostname": "{{ .input.host }}", "count": "3", "interval_second": "2"}},
		{name: "Zeros", config: obj{"hostname": "h", "count": "0", "interval_second": "0"}},
		{name: "Empties", config: obj{"hostname": "h", "count": "", "interval_second": ""}},
		{name: "HostnameFromBase", base: obj{"hostname": "h", "count": "2"}, config: obj{"interval_second": "5"}},
		{name: "LargestInterval", config: obj{"hostname": "h", "interval_second": "9223372036"}},
		{name: "UnknownKeysIgnored", config: obj{"hostname": "h", "timeout": 3}},

		{name: "MissingConfiguration", wantErr: "unmarshal configuration: EOF"},
		{name: "MissingHostname", config: obj{"count": "1"}, wantErr: "missing hostname"},
		{name: "NullConfiguration", config: json.RawMessage("null"), wantErr: "missing hostname"},
		{name: "NegativeCount", config: obj{"hostname": "h", "count": "-1"}, wantErr: `parse count: strconv.ParseUint: parsing "-1": invalid syntax`},
		{name: "TemplatedCount", config: obj{"hostname": "h", "count": "{{ .input.n }}"}, wantErr: `parse count: strconv.ParseUint: parsing "{{ .input.n }}": invalid syntax`},
		{name: "DecimalInterval", config: obj{"hostname": "h", "interval_second": "1.5"}, wantErr: `parse interval_second: strconv.ParseUint: parsing "1.5": invalid syntax`},
		{name: "IntervalTooLong", config: obj{"hostname": "h", "interval_second": "9223372037"}, wantErr: `parse interval_second "9223372037": value out of range`},
		{name: "CountAsNumber", config: obj{"hostname": "h", "count": 3}, wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.count of type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := newAction(false).ValidateConfig(marshal(t, tt.base), marshal(t, tt.config))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
	t.Run("MissingHostnameSentinel", func(t *testing.T) {
		t.Parallel()

		err := newAction(false).ValidateConfig(nil, marshal(t, obj{}))
		require.ErrorIs(t, err, ping.ErrMissingHostname)
	})
}

func TestResources(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		base   any
		config any
		want   []string
	}{
		{name: "Hostname", config: obj{"hostname": "db-01.example.org"}, want: []string{"socket", "url:db-01.example.org"}},
		{name: "HostnameFromBase", base: obj{"hostname": "127.0.0.1"}, config: obj{"count": "2"}, want: []string{"socket", "url:127.0.0.1"}},
		{name: "DecodingError", config: obj{"hostname": 3}, want: nil},
		{name: "MissingConfiguration", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, newAction(false).Resources(marshal(t, tt.base), marshal(t, tt.config)))
		})
	}
}

func TestRunResolutionFailure(t *testing.T) {
	t.Parallel()

	res := run(context.Background(), t, newAction(false), obj{"hostname": "unknown.test", "count": "2"})
	require.Error(t, res.Err)
	require.Regexp(t, `^can't initiate ping: resolve "unknown.test": .*no DNS in tests$`, res.Err.Error())
	require.Equal(t, action.KindServer, action.KindOf(res.Err))
	require.Nil(t, res.Output)
	require.Equal(t, obj{"hostname": "unknown.test", "count": "2"}, res.Metadata)
}

// requireStats checks the output of a run to 127.0.0.1 that received
// every reply it asked for.
func requireStats(t *testing.T, res action.Result, count int) {
	t.Helper()

	require.NoError(t, res.Err)
	out, ok := res.Output.(map[string]any)
	require.True(t, ok, "output %T", res.Output)
	require.Equal(t, "127.0.0.1", out[ping.OutputIPAddr])
	require.EqualValues(t, count, out[ping.OutputPacketsReceived])
	require.EqualValues(t, count, out[ping.OutputPacketsSent])
	require.InDelta(t, 0.0, out[ping.OutputPacketLoss], 0)

	rtts, ok := out[ping.OutputRTTs].([]int64)
	require.True(t, ok, "rtts %T", out[ping.OutputRTTs])
	require.Len(t, rtts, count)
	lowest, highest, sum := rtts[0], rtts[0], int64(0)
	for _, rtt := range rtts {
		require.Positive(t, rtt)
		lowest, highest, sum = min(lowest, rtt), max(highest, rtt), sum+rtt
	}
	require.Equal(t, lowest, out[ping.OutputMinRTT])
	require.Equal(t, highest, out[ping.OutputMaxRTT])
	require.InDelta(t, float64(sum)/float64(count), out[ping.OutputAvgRTT], 1)
	stdDev, ok := out[ping.OutputStdDevRTT].(int64)
	require.True(t, ok)
	require.GreaterOrEqual(t, stdDev, int64(0))
	require.LessOrEqual(t, stdDev, highest-lowest)

	// The output survives a JSON round trip with the documented types.
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(marshal(t, out), &decoded))
	require.Len(t, decoded, 9)
}

func TestRunPrivileged(t *testing.T) {
	t.Parallel()

	if !rawAllowed() {
		t.Skip("raw ICMP sockets need CAP_NET_RAW")
	}
	tests := []struct {
		name   string
		config obj
		count  int
	}{
		{name: "DefaultCount", config: obj{"hostname": "127.0.0.1"}, count: 1},
		{name: "ZeroCount", config: obj{"hostname": "localhost", "count": "0", "interval_second": "0"}, count: 1},
		{name: "TwoReplies", config: obj{"hostname": "127.0.0.1", "count": "2", "interval_second": "1"}, count: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := run(context.Background(), t, newAction(true), tt.config)
			requireStats(t, res, tt.count)
			want := obj{}
			for k, v := range tt.config {
				want[k] = v
			}
			require.Equal(t, want, res.Metadata)
		})
	}
}

func TestRunUnprivileged(t *testing.T) {
	t.Parallel()

	res := run(context.Background(), t, newAction(false), obj{"hostname": "127.0.0.1", "count": "2"})
	require.Equal(t, obj{"hostname": "127.0.0.1", "count": "2"}, res.Metadata)
	if datagramAllowed() {
		requireStats(t, res, 2)
		return
	}
	// The kernel refuses the socket: the step succeeds with zero counters.
	require.NoError(t, res.Err)
	require.Equal(t, obj{
		ping.OutputPacketsReceived: uint64(0),
		ping.OutputPacketsSent:     uint64(0),
		ping.OutputPacketLoss:      0.0,
		ping.OutputIPAddr:          "127.0.0.1",
		ping.OutputRTTs:            []int64{},
		ping.OutputMinRTT:          int64(0),
		ping.OutputMaxRTT:          int64(0),
		ping.OutputAvgRTT:          int64(0),
		ping.OutputStdDevRTT:       int64(0),
	}, res.Output)
}

func TestRunCancel(t *testing.T) {
	t.Parallel()

	if !rawAllowed() {
		t.Skip("raw ICMP sockets need CAP_NET_RAW")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(50*time.Millisecond, cancel)
	defer stop.Stop()

	// 1000 replies at one per second would take minutes: only the
	// cancellation can end this run early.
	res := run(ctx, t, newAction(true), obj{"hostname": "127.0.0.1", "count": "1000"})
	require.ErrorIs(t, res.Err, context.Canceled)
	require.Equal(t, "ping 127.0.0.1: context canceled", res.Err.Error())
	out, ok := res.Output.(map[string]any)
	require.True(t, ok)
	sent, ok := out[ping.OutputPacketsSent].(uint64)
	require.True(t, ok)
	require.GreaterOrEqual(t, sent, uint64(1))
	require.Less(t, sent, uint64(1000))
	require.LessOrEqual(t, out[ping.OutputPacketsReceived], sent)
}
