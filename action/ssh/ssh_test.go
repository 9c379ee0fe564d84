package ssh_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/ssh"
)

func TestName(t *testing.T) {
	t.Parallel()

	registry := action.NewRegistry()
	require.NoError(t, registry.Register(ssh.Name, ssh.New(ssh.Options{})))
	_, ok := registry.Lookup("ssh")
	require.True(t, ok)
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()

	key := newClientKey(t, "")
	pinned := authorizedLine(key.public)
	ok := obj{"user": "u", "target": "t", "ssh_key": "{{ .config.key }}", "host_key": pinned}
	with := func(extra obj) obj {
		cfg := obj{}
		for k, v := range ok {
			cfg[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(cfg, k)
				continue
			}
			cfg[k] = v
		}
		return cfg
	}
	tests := []struct {
		name       string
		knownHosts bool
		base       any
		config     any
		wantErr    string
	}{
		{name: "Minimal", config: ok},
		{
			name: "EveryField", config: with(obj{
				"hops": []string{"b1", "b2"}, "script": "echo hi", "ssh_key_passphrase": "{{ .config.pass }}",
				"output_mode": "auto-result", "result": obj{"pid": "$PID"}, "exit_codes_unrecoverable": []string{"3", "10-19"},
				"timeout": "1m",
			}),
		},
		{name: "TemplatedHostKey", config: with(obj{"host_key": "{{ .config.hostkey }}"})},
		{name: "KnownHostsFile", knownHosts: true, config: with(obj{"host_key": nil})},
		{name: "InsecureOptIn", config: with(obj{"host_key": nil, "insecure_ignore_host_key": "true"})},
		{name: "FromBase", base: obj{"user": "u", "ssh_key": "k", "host_key": pinned}, config: obj{"target": "t"}},
		{name: "ZeroTimeout", config: with(obj{"timeout": "0s"})},
		{name: "Delimiters", config: with(obj{"output_mode": "manual-delimiters", "output_manual_delimiters": []string{"^B$", "^E$"}})},
		{name: "TenHops", config: with(obj{"hops": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}})},

		{name: "MissingConfiguration", wantErr: "unmarshal configuration: EOF"},
		{name: "MissingUser", config: with(obj{"user": nil}), wantErr: "missing user"},
		{name: "MissingTarget", config: with(obj{"target": ""}), wantErr: "missing target"},
		{name: "MissingKey", config: with(obj{"ssh_key": nil}), wantErr: "missing ssh_key"},
		{name: "NoHostKeyCheck", config: with(obj{"host_key": nil}), wantErr: ssh.ErrNoHostKeyCheck.Error()},
		{name: "InsecureFalse", config: with(obj{"host_key": nil, "insecure_ignore_host_key": "false"}), wantErr: ssh.ErrNoHostKeyCheck.Error()},
		{
			name: "InsecureNotBoolean", config: with(obj{"insecure_ignore_host_key": "yes"}),
			wantErr: `parse insecure_ignore_host_key: strconv.ParseBool: parsing "yes": invalid syntax`,
		},
		{name: "BadHostKey", config: with(obj{"host_key": "ssh-ed25519 notbase64"}), wantErr: "parse host_key: ssh: no key found; last parsing error for ignored line: illegal base64 data at input byte 8"},
		{name: "NegativeTimeout", config: with(obj{"timeout": "-1s"}), wantErr: `timeout "-1s": must not be negative`},
		{name: "TemplatedTimeout", config: with(obj{"timeout": "{{ .input.t }}"}), wantErr: `parse timeout: time: invalid duration "{{ .input.t }}"`},
		{name: "ElevenHops", config: with(obj{"hops": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}), wantErr: "hops: at most 10 allowed, got 11"},
		{name: "UnknownMode", config: with(obj{"output_mode": "auto"}), wantErr: `unknown output_mode "auto": expecting auto-result, manual-lastline, manual-delimiters or disabled`},
		{name: "ResultWithOtherMode", config: with(obj{"output_mode": "disabled", "result": obj{"a": "$A"}}), wantErr: "result requires output_mode auto-result"},
		{name: "DelimitersWithOtherMode", config: with(obj{"output_manual_delimiters": []string{"a", "b"}}), wantErr: "output_manual_delimiters requires output_mode manual-delimiters"},
		{name: "OneDelimiter", config: with(obj{"output_mode": "manual-delimiters", "output_manual_delimiters": []string{"a"}}), wantErr: "output_manual_delimiters: expecting 2 regular expressions, got 1"},
		{name: "BadDelimiter", config: with(obj{"output_mode": "manual-delimiters", "output_manual_delimiters": []string{"(", "b"}}), wantErr: "compile start delimiter: error parsing regexp: missing closing ): `(`"},
		{name: "RangeFromZero", config: with(obj{"exit_codes_unrecoverable": []string{"0-3"}}), wantErr: `exit_codes_unrecoverable entry "0-3": a range cannot start at 0`},
		{name: "ReversedRange", config: with(obj{"exit_codes_unrecoverable": []string{"5-5"}}), wantErr: `exit_codes_unrecoverable entry "5-5": the end of a range must be greater than its start`},
		{name: "CodeNotDigits", config: with(obj{"exit_codes_unrecoverable": []string{"+3"}}), wantErr: `exit_codes_unrecoverable entry "+3": expecting <code> or <low>-<high> with digits only`},
		{name: "CodeAsNumber", config: with(obj{"exit_codes_unrecoverable": []int{3}}), wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.exit_codes_unrecoverable of type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			opts := ssh.Options{}
			if tt.knownHosts {
				opts.KnownHostsPath = knownHosts(t, nil)
			}
			err := ssh.New(opts).ValidateConfig(marshal(t, tt.base), marshal(t, tt.config))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestResources(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		config any
		want   []string
	}{
		{name: "Target", config: obj{"target": "web-01:2222"}, want: []string{"socket", "url:web-01:2222"}},
		{name: "Hops", config: obj{"target": "web", "hops": []string{"b1", "b2:22"}}, want: []string{"socket", "url:web", "url:b1", "url:b2:22"}},
		{name: "DecodingError", config: obj{"hops": "b1"}, want: nil},
		{name: "MissingConfiguration", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, ssh.New(ssh.Options{}).Resources(nil, marshal(t, tt.config)))
		})
	}
}

