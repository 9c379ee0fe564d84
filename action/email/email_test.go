package email_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/email"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// obj is a JSON object literal.
type obj = map[string]any

func marshal(t *testing.T, v any) json.RawMessage {
	t.Helper()

	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

// redirectDialer connects every address to one test server and records
// the addresses asked for.
type redirectDialer struct {
	to    string
	mu    sync.Mutex
	asked []string
}

func (d *redirectDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.to) //nolint:wrapcheck // test helper
}

// roots returns a TLS configuration trusting the server's certificate.
func roots(s *smtpServer) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// baseConfig reaches s directly with a complete message.
func baseConfig(s *smtpServer, extra obj) obj {
	host, port, _ := net.SplitHostPort(s.addr)
	cfg := obj{
		"smtp_hostname": host,
		"smtp_port":     port,
		"from_address":  "robot@example.org",
		"from_name":     "Automation",
		"to":            []string{"alice@example.org", "bob@example.org"},
		"subject":       "Report for web-01",
		"body":          "All checks passed.\nSee you.",
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

func run(ctx context.Context, t *testing.T, a action.Action, cfg obj) action.Result {
	t.Helper()
	return a.Run(ctx, action.Request{StepName: "mail", Config: marshal(t, cfg)})
}

// received is a message as the server got it, decoded.
type received struct {
	header      netmail.Header
	contentType string
	params      map[string]string
	body        string
}

func parseMessage(t *testing.T, data string) received {
	t.Helper()

	msg, err := netmail.ReadMessage(strings.NewReader(data))
	require.NoError(t, err)
	ct, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	require.NoError(t, err)
	return received{header: msg.Header, contentType: ct, params: params, body: strings.ReplaceAll(string(text), "\r\n", "\n")}
}

// onlySession returns the single session of s.
func onlySession(t *testing.T, s *smtpServer) smtpSession {
	t.Helper()

	sessions := s.recorded()
	require.Len(t, sessions, 1)
	return sessions[0]
}

func hasCommand(sess smtpSession, verb string) bool {
	for _, c := range sess.commands {
		if strings.HasPrefix(strings.ToUpper(c), verb) {
			return true
		}
	}
	return false
}

func TestName(t *testing.T) {
	t.Parallel()

	registry := action.NewRegistry()
	require.NoError(t, registry.Register(email.Name, email.New(email.Options{})))
	_, ok := registry.Lookup("email")
	require.True(t, ok)
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()

	ok := obj{
		"smtp_hostname": "{{ .config.smtp.host }}", "smtp_port": "587", "from_address": "a@example.org",
		"to": []string{"{{ .input.mail }}"}, "subject": "s", "body": "b",
	}
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
		name    string
		base    any
		config  any
		wantErr string
	}{
		{name: "Minimal", config: ok},
		{name: "EveryField", config: with(obj{"smtp_username": "u", "smtp_password": "p", "smtp_skip_tls_verify": "true", "from_name": "n"})},
		{name: "FromBase", base: with(obj{"subject": nil}), config: obj{"subject": "s"}},
		{name: "PortZero", config: with(obj{"smtp_port": "0"})},
		{name: "PortHighest", config: with(obj{"smtp_port": "65535"})},
		{name: "SkipVerifyFalse", config: with(obj{"smtp_skip_tls_verify": "F"})},

		{name: "MissingConfiguration", wantErr: "unmarshal configuration: EOF"},
		{name: "MissingHostname", config: with(obj{"smtp_hostname": nil}), wantErr: "missing smtp_hostname"},
		{name: "MissingPort", config: with(obj{"smtp_port": nil}), wantErr: "missing smtp_port"},
		{name: "MissingFrom", config: with(obj{"from_address": ""}), wantErr: "missing from_address"},
		{name: "MissingSubject", config: with(obj{"subject": nil}), wantErr: "missing subject"},
		{name: "MissingBody", config: with(obj{"body": nil}), wantErr: "missing body"},
		{name: "NoRecipient", config: with(obj{"to": []string{}}), wantErr: "missing to: at least one recipient needed"},
		{name: "TemplatedPort", config: with(obj{"smtp_port": "{{ .config.port }}"}), wantErr: `parse smtp_port: strconv.Atoi: parsing "{{ .config.port }}": invalid syntax`},
		{name: "PortTooHigh", config: with(obj{"smtp_port": "65536"}), wantErr: `parse smtp_port "65536": out of range 0-65535`},
		{name: "NegativePort", config: with(obj{"smtp_port": "-1"}), wantErr: `parse smtp_port "-1": out of range 0-65535`},
		{name: "PortAsNumber", config: with(obj{"smtp_port": 587}), wantErr: "unmarshal configuration: json: cannot unmarshal number into Go struct field config.smtp_port of type string"},
		{name: "SkipVerifyNotBoolean", config: with(obj{"smtp_skip_tls_verify": "yes"}), wantErr: `parse smtp_skip_tls_verify: strconv.ParseBool: parsing "yes": invalid syntax`},
		{name: "MisspelledSkipVerifyIgnored", config: with(obj{"smtp_skip_tls_verif": "yes"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := email.New(email.Options{}).ValidateConfig(marshal(t, tt.base), marshal(t, tt.config))
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

	a := email.New(email.Options{})
	require.Equal(t, []string{"socket", "url:smtp.example.org"}, a.Resources(nil, marshal(t, obj{"smtp_hostname": "smtp.example.org"})))
	require.Equal(t, []string{"socket", "url:base.example.org"}, a.Resources(marshal(t, obj{"smtp_hostname": "base.example.org"}), marshal(t, obj{})))
	require.Nil(t, a.Resources(nil, marshal(t, obj{"to": "x"})))
	require.Nil(t, a.Resources(nil, nil))
}

func TestRunPlain(t *testing.T) {
	t.Parallel()

	s := newSMTPServer(t, serverOptions{})
	res := run(context.Background(), t, email.New(email.Options{}), baseConfig(s, obj{"smtp_password": "secret"}))
	require.NoError(t, res.Err)
	require.Equal(t, obj{
		"from_address": "robot@example.org",
		"from_name":    "Automation",
		"to":           []string{"alice@example.org", "bob@example.org"},
		"subject":      "Report for web-01",
		"body":         "All checks passed.\nSee you.",
	}, res.Output)
	require.Nil(t, res.Metadata)

	sess := onlySession(t, s)
	require.False(t, sess.tls)
	require.False(t, hasCommand(sess, "AUTH"), "no user name, no authentication")
	require.True(t, strings.HasPrefix(sess.from, "FROM:<robot@example.org>"), sess.from)
	require.Len(t, sess.rcpts, 2)
	require.True(t, strings.HasPrefix(sess.rcpts[0], "TO:<alice@example.org>"), sess.rcpts[0])
	require.True(t, strings.HasPrefix(sess.rcpts[1], "TO:<bob@example.org>"), sess.rcpts[1])

	msg := parseMessage(t, sess.data)
	from, err := msg.header.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, []*netmail.Address{{Name: "Automation", Address: "robot@example.org"}}, from)
	to, err := msg.header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, []*netmail.Address{{Address: "alice@example.org"}, {Address: "bob@example.org"}}, to)
	require.Equal(t, "Report for web-01", msg.header.Get("Subject"))
	require.Equal(t, "text/plain", msg.contentType)
	require.True(t, strings.EqualFold(msg.params["charset"], "utf-8"), msg.params)
	require.Equal(t, "All checks passed.\nSee you.", strings.TrimRight(msg.body, "\n"))
	_, err = msg.header.Date()
	require.NoError(t, err)
	require.NotEmpty(t, msg.header.Get("Message-Id"))
}

func TestRunBodyType(t *testing.T) {
	t.Parallel()

	s := newSMTPServer(t, serverOptions{})
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "HTML", body: "<html><body><p>Done: <b>3</b> hosts</p></body></html>", want: "text/html"},
		{name: "Text", body: "Résumé: 3 hosts ✓", want: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := run(context.Background(), t, email.New(email.Options{}), baseConfig(s, obj{"body": tt.body, "subject": tt.name}))
			require.NoError(t, res.Err)
			for _, sess := range s.recorded() {
				msg := parseMessage(t, sess.data)
				if msg.header.Get("Subject") != tt.name {
					continue
				}
				require.Equal(t, tt.want, msg.contentType)
				require.Equal(t, tt.body, strings.TrimRight(msg.body, "\n"))
				return
			}
			require.Fail(t, "message not received")
		})
	}
}

