// Package email implements the builtin action "email": it sends one
// message through an SMTP server.
//
// Port 465 speaks TLS from the start; on other ports the connection is
// upgraded with STARTTLS when the server offers it and stays plain
// otherwise. With a user name the client authenticates, when the server
// offers AUTH, with CRAM-MD5, else LOGIN when PLAIN is not offered, else
// PLAIN, which is refused over a plain connection to a non-local host. Any
// failure is a server error (SERVER_ERROR).
package email

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/utask/utask/action"
)

// Name is the action type under which email is registered.
const Name = "email"

// DefaultTimeout bounds the connection and each network read or write when
// Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// implicitTLSPort is the port that speaks TLS from the first byte.
const implicitTLSPort = 465

// Dialer opens the TCP connection to the SMTP server; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configures the email action.
type Options struct {
	// Dialer opens TCP connections. Defaults to a *net.Dialer.
	Dialer Dialer
	// Timeout bounds the connection and each network read or write.
	// Defaults to DefaultTimeout.
	Timeout time.Duration
	// TLSConfig is the base TLS configuration (e.g. RootCAs), cloned for
	// each step, which sets ServerName and InsecureSkipVerify. Defaults to
	// one verifying against the system roots.
	TLSConfig *tls.Config
}

// config is the configuration of one email step.
type config struct {
	// SMTPHostname is the server host, also its TLS server name.
	SMTPHostname      string   `json:"smtp_hostname"`
	SMTPPort          string   `json:"smtp_port"`
	SMTPUsername      string   `json:"smtp_username"`
	SMTPPassword      string   `json:"smtp_password"`
	SMTPSkipTLSVerify string   `json:"smtp_skip_tls_verify"`
	FromAddress       string   `json:"from_address"`
	FromName          string   `json:"from_name"`
	To                []string `json:"to"`
	Subject           string   `json:"subject"`
	Body              string   `json:"body"`
}

// plan holds the literal fields of a configuration, parsed.
type plan struct {
	port       int
	skipVerify bool
}

// compile parses the literal fields.
func (c *config) compile() (plan, error) {
	var p plan
	port, err := strconv.Atoi(c.SMTPPort)
	if err != nil {
		return p, fmt.Errorf("parse smtp_port: %w", err)
	}
	if port < 0 || port > 65535 {
		return p, fmt.Errorf("parse smtp_port %q: out of range 0-65535", c.SMTPPort)
	}
	p.port = port
	if c.SMTPSkipTLSVerify != "" {
		if p.skipVerify, err = strconv.ParseBool(c.SMTPSkipTLSVerify); err != nil {
			return p, fmt.Errorf("parse smtp_skip_tls_verify: %w", err)
		}
	}
	return p, nil
}

// validate checks the required fields and the literal ones.
func (c *config) validate() error {
	for _, f := range []struct{ name, value string }{
		{"smtp_hostname", c.SMTPHostname}, {"smtp_port", c.SMTPPort},
		{"from_address", c.FromAddress}, {"subject", c.Subject}, {"body", c.Body},
	} {
		if f.value == "" {
			return fmt.Errorf("missing %s", f.name)
		}
	}
	if len(c.To) == 0 {
		return ErrNoRecipient
	}
	_, err := c.compile()
	return err
}

// ErrNoRecipient is returned when the to list is empty.
var ErrNoRecipient = errors.New("missing to: at least one recipient needed")

type emailAction struct {
	dialer  Dialer
	timeout time.Duration
	tls     *tls.Config
}

// New returns the email action.
func New(opts Options) action.Action {
	a := &emailAction{dialer: opts.Dialer, timeout: opts.Timeout, tls: opts.TLSConfig}
	if a.dialer == nil {
		a.dialer = &net.Dialer{}
	}
	if a.timeout <= 0 {
		a.timeout = DefaultTimeout
	}
	return a
}

// ValidateConfig checks the raw configuration: smtp_hostname, smtp_port,
// from_address, to, subject and body must be set, smtp_port must be a
// port number and smtp_skip_tls_verify a boolean when set.
func (a *emailAction) ValidateConfig(base, cfg json.RawMessage) error {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return err //nolint:wrapcheck // Overlay names the operation
	}
	return c.validate()
}

// Run sends the message and returns the sent fields as the output. It
// returns when the server has accepted the message, on the first failure,
// or when ctx is done.
func (a *emailAction) Run(ctx context.Context, req action.Request) action.Result {
	var c config
	if err := action.Overlay(req.BaseConfig, req.Config, &c); err != nil {
		return action.Result{Err: err}
	}
	if err := a.send(ctx, &c); err != nil {
		return action.Result{Err: fmt.Errorf("can't send email: %w", err)}
	}
	if req.Logger != nil {
		req.Logger.DebugContext(ctx, "email: message sent",
			slog.String("smtp_hostname", c.SMTPHostname), slog.Int("recipients", len(c.To)))
	}
	output := map[string]any{
		"from_address": c.FromAddress,
		"to":           c.To,
		"subject":      c.Subject,
		"body":         c.Body,
	}
	if c.FromName != "" {
		output["from_name"] = c.FromName
	}
	return action.Result{Output: output}
}

// Resources returns "socket" and "url:<smtp_hostname>", or nothing when
// the configuration does not decode.
func (a *emailAction) Resources(base, cfg json.RawMessage) []string {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return nil
	}
	return []string{"socket", "url:" + c.SMTPHostname}
}