func TestRunHostKey(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	other := newSigner(t).PublicKey()
	script := `echo '{"ran":true}'`

	tests := []struct {
		name       string
		knownHosts map[string]gossh.PublicKey
		extra      obj
		wantErr    string // a regular expression; empty for success
		wantKind   action.Kind
		wantLog    string
	}{
		{name: "PinnedAccepted"},
		{name: "PinnedAmongOthers", extra: obj{"host_key": authorizedLine(other) + authorizedLine(b.server.hostKey.PublicKey())}},
		{name: "PinnedWrongRefused", extra: obj{"host_key": authorizedLine(other)}, wantErr: `^ssh handshake with .*: host key mismatch$`},
		{name: "KnownHostsAccepted", knownHosts: map[string]gossh.PublicKey{b.server.addr: b.server.hostKey.PublicKey()}, extra: obj{"host_key": nil}},
		{name: "KnownHostsUnknownRefused", knownHosts: map[string]gossh.PublicKey{"127.0.0.2:22": b.server.hostKey.PublicKey()}, extra: obj{"host_key": nil}, wantErr: `^ssh handshake with .*: knownhosts: key is unknown$`},
		{name: "KnownHostsWrongKeyRefused", knownHosts: map[string]gossh.PublicKey{b.server.addr: other}, extra: obj{"host_key": nil}, wantErr: `^ssh handshake with .*: knownhosts: key mismatch$`},
		{name: "PinnedWinsOverKnownHosts", knownHosts: map[string]gossh.PublicKey{b.server.addr: b.server.hostKey.PublicKey()}, extra: obj{"host_key": authorizedLine(other)}, wantErr: `host key mismatch$`},
		{name: "NoCheckRefused", extra: obj{"host_key": nil}, wantErr: "^" + ssh.ErrNoHostKeyCheck.Error() + "$", wantKind: action.KindClient},
		{name: "InsecureOptIn", extra: obj{"host_key": nil, "insecure_ignore_host_key": "true"}, wantLog: "level=WARN msg=\"ssh: HOST KEY VERIFICATION DISABLED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			opts := ssh.Options{}
			if tt.knownHosts != nil {
				opts.KnownHostsPath = knownHosts(t, tt.knownHosts)
			}
			extra := obj{"script": script, "output_mode": "manual-lastline", "user": tt.name}
			for k, v := range tt.extra {
				extra[k] = v
			}
			res, logs := run(context.Background(), t, ssh.New(opts), b.config(extra))
			ran := false
			for _, r := range b.server.recorded() {
				ran = ran || r.user == tt.name
			}
			if tt.wantErr != "" {
				require.Error(t, res.Err)
				require.Regexp(t, tt.wantErr, res.Err.Error())
				require.Equal(t, tt.wantKind, action.KindOf(res.Err))
				require.Nil(t, res.Output)
				require.Nil(t, res.Metadata)
				require.False(t, ran, "the command reached the server")
				return
			}
			require.NoError(t, res.Err)
			require.Equal(t, obj{"ran": true}, res.Output)
			require.True(t, ran)
			if tt.wantLog != "" {
				require.Contains(t, logs, tt.wantLog)
			} else {
				require.NotContains(t, logs, "WARN")
			}
		})
	}
}