func TestRunStartTLS(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		extra    obj
		trust    bool
		wantErr  string // a regular expression; empty for success
		wantMail bool
	}{
		{name: "SkipVerify", extra: obj{"smtp_skip_tls_verify": "true"}, wantMail: true},
		{name: "Trusted", trust: true, wantMail: true},
		{name: "UntrustedRefused", wantErr: `^can't send email: start tls: tls: failed to verify certificate: x509: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newSMTPServer(t, serverOptions{startTLS: true})
			opts := email.Options{}
			if tt.trust {
				opts.TLSConfig = roots(s)
			}
			res := run(context.Background(), t, email.New(opts), baseConfig(s, tt.extra))
			sess := onlySession(t, s)
			if tt.wantErr != "" {
				require.Error(t, res.Err)
				require.Regexp(t, tt.wantErr, res.Err.Error())
				require.Equal(t, action.KindServer, action.KindOf(res.Err))
				require.Nil(t, res.Output)
				require.False(t, hasCommand(sess, "MAIL"))
				return
			}
			require.NoError(t, res.Err)
			require.True(t, sess.tls)
			require.True(t, hasCommand(sess, "STARTTLS"))
			require.NotEmpty(t, sess.data)
		})
	}
}

func TestRunImplicitTLS(t *testing.T) {
	t.Parallel()

	s := newSMTPServer(t, serverOptions{implicitTLS: true, startTLS: true, auth: []string{"PLAIN"}})
	d := &redirectDialer{to: s.addr}
	res := run(context.Background(), t, email.New(email.Options{Dialer: d, TLSConfig: roots(s)}), baseConfig(s, obj{
		"smtp_hostname": "mail.example.test", "smtp_port": "465", "smtp_username": testUser, "smtp_password": testPassword,
	}))
	require.NoError(t, res.Err)
	require.Equal(t, []string{"mail.example.test:465"}, d.asked)
	sess := onlySession(t, s)
	require.True(t, sess.tls)
	require.False(t, hasCommand(sess, "STARTTLS"))
	require.Equal(t, "PLAIN", sess.authMech, "PLAIN is allowed over TLS to a remote host")
	require.NotEmpty(t, sess.data)
}

func TestRunAuth(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		offered  []string
		host     string // dialled through the redirecting dialer when set
		startTLS bool
		extra    obj
		wantMech string
		wantErr  string // a regular expression; empty for success
	}{
		{name: "CRAMMD5First", offered: []string{"PLAIN", "LOGIN", "CRAM-MD5"}, wantMech: "CRAM-MD5"},
		{name: "PlainBeforeLogin", offered: []string{"LOGIN", "PLAIN"}, wantMech: "PLAIN"},
		{name: "LoginWithoutPlain", offered: []string{"LOGIN"}, wantMech: "LOGIN"},
		{name: "PlainOnly", offered: []string{"PLAIN"}, wantMech: "PLAIN"},
		{name: "LoginToRemoteHost", offered: []string{"LOGIN"}, host: "mail.example.test", wantMech: "LOGIN"},
		{name: "PlainToRemoteHostOverTLS", offered: []string{"PLAIN"}, host: "mail.example.test", startTLS: true, wantMech: "PLAIN"},
		{name: "NoAuthOffered", wantMech: ""},
		{name: "NoUserName", offered: []string{"PLAIN"}, extra: obj{"smtp_username": nil}, wantMech: ""},
		{
			name: "PlainToRemoteHostRefused", offered: []string{"PLAIN"}, host: "mail.example.test",
			wantErr: `^can't send email: authenticate: .*unencrypted`,
		},
		{name: "WrongPassword", offered: []string{"PLAIN"}, extra: obj{"smtp_password": "nope"}, wantErr: `^can't send email: authenticate: 535 "authentication failed"$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newSMTPServer(t, serverOptions{auth: tt.offered, startTLS: tt.startTLS})
			opts := email.Options{TLSConfig: roots(s)}
			extra := obj{"smtp_username": testUser, "smtp_password": testPassword}
			if tt.host != "" {
				opts.Dialer = &redirectDialer{to: s.addr}
				extra["smtp_hostname"] = tt.host
			}
			for k, v := range tt.extra {
				extra[k] = v
			}
			res := run(context.Background(), t, email.New(opts), baseConfig(s, extra))
			sess := onlySession(t, s)
			if tt.wantErr != "" {
				require.Error(t, res.Err)
				require.Regexp(t, tt.wantErr, res.Err.Error())
				require.Equal(t, action.KindServer, action.KindOf(res.Err))
				require.False(t, hasCommand(sess, "MAIL"))
				return
			}
			require.NoError(t, res.Err)
			require.Equal(t, tt.wantMech, sess.authMech)
			require.Equal(t, tt.wantMech != "", hasCommand(sess, "AUTH"))
			require.NotContains(t, marshal(t, res.Output), testPassword)
			require.NotEmpty(t, sess.data)
		})
	}
}

func TestRunRejectedRecipient(t *testing.T) {
	t.Parallel()

	s := newSMTPServer(t, serverOptions{})
	res := run(context.Background(), t, email.New(email.Options{}), baseConfig(s, obj{"to": []string{"ok@example.org", "reject@example.org"}}))
	require.Error(t, res.Err)
	require.Regexp(t, `^can't send email: send RCPT TO <reject@example.org>: 550 "no such user"$`, res.Err.Error())
	require.Equal(t, action.KindServer, action.KindOf(res.Err))
	require.Nil(t, res.Output)
	require.Empty(t, onlySession(t, s).data)
}

func TestRunStalledServer(t *testing.T) {
	t.Parallel()

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()

		s := newSMTPServer(t, serverOptions{stall: true})
		res := run(context.Background(), t, email.New(email.Options{Timeout: 50 * time.Millisecond}), baseConfig(s, nil))
		require.Error(t, res.Err)
		require.Regexp(t, `^can't send email: greet server: .*i/o timeout$`, res.Err.Error())
	})
	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()

		s := newSMTPServer(t, serverOptions{stall: true})
		ctx, cancel := context.WithCancel(context.Background())
		stop := time.AfterFunc(50*time.Millisecond, cancel)
		defer stop.Stop()
		res := run(ctx, t, email.New(email.Options{}), baseConfig(s, nil))
		require.ErrorIs(t, res.Err, context.Canceled)
	})
}
