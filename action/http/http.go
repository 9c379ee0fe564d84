// Package http implements the builtin action "http": it performs one HTTP(S)
// request and returns the response body as the step output and the status,
// headers and cookies as the step metadata.
//
// A 2xx response is a success, a 4xx response a client error
// (CLIENT_ERROR) and any other status a server error (SERVER_ERROR); output
// and metadata are returned in every case where a response was received.
package http

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/url"

	"github.com/utask/utask/action"
)

// Name is the action type under which http is registered.
const Name = "http"

// Options configures the http action.
type Options struct {
	// Client sends the requests. Each step uses a copy whose Timeout is the
	// step's timeout and whose CheckRedirect, unless the step follows
	// redirects, stops at the first response. Steps that set insecure_skip_verify, root_ca or mutual_tls
	// use a clone of its Transport, which must then be an *http.Transport
	// (nil stands for http.DefaultTransport). Defaults to a client over a
	// clone of http.DefaultTransport, which honours HTTP_PROXY, HTTPS_PROXY
	// and NO_PROXY.
	Client *nethttp.Client
}

type httpAction struct {
	client *nethttp.Client
}

// New returns the http action.
func New(opts Options) action.Action {
	client := opts.Client
	if client == nil {
		client = &nethttp.Client{Transport: defaultTransport()}
	}
	return &httpAction{client: client}
}

// defaultTransport returns a transport of its own, configured like the
// standard library's default one (proxies from the environment, HTTP/2).
func defaultTransport() nethttp.RoundTripper {
	if t, ok := nethttp.DefaultTransport.(*nethttp.Transport); ok {
		return t.Clone()
	}
	return nethttp.DefaultTransport
}

// ValidateConfig checks the raw (untemplated) configuration.
func (a *httpAction) ValidateConfig(base, cfg json.RawMessage) error {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return err //nolint:wrapcheck // Overlay names the operation
	}
	return c.validate()
}

// Run performs the request described by the templated configuration. It
// returns when the response body has been read, the timeout has elapsed or
// ctx is done.
func (a *httpAction) Run(ctx context.Context, req action.Request) action.Result {
	var c config
	if err := action.Overlay(req.BaseConfig, req.Config, &c); err != nil {
		return action.Result{Err: err}
	}

	httpReq, err := c.newRequest(ctx)
	if err != nil {
		return action.Result{Err: err}
	}

	client, release, err := a.stepClient(&c)
	if err != nil {
		return action.Result{Err: err}
	}
	defer release()

	res, err := c.send(client, httpReq)
	if err != nil {
		return action.Result{Err: fmt.Errorf("can't do HTTP request: %w", err)}
	}
	defer func() { _ = res.Body.Close() }()

	body, err := io.ReadAll(res.Body)
	if err != nil {
		return action.Result{Err: fmt.Errorf("can't read body: %w", err)}
	}

	if req.Logger != nil {
		req.Logger.DebugContext(ctx, "http: response received",
			slog.String("method", httpReq.Method),
			slog.String("host", httpReq.URL.Host),
			slog.Int("status", res.StatusCode),
			slog.Int("body_bytes", len(body)))
	}

	return responseResult(res, trimPrefix(body, c.TrimPrefix))
}

// Resources returns "socket" and "url:<host[:port]>" for the target of the
// templated configuration, or nothing when it does not decode.
func (a *httpAction) Resources(base, cfg json.RawMessage) []string {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return nil
	}
	labels := []string{"socket"}
	raw := c.URL
	if raw == "" {
		raw = c.Host
	}
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		labels = append(labels, "url:"+u.Host)
	}
	return labels
}