func TestRunAutoResult(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	script := "PID=4242\nAGE=\"17 s\"\necho starting\n"
	res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(obj{
		"script": script,
		"result": obj{"pid": "$PID", "age_seconds": "$AGE", `"quoted"`: `"$PID"`},
	}))
	require.NoError(t, res.Err)
	require.Equal(t, obj{"pid": "4242", "age_seconds": "17 s", "quoted": "4242"}, res.Output)
	meta := metadata(t, res)
	require.Equal(t, "0", meta[ssh.MetadataExitCode])
	require.Empty(t, meta[ssh.MetadataExitSignal])
	require.Empty(t, meta[ssh.MetadataExitMsg])
	require.Contains(t, meta[ssh.MetadataOutput], "starting\n")
	require.False(t, strings.HasSuffix(meta[ssh.MetadataOutput], "\n"), "the result is printed last, without newline")

	runs := b.server.recorded()
	require.Len(t, runs, 1)
	require.Equal(t, "deploy", runs[0].user)
	require.Equal(t, runs[0].command, runs[0].stdin, "without hops the script is both the command and stdin")
	require.True(t, strings.HasSuffix(runs[0].command, script))

	t.Run("StderrCaptured", func(t *testing.T) {
		t.Parallel()

		res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(obj{
			"script": "echo to stderr >&2", "output_mode": "disabled",
		}))
		require.NoError(t, res.Err)
		require.Equal(t, "to stderr\n", metadata(t, res)[ssh.MetadataOutput])
	})

	t.Run("EmptyResult", func(t *testing.T) {
		t.Parallel()

		res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(obj{"script": "echo '{\"not\":\"read\"}'"}))
		require.NoError(t, res.Err)
		require.Equal(t, obj{}, res.Output)
	})
}

