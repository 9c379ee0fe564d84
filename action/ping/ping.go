// Package ping implements the builtin action "ping": it sends ICMP echo
// requests to a host and returns the round-trip statistics.
//
// The requests go through an unprivileged datagram ICMP socket, which the
// kernel allows only to the groups listed in net.ipv4.ping_group_range on
// Linux; Options.Privileged switches to a raw socket instead. The run ends
// once as many replies as requested have arrived: there is no overall
// timeout, so only the context ends a run whose replies are lost. Socket
// errors do not fail the step: it then reports the counters reached so far.
package ping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/utask/utask/action"
)

// Name is the action type under which ping is registered.
const Name = "ping"

// Output keys of a ping step.
const (
	OutputPacketsReceived = "packets_received"
	OutputPacketsSent     = "packets_sent"
	OutputPacketLoss      = "packet_loss"
	OutputIPAddr          = "ip_addr"
	OutputRTTs            = "rtts"
	OutputMinRTT          = "min_rtt"
	OutputMaxRTT          = "max_rtt"
	OutputAvgRTT          = "avg_rtt"
	OutputStdDevRTT       = "std_dev_rtt"
)

// ErrMissingHostname is returned by ValidateConfig when hostname is empty.
var ErrMissingHostname = errors.New("missing hostname")

// maxIntervalSeconds is the largest interval_second whose duration fits a
// time.Duration.
const maxIntervalSeconds = math.MaxInt64 / int64(time.Second)

// config is the configuration of one ping step.
type config struct {
	// Hostname is the destination, a name or an address.
	Hostname string `json:"hostname"`
	// Count is the number of replies to wait for; "" and "0" mean 1.
	Count string `json:"count"`
	// IntervalSecond is the number of seconds between two requests; ""
	// and "0" mean 1.
	IntervalSecond string `json:"interval_second"`
}

// plan is a configuration checked for one run.
type plan struct {
	count    uint64
	interval time.Duration
}

// compile checks the literal fields and returns the run plan.
func (c *config) compile() (plan, error) {
	count, err := parseUnsigned("count", c.Count)
	if err != nil {
		return plan{}, err
	}
	seconds, err := parseUnsigned("interval_second", c.IntervalSecond)
	if err != nil {
		return plan{}, err
	}
	if seconds > uint64(maxIntervalSeconds) {
		return plan{}, fmt.Errorf("parse interval_second %q: value out of range", c.IntervalSecond)
	}
	return plan{count: max(count, 1), interval: time.Duration(max(seconds, 1)) * time.Second}, nil
}

// parseUnsigned parses an optional unsigned decimal field; "" is 0.
func parseUnsigned(field, s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", field, err)
	}
	return n, nil
}

// Options configures the ping action.
type Options struct {
	// Resolver resolves host names. Defaults to net.DefaultResolver.
	Resolver *net.Resolver
	// Privileged makes the action use raw ICMP sockets, which need the
	// CAP_NET_RAW capability, instead of unprivileged datagram ICMP
	// sockets. Defaults to false.
	Privileged bool
}

type pingAction struct {
	resolver   *net.Resolver
	privileged bool
}

// New returns the ping action.
func New(opts Options) action.Action {
	resolver := opts.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return &pingAction{resolver: resolver, privileged: opts.Privileged}
}

// ValidateConfig checks the raw configuration: hostname must be set, count
// and interval_second must be empty or unsigned integers.
func (a *pingAction) ValidateConfig(base, cfg json.RawMessage) error {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return err //nolint:wrapcheck // Overlay names the operation
	}
	if c.Hostname == "" {
		return ErrMissingHostname
	}
	_, err := c.compile()
	return err
}

// Run resolves the host and pings it until count replies have arrived, the
// socket fails or ctx is done. Only a resolution failure or the end of ctx
// is an error; the statistics are returned in every case after the
// resolution.
func (a *pingAction) Run(ctx context.Context, req action.Request) action.Result {
	var c config
	if err := action.Overlay(req.BaseConfig, req.Config, &c); err != nil {
		return action.Result{Err: err}
	}
	metadata := map[string]any{"hostname": c.Hostname}
	if c.Count != "" {
		metadata["count"] = c.Count
	}
	if c.IntervalSecond != "" {
		metadata["interval_second"] = c.IntervalSecond
	}
	p, err := c.compile()
	if err != nil {
		return action.Result{Metadata: metadata, Err: err}
	}
	logger := req.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	dst, err := a.resolve(ctx, c.Hostname)
	if err != nil {
		return action.Result{Metadata: metadata, Err: fmt.Errorf("can't initiate ping: %w", err)}
	}

	s := &session{dst: dst, count: p.count, interval: p.interval, privileged: a.privileged}
	st, err := s.run(ctx)
	if err != nil && ctx.Err() == nil {
		// A socket error ends the run but not the step.
		logger.WarnContext(ctx, "ping: socket error, reporting the statistics so far",
			slog.String("hostname", c.Hostname), slog.String("ip_addr", dst.String()),
			slog.Uint64("packets_sent", st.sent), slog.Int("packets_received", len(st.rtts)),
			slog.Any("err", err))
		err = nil
	}
	res := action.Result{Output: st.output(dst), Metadata: metadata}
	if err != nil {
		res.Err = fmt.Errorf("ping %s: %w", c.Hostname, err)
	}
	return res
}

// Resources returns "socket" and "url:<hostname>", or nothing when the
// configuration does not decode.
func (a *pingAction) Resources(base, cfg json.RawMessage) []string {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return nil
	}
	return []string{"socket", "url:" + c.Hostname}
}

// resolve returns the address to ping: the first IPv4 address of host, or
// its first address when it has no IPv4 one.
func (a *pingAction) resolve(ctx context.Context, host string) (*net.IPAddr, error) {
	addrs, err := a.resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %q: no address", host)
	}
	for _, addr := range addrs {
		if addr.IP.To4() != nil {
			return &addr, nil
		}
	}
	return &addrs[0], nil
}

// stats are the counters of one run.
type stats struct {
	sent uint64
	rtts []time.Duration
}

// output returns the step output of a run to dst.
func (s *stats) output(dst *net.IPAddr) map[string]any {
	rtts := make([]int64, len(s.rtts))
	var lowest, highest, sum time.Duration
	for i, rtt := range s.rtts {
		rtts[i] = int64(rtt)
		if i == 0 || rtt < lowest {
			lowest = rtt
		}
		if rtt > highest {
			highest = rtt
		}
		sum += rtt
	}
	var avg, stdDev float64
	if n := float64(len(s.rtts)); n > 0 {
		avg = float64(sum) / n
		var squares float64
		for _, rtt := range s.rtts {
			d := float64(rtt) - avg
			squares += d * d
		}
		stdDev = math.Sqrt(squares / n)
	}
	received := uint64(len(s.rtts))
	loss := 0.0
	if s.sent > 0 && received < s.sent {
		loss = float64(s.sent-received) / float64(s.sent) * 100
	}
	return map[string]any{
		OutputPacketsReceived: received,
		OutputPacketsSent:     s.sent,
		OutputPacketLoss:      loss,
		OutputIPAddr:          dst.String(),
		OutputRTTs:            rtts,
		OutputMinRTT:          int64(lowest),
		OutputMaxRTT:          int64(highest),
		OutputAvgRTT:          int64(avg),
		OutputStdDevRTT:       int64(stdDev),
	}
}
