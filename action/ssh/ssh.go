// Package ssh implements the builtin action "ssh": it connects to a host
// with a private key, optionally through bastions, runs a shell script there
// and reads the step output from what the script prints.
//
// Unlike the reference implementation, host keys are verified by default:
// against the key pinned by the step's host_key field, else against the
// known_hosts file of Options.KnownHostsPath. A step can opt out with
// insecure_ignore_host_key: "true"; every such run logs a warning.
//
// Exit code 0 is a success, a code listed as unrecoverable a client error
// (CLIENT_ERROR) and any other code a server error (SERVER_ERROR); output
// and metadata are returned in both failure cases.
package ssh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/internal/procout"
)

// Name is the action type under which ssh is registered.
const Name = "ssh"

// DefaultDialTimeout bounds the TCP connection and the SSH handshake when
// Options.DialTimeout is zero.
const DefaultDialTimeout = 10 * time.Second

// Metadata keys of an ssh step; every value is a string.
const (
	// MetadataOutput holds the combined stdout and stderr text.
	MetadataOutput = "output"
	// MetadataExitCode holds the remote exit status; 128 + the signal
	// number when the server reports only a signal.
	MetadataExitCode = "exit_code"
	// MetadataExitSignal holds the signal name the server reported, or "".
	MetadataExitSignal = "exit_signal"
	// MetadataExitMsg holds the message the server reported, or "".
	MetadataExitMsg = "exit_msg"
)

// Errors callers can test with errors.Is.
var (
	// ErrNoHostKeyCheck means a step has no way to verify the host key: no
	// host_key, no known_hosts file and no explicit opt-out.
	ErrNoHostKeyCheck = errors.New("no host key verification: set host_key, " +
		"configure a known_hosts file or set insecure_ignore_host_key")
	// ErrTimeout means the command ran longer than the step's timeout.
	ErrTimeout = errors.New("ssh session has not terminated before timeout")
)

// Dialer opens the TCP connection to the first host; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configures the ssh action.
type Options struct {
	// KnownHostsPath is a file in OpenSSH known_hosts format that host
	// keys are checked against when a step pins none. It is read at every
	// run. Defaults to none: steps must then pin host_key or opt out.
	KnownHostsPath string
	// Dialer opens TCP connections. Defaults to a *net.Dialer.
	Dialer Dialer
	// DialTimeout bounds the TCP connection and the SSH handshake.
	// Defaults to DefaultDialTimeout.
	DialTimeout time.Duration
}

type sshAction struct {
	knownHosts  string
	dialer      Dialer
	dialTimeout time.Duration
}

// New returns the ssh action.
func New(opts Options) action.Action {
	a := &sshAction{knownHosts: opts.KnownHostsPath, dialer: opts.Dialer, dialTimeout: opts.DialTimeout}
	if a.dialer == nil {
		a.dialer = &net.Dialer{}
	}
	if a.dialTimeout <= 0 {
		a.dialTimeout = DefaultDialTimeout
	}
	return a
}

// ValidateConfig checks the raw configuration: user, target and ssh_key
// must be set, the literal fields (timeout, output mode, result,
// delimiters, exit codes, hops count, insecure_ignore_host_key) must be
// valid, and the step must have a way to verify the host key.
func (a *sshAction) ValidateConfig(base, cfg json.RawMessage) error {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return err //nolint:wrapcheck // Overlay names the operation
	}
	return c.validate(a.knownHosts != "")
}

// Run connects to the first host, runs the script and returns when the
// command has ended, its timeout has expired or ctx is done.
func (a *sshAction) Run(ctx context.Context, req action.Request) action.Result {
	var c config
	if err := action.Overlay(req.BaseConfig, req.Config, &c); err != nil {
		return action.Result{Err: err}
	}
	p, err := c.compile()
	if err != nil {
		return action.Result{Err: err}
	}
	logger := req.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	addr, err := c.firstAddress()
	if err != nil {
		return action.Result{Err: action.ClientError(err)}
	}
	clientCfg, err := a.clientConfig(ctx, logger, &c, p, addr)
	if err != nil {
		return action.Result{Err: err}
	}
	client, err := a.dial(ctx, addr, clientCfg)
	if err != nil {
		return action.Result{Err: err}
	}
	defer func() { _ = client.Close() }()

	cmd, stdin := c.command(p.mode)
	o, err := execute(ctx, client, cmd, stdin, p.timeout)
	if err != nil {
		return action.Result{Err: err}
	}
	logger.DebugContext(ctx, "ssh: command ended",
		slog.String("address", addr), slog.Int("hops", len(c.Hops)),
		slog.Int("exit_code", o.code), slog.String("exit_signal", o.signal),
		slog.Int("output_bytes", len(o.output)))
	return result(p, o)
}

// Resources returns "socket", "url:<target>" and "url:<hop>" for each hop,
// or nothing when the configuration does not decode.
func (a *sshAction) Resources(base, cfg json.RawMessage) []string {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return nil
	}
	labels := []string{"socket", "url:" + c.Target}
	for _, hop := range c.Hops {
		labels = append(labels, "url:"+hop)
	}
	return labels
}

// result turns the end of a command into the step result.
func result(p *plan, o *outcome) action.Result {
	metadata := map[string]any{
		MetadataOutput:     o.output,
		MetadataExitCode:   fmt.Sprint(o.code),
		MetadataExitSignal: o.signal,
		MetadataExitMsg:    o.msg,
	}
	output, parseErr := procout.ParseObject(p.candidate(o.output))
	if o.code == 0 {
		if parseErr != nil {
			return action.Result{Metadata: metadata, Err: fmt.Errorf("decode output as a JSON object: %w", parseErr)}
		}
		return action.Result{Output: output, Metadata: metadata}
	}
	if parseErr != nil {
		output = map[string]any{} // the exit code says more than the text
	}
	res := action.Result{Output: output, Metadata: metadata}
	if p.unrecoverable(o.code) {
		// The capitalised prefix is part of the step error text users match.
		res.Err = action.ClientError(fmt.Errorf("Client error: exit code: %d", o.code)) //nolint:staticcheck,revive // see above
	} else {
		res.Err = fmt.Errorf("exit code: %d", o.code)
	}
	return res
}
