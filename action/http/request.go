package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"strings"
	"time"
)

// maxDrainBytes bounds how much of a discarded response body is read so that
// its connection can be reused.
const maxDrainBytes = 64 << 10

// target returns the URL the step addresses: url, or the scheme and
// authority of host followed by path.
func (c *config) target() (string, error) {
	if c.URL != "" {
		return c.URL, nil
	}
	h, err := url.Parse(c.Host)
	if err != nil {
		return "", fmt.Errorf("parse host: %w", err)
	}
	if h.Scheme == "" || h.Host == "" {
		return "", fmt.Errorf("parse host %q: missing scheme or host", c.Host)
	}
	p := c.Path
	if p != "" && !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "?") {
		p = "/" + p
	}
	return h.Scheme + "://" + h.Host + p, nil
}

// newRequest builds the request: target, method and body, re-encoded query,
// authorization, configured headers, then an automatic Content-Type.
func (c *config) newRequest(ctx context.Context) (*nethttp.Request, error) {
	target, err := c.target()
	if err != nil {
		return nil, err
	}

	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := nethttp.NewRequestWithContext(ctx, c.Method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}

	query := req.URL.Query()
	for _, p := range c.QueryParameters {
		query.Add(p.Name, p.Value)
	}
	req.URL.RawQuery = query.Encode()

	switch {
	case c.Auth.Bearer != nil && *c.Auth.Bearer != "":
		req.Header.Set("Authorization", "Bearer "+*c.Auth.Bearer)
	case c.Auth.Basic != nil:
		req.SetBasicAuth(c.Auth.Basic.User, c.Auth.Basic.Password)
	}

	for _, h := range c.Headers {
		req.Header.Set(h.Name, h.Value)
	}

	if c.Body != "" && req.Header.Get("Content-Type") == "" {
		if ct := detectContentType(c.Body); ct != "" {
			req.Header.Set("Content-Type", ct)
		}
	}
	return req, nil
}

// detectContentType returns application/json when body starts with a JSON
// value, application/xml when it holds a well-formed XML element, else "".
func detectContentType(body string) string {
	var v any
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&v); err == nil {
		return "application/json"
	}
	var element struct {
		XMLName xml.Name
	}
	if err := xml.NewDecoder(strings.NewReader(body)).Decode(&element); err == nil {
		return "application/xml"
	}
	return ""
}

// stepClient returns the client for this step: the action's client with the
// step's timeout and redirect policy and, when the step sets TLS options, a
// dedicated transport. release frees the dedicated transport's connections.
func (a *httpAction) stepClient(c *config) (client *nethttp.Client, release func(), err error) {
	timeout, err := c.timeout()
	if err != nil {
		return nil, nil, err
	}
	follow, err := parseBool("follow_redirect", c.FollowRedirect)
	if err != nil {
		return nil, nil, err
	}
	insecure, err := parseBool("insecure_skip_verify", c.InsecureSkipVerify)
	if err != nil {
		return nil, nil, err
	}

	stepClient := *a.client
	stepClient.Timeout = timeout
	if !follow {
		stepClient.CheckRedirect = func(*nethttp.Request, []*nethttp.Request) error {
			return nethttp.ErrUseLastResponse
		}
	}

	if !insecure && c.RootCA == "" && c.Auth.MutualTLS == nil {
		return &stepClient, func() {}, nil
	}
	transport, err := a.tlsTransport(c, insecure)
	if err != nil {
		return nil, nil, err
	}
	stepClient.Transport = transport
	return &stepClient, transport.CloseIdleConnections, nil
}

// tlsTransport clones the action's transport and applies the step's TLS
// options: skipped verification, extra root CAs, a client certificate.
func (a *httpAction) tlsTransport(c *config, insecure bool) (*nethttp.Transport, error) {
	base := a.client.Transport
	if base == nil {
		base = nethttp.DefaultTransport
	}
	baseTransport, ok := base.(*nethttp.Transport)
	if !ok {
		return nil, fmt.Errorf("configure tls: transport %T cannot be cloned", base)
	}
	transport := baseTransport.Clone()
	if transport.TLSClientConfig == nil {
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConfig := transport.TLSClientConfig

	if insecure {
		tlsConfig.InsecureSkipVerify = true
	}

	if c.RootCA != "" {
		pool := tlsConfig.RootCAs
		if pool != nil {
			pool = pool.Clone()
		} else if pool, _ = x509.SystemCertPool(); pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(c.RootCA)) {
			return nil, errors.New("parse root_ca: no PEM certificate found")
		}
		tlsConfig.RootCAs = pool
	}

	if m := c.Auth.MutualTLS; m != nil {
		cert, err := tls.X509KeyPair([]byte(m.ClientCert), []byte(m.ClientKey))
		if err != nil {
			return nil, fmt.Errorf("parse mutual_tls key pair: %w", err)
		}
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	return transport, nil
}

// send sends req. With digest auth, a 401 answer to the credential-less
// request is answered once with the digest computed from its challenge.
func (c *config) send(client *nethttp.Client, req *nethttp.Request) (*nethttp.Response, error) {
	start := time.Now()
	res, err := client.Do(req)
	if err != nil || c.Auth.Digest == nil || res.StatusCode != nethttp.StatusUnauthorized {
		return res, err //nolint:wrapcheck // the caller names the operation
	}

	challenges := res.Header.Values("WWW-Authenticate")
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxDrainBytes))
	_ = res.Body.Close()
	if len(challenges) == 0 {
		return nil, errors.New("digest auth: 401 response without WWW-Authenticate header")
	}
	ch, err := selectDigestChallenge(challenges)
	if err != nil {
		return nil, err
	}

	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("digest auth: rewind body: %w", err)
		}
	}
	retry.Header.Set("Authorization", ch.authorization(req.Method, req.URL.RequestURI(), *c.Auth.Digest, newCnonce()))

	// The timeout bounds the whole exchange, both round trips included.
	retryClient := *client
	if client.Timeout > 0 {
		retryClient.Timeout = max(client.Timeout-time.Since(start), time.Nanosecond)
	}
	return retryClient.Do(retry) //nolint:wrapcheck // the caller names the operation
}