func TestRunOutputModes(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	tests := []struct {
		name       string
		extra      obj
		wantOutput any
		wantErr    string
	}{
		{name: "LastLine", extra: obj{"output_mode": "manual-lastline", "script": "echo first\necho '{\"a\": 1, \"b\": [true]}'"}, wantOutput: obj{"a": 1.0, "b": []any{true}}},
		{name: "LastLineWithoutNewline", extra: obj{"output_mode": "manual-lastline", "script": "echo x\nprintf '%s' \"{\\\"k\\\":\\\"v\\\"}\""}, wantOutput: obj{"k": "v"}},
		{name: "LastLineEmpty", extra: obj{"output_mode": "manual-lastline", "script": ""}, wantOutput: obj{}},
		{name: "LastLineNotJSON", extra: obj{"output_mode": "manual-lastline", "script": "echo done"}, wantErr: "decode output as a JSON object: invalid character 'd' looking for beginning of value"},
		{name: "LastLineNull", extra: obj{"output_mode": "manual-lastline", "script": "echo null"}, wantErr: "decode output as a JSON object: got null"},
		{
			name:       "Delimiters",
			extra:      obj{"output_mode": "manual-delimiters", "output_manual_delimiters": []string{"BEGIN\n", "\nEND"}, "script": "echo BEGIN\necho '{\"d\":\"x\"}'\necho END\necho trailing"},
			wantOutput: obj{"d": "x"},
		},
		{name: "DelimitersMissing", extra: obj{"output_mode": "manual-delimiters", "output_manual_delimiters": []string{"BEGIN", "END"}, "script": "echo nothing"}, wantOutput: obj{}},
		{name: "Disabled", extra: obj{"output_mode": "disabled", "script": "echo not json"}, wantOutput: obj{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(tt.extra))
			requireErr(t, res, tt.wantErr, action.KindServer)
			require.Equal(t, tt.wantOutput, res.Output)
			require.Equal(t, "0", metadata(t, res)[ssh.MetadataExitCode])
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	tests := []struct {
		name        string
		script      string
		unrecovered []string
		wantOutput  any
		wantErr     string
		wantKind    action.Kind
		wantCode    string
		wantSignal  string
		wantMsg     string
	}{
		{name: "Zero", script: "exit 0", unrecovered: []string{"0"}, wantOutput: obj{}, wantCode: "0"},
		{name: "NonZero", script: "exit 3", wantOutput: obj{}, wantErr: "exit code: 3", wantKind: action.KindServer, wantCode: "3"},
		{name: "OutputKept", script: "echo '{\"partial\":\"yes\"}'\nexit 4", wantOutput: obj{"partial": "yes"}, wantErr: "exit code: 4", wantKind: action.KindServer, wantCode: "4"},
		{name: "BadJSONIgnored", script: "echo oops\nexit 5", wantOutput: obj{}, wantErr: "exit code: 5", wantKind: action.KindServer, wantCode: "5"},
		{name: "Unrecoverable", script: "exit 12", unrecovered: []string{"2", "10-19"}, wantOutput: obj{}, wantErr: "Client error: exit code: 12", wantKind: action.KindClient, wantCode: "12"},
		{name: "OutsideRange", script: "exit 20", unrecovered: []string{"2", "10-19"}, wantOutput: obj{}, wantErr: "exit code: 20", wantKind: action.KindServer, wantCode: "20"},
		{
			name: "Signal", script: "echo '{\"before\":\"kill\"}'\nkill TERM", wantOutput: obj{"before": "kill"},
			wantErr: "exit code: 143", wantKind: action.KindServer, wantCode: "143", wantSignal: "TERM", wantMsg: "killed by the script",
		},
		{
			name: "UnrecoverableSignal", script: "kill KILL", unrecovered: []string{"137"}, wantOutput: obj{},
			wantErr: "Client error: exit code: 137", wantKind: action.KindClient, wantCode: "137", wantSignal: "KILL", wantMsg: "killed by the script",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(obj{
				"script": tt.script, "output_mode": "manual-lastline", "exit_codes_unrecoverable": tt.unrecovered,
			}))
			requireErr(t, res, tt.wantErr, tt.wantKind)
			require.Equal(t, tt.wantOutput, res.Output)
			meta := metadata(t, res)
			require.Equal(t, tt.wantCode, meta[ssh.MetadataExitCode])
			require.Equal(t, tt.wantSignal, meta[ssh.MetadataExitSignal])
			require.Equal(t, tt.wantMsg, meta[ssh.MetadataExitMsg])
		})
	}

	t.Run("NoExitStatus", func(t *testing.T) {
		t.Parallel()

		res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(obj{"script": "echo bye\nhangup"}))
		require.Error(t, res.Err)
		var missing *gossh.ExitMissingError
		require.ErrorAs(t, res.Err, &missing)
		require.Equal(t, action.KindServer, action.KindOf(res.Err))
		require.Nil(t, res.Output)
		require.Nil(t, res.Metadata)
	})
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	for _, timeout := range []string{"50ms", "0s"} {
		t.Run("Timeout"+timeout, func(t *testing.T) {
			t.Parallel()

			res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(obj{"script": "echo started\nsleep", "timeout": timeout}))
			requireErr(t, res, "ssh session has not terminated before timeout", action.KindServer)
			require.ErrorIs(t, res.Err, ssh.ErrTimeout)
			require.Nil(t, res.Output)
			require.Nil(t, res.Metadata)
		})
	}
}

func TestRunCancel(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(50*time.Millisecond, cancel)
	defer stop.Stop()

	res, _ := run(ctx, t, ssh.New(ssh.Options{}), b.config(obj{"script": "sleep"}))
	require.ErrorIs(t, res.Err, context.Canceled)
	require.Nil(t, res.Output)
	require.Nil(t, res.Metadata)
}

func TestRunDialTimeout(t *testing.T) {
	t.Parallel()

	// A listener that accepts connections and never speaks.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })

	b := setup(t, false)
	cfg := b.config(obj{"target": l.Addr().String(), "script": "exit 0"})
	res, _ := run(context.Background(), t, ssh.New(ssh.Options{DialTimeout: 50 * time.Millisecond}), cfg)
	require.Error(t, res.Err)
	require.Regexp(t, `^ssh handshake with 127\.0\.0\.1:\d+: (.*i/o timeout|context deadline exceeded)$`, res.Err.Error())
	require.Equal(t, action.KindServer, action.KindOf(res.Err))
}

// recordingDialer refuses every connection, recording its address.
type recordingDialer struct{ addrs chan string }

var errRefused = errors.New("refused by the test dialer") //nolint:gochecknoglobals // immutable sentinel