// message builds the message of c.
func message(c *config) (*mail.Msg, error) {
	m := mail.NewMsg()
	var err error
	if c.FromName != "" {
		err = m.FromFormat(c.FromName, c.FromAddress)
	} else {
		err = m.From(c.FromAddress)
	}
	if err != nil {
		return nil, fmt.Errorf("set sender: %w", err)
	}
	if err := m.To(c.To...); err != nil {
		return nil, fmt.Errorf("set recipients: %w", err)
	}
	m.Subject(c.Subject)
	m.SetDate()
	m.SetMessageID()
	m.SetBodyString(mail.ContentType(sniff(c.Body)), c.Body)
	return m, nil
}

// sniff returns the media type of body, without parameters: the charset
// is the message's (UTF-8).
func sniff(body string) string {
	mediaType, _, err := mime.ParseMediaType(http.DetectContentType([]byte(body)))
	if err != nil {
		return string(mail.TypeTextPlain)
	}
	return mediaType
}

// send delivers the message of c.
func (a *emailAction) send(ctx context.Context, c *config) error {
	p, err := c.compile()
	if err != nil {
		return err
	}
	m, err := message(c)
	if err != nil {
		return err
	}
	tlsCfg := &tls.Config{ServerName: c.SMTPHostname, MinVersion: tls.VersionTLS12}
	if a.tls != nil {
		tlsCfg = a.tls.Clone()
		tlsCfg.ServerName = c.SMTPHostname
	}
	tlsCfg.InsecureSkipVerify = p.skipVerify //nolint:gosec // explicit per-step choice

	conn, err := a.connect(ctx, c.SMTPHostname, p.port, tlsCfg)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer func() { _ = conn.Close() }()

	err = a.converse(conn, c, m, tlsCfg, p.port == implicitTLSPort)
	if ctx.Err() != nil {
		return fmt.Errorf("send message: %w", ctx.Err())
	}
	return err
}

// connect opens the connection, in TLS for the implicit TLS port.
func (a *emailAction) connect(ctx context.Context, host string, port int, tlsCfg *tls.Config) (net.Conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()

	addr := net.JoinHostPort(host, strconv.Itoa(port))
	raw, err := a.dialer.DialContext(dialCtx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	conn := net.Conn(&idleConn{Conn: raw, timeout: a.timeout})
	if port == implicitTLSPort {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(dialCtx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	return conn, nil
}

// converse runs the SMTP conversation on conn.
func (a *emailAction) converse(conn net.Conn, c *config, m *mail.Msg, tlsCfg *tls.Config, implicitTLS bool) error {
	client, err := smtp.NewClient(conn, c.SMTPHostname)
	if err != nil {
		return fmt.Errorf("greet server: %w", err)
	}
	if !implicitTLS {
		if ok, _ := client.Extension("STARTTLS"); ok {
			if err := client.StartTLS(tlsCfg); err != nil {
				return fmt.Errorf("start tls: %w", err)
			}
		}
	}
	if c.SMTPUsername != "" {
		if ok, mechs := client.Extension("AUTH"); ok {
			if err := client.Auth(pickAuth(mechs, c)); err != nil {
				return fmt.Errorf("authenticate: %w", err)
			}
		}
	}
	// The envelope uses the addresses the message headers were built from,
	// already parsed, checked and in angle brackets.
	sender, err := m.GetSender(false)
	if err != nil {
		return fmt.Errorf("read sender: %w", err)
	}
	rcpts, err := m.GetRecipients()
	if err != nil {
		return fmt.Errorf("read recipients: %w", err)
	}
	if err := client.Mail(sender); err != nil {
		return fmt.Errorf("send MAIL FROM: %w", err)
	}
	for _, to := range rcpts {
		if err := client.Rcpt(to); err != nil {
			return fmt.Errorf("send RCPT TO %s: %w", to, err)
		}
	}
	w, err := client.Data()
	if err != nil {
		return fmt.Errorf("send DATA: %w", err)
	}
	if _, err := m.WriteTo(w); err != nil {
		_ = w.Close()
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end message: %w", err)
	}
	if err := client.Quit(); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}

// pickAuth chooses the mechanism among those the server advertises:
// CRAM-MD5, else LOGIN when PLAIN is not offered, else PLAIN.
func pickAuth(advertised string, c *config) smtp.Auth {
	mechs := strings.Fields(strings.ToUpper(advertised))
	switch {
	case slices.Contains(mechs, "CRAM-MD5"):
		return smtp.CRAMMD5Auth(c.SMTPUsername, c.SMTPPassword)
	case slices.Contains(mechs, "LOGIN") && !slices.Contains(mechs, "PLAIN"):
		// TODO: LOGIN is allowed over a plain connection to any host, as
		// the reference does, which sends the password readable on the
		// wire; refusing it like PLAIN would change which servers work.
		return smtp.LoginAuth(c.SMTPUsername, c.SMTPPassword, c.SMTPHostname, true)
	default:
		return smtp.PlainAuth("", c.SMTPUsername, c.SMTPPassword, c.SMTPHostname, false)
	}
}

// idleConn extends the connection deadline before each read and write, so
// that every network operation is bounded by timeout.
type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	_ = c.SetDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b) //nolint:wrapcheck // a transparent wrapper
}

func (c *idleConn) Write(b []byte) (int, error) {
	_ = c.SetDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(b) //nolint:wrapcheck // a transparent wrapper
}