func (d recordingDialer) DialContext(_ context.Context, _, addr string) (net.Conn, error) {
	d.addrs <- addr
	return nil, errRefused
}

func TestRunAddress(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	tests := []struct {
		name     string
		extra    obj
		wantAddr string
	}{
		{name: "DefaultPort", extra: obj{"target": "web-01.example.org"}, wantAddr: "web-01.example.org:22"},
		{name: "ExplicitPort", extra: obj{"target": "web-01.example.org:2222"}, wantAddr: "web-01.example.org:2222"},
		{name: "IPv6", extra: obj{"target": "[2001:db8::1]"}, wantAddr: "[2001:db8::1]:22"},
		{name: "FirstHop", extra: obj{"target": "final", "hops": []string{"bastion", "b2"}}, wantAddr: "bastion:22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			d := recordingDialer{addrs: make(chan string, 1)}
			res, _ := run(context.Background(), t, ssh.New(ssh.Options{Dialer: d}), b.config(tt.extra))
			require.ErrorIs(t, res.Err, errRefused)
			require.Equal(t, tt.wantAddr, <-d.addrs)
		})
	}
	t.Run("Unusable", func(t *testing.T) {
		t.Parallel()

		d := recordingDialer{addrs: make(chan string, 1)}
		res, _ := run(context.Background(), t, ssh.New(ssh.Options{Dialer: d}), b.config(obj{"target": "a:b:c"}))
		require.Error(t, res.Err)
		require.Regexp(t, `^ssh plugin: host port: `, res.Err.Error())
		require.Equal(t, action.KindClient, action.KindOf(res.Err))
		require.Empty(t, d.addrs)
	})
}

func TestRunKey(t *testing.T) {
	t.Parallel()

	b := setup(t, false)
	encrypted := newClientKey(t, "s3cret")
	encServer := newServer(t, encrypted.public, false)
	encCfg := func(extra obj) obj {
		cfg := obj{
			"user": "deploy", "target": encServer.addr, "ssh_key": encrypted.pem, "script": "exit 0",
			"host_key": authorizedLine(encServer.hostKey.PublicKey()),
		}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}
	tests := []struct {
		name     string
		cfg      obj
		wantErr  string
		wantKind action.Kind
	}{
		{name: "NotAKey", cfg: b.config(obj{"ssh_key": "not a key"}), wantErr: "^parse ssh_key: ssh: no key found$", wantKind: action.KindClient},
		{name: "EncryptedWithoutPassphrase", cfg: encCfg(nil), wantErr: "^parse ssh_key: ssh: this private key is passphrase protected$", wantKind: action.KindClient},
		{name: "WrongPassphrase", cfg: encCfg(obj{"ssh_key_passphrase": "nope"}), wantErr: "^parse ssh_key: ", wantKind: action.KindClient},
		{name: "RightPassphrase", cfg: encCfg(obj{"ssh_key_passphrase": "s3cret"})},
		{name: "KeyNotAuthorized", cfg: b.config(obj{"ssh_key": encrypted.pem, "ssh_key_passphrase": "s3cret"}), wantErr: "^ssh handshake with .*unable to authenticate", wantKind: action.KindServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), tt.cfg)
			if tt.wantErr == "" {
				require.NoError(t, res.Err)
				return
			}
			require.Error(t, res.Err)
			require.Regexp(t, tt.wantErr, res.Err.Error())
			require.Equal(t, tt.wantKind, action.KindOf(res.Err))
			require.Nil(t, res.Metadata)
		})
	}
}

func TestRunHops(t *testing.T) {
	t.Parallel()

	b := setup(t, true)
	tests := []struct {
		name        string
		hops        []string
		wantCommand string
	}{
		{name: "OneHop", hops: []string{b.server.addr}, wantCommand: "web-01"},
		{name: "ThreeHops", hops: []string{b.server.addr, "b2", "b3:2222"}, wantCommand: "b2 -- b3:2222 -- web-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			script := "echo '{\"via\":\"" + tt.name + "\"}'"
			res, _ := run(context.Background(), t, ssh.New(ssh.Options{}), b.config(obj{
				"target": "web-01", "hops": tt.hops, "script": script, "output_mode": "manual-lastline",
			}))
			require.NoError(t, res.Err)
			require.Equal(t, obj{"via": tt.name}, res.Output)
			found := false
			for _, r := range b.server.recorded() {
				if r.command == tt.wantCommand {
					found = true
					require.Equal(t, script, r.stdin)
				}
			}
			require.True(t, found, "route %q not received", tt.wantCommand)
		})
	}
}
