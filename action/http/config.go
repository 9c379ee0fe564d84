package http

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// defaultTimeout bounds a whole exchange when the timeout field is empty.
const defaultTimeout = 30 * time.Second

// config is the configuration of one http step.
type config struct {
	URL                string      `json:"url"`
	Host               string      `json:"host"`
	Path               string      `json:"path"`
	Method             string      `json:"method"`
	Body               string      `json:"body"`
	Headers            []parameter `json:"headers"`
	QueryParameters    []parameter `json:"query_parameters"`
	Timeout            string      `json:"timeout"`
	Auth               auth        `json:"auth"`
	FollowRedirect     string      `json:"follow_redirect"`
	InsecureSkipVerify string      `json:"insecure_skip_verify"`
	RootCA             string      `json:"root_ca"`
	TrimPrefix         string      `json:"trim_prefix"`
}

// parameter is one header or query parameter.
type parameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// auth holds the authentication settings; a nil field is absent.
type auth struct {
	Basic     *credentials `json:"basic"`
	Digest    *credentials `json:"digest"`
	Bearer    *string      `json:"bearer"`
	MutualTLS *mutualTLS   `json:"mutual_tls"`
}

// credentials are a user name and password for basic or digest auth.
type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// mutualTLS holds a PEM client certificate chain and its PEM private key.
type mutualTLS struct {
	ClientCert string `json:"client_cert"`
	ClientKey  string `json:"client_key"`
}

// validate checks the fields whose value is known before templating.
func (c *config) validate() error {
	if !isTemplated(c.Method) && !validMethod(c.Method) {
		return fmt.Errorf("unknown method %q: expecting GET, POST, PUT, DELETE or PATCH", c.Method)
	}
	if c.URL != "" && (c.Host != "" || c.Path != "") {
		return errors.New("url cannot be combined with host or path")
	}
	if c.URL == "" && c.Host == "" {
		return errors.New("missing url or host")
	}
	for i, h := range c.Headers {
		if h.Name == "" {
			return fmt.Errorf("header %d: missing name", i)
		}
	}
	for i, p := range c.QueryParameters {
		if p.Name == "" {
			return fmt.Errorf("query parameter %d: missing name", i)
		}
	}
	return c.Auth.validate()
}

// validate checks that at most one scheme is set and that each is complete.
func (a *auth) validate() error {
	schemes := 0
	for _, set := range []bool{a.Basic != nil, a.Digest != nil, a.Bearer != nil} {
		if set {
			schemes++
		}
	}
	if schemes > 1 {
		return errors.New("auth: basic, digest and bearer are mutually exclusive")
	}
	if a.Basic != nil && (a.Basic.User == "" || a.Basic.Password == "") {
		return errors.New("auth basic: missing user or password")
	}
	if a.Digest != nil && (a.Digest.User == "" || a.Digest.Password == "") {
		return errors.New("auth digest: missing user or password")
	}
	if a.Bearer != nil && *a.Bearer == "" {
		return errors.New("auth bearer: empty token")
	}
	if a.MutualTLS != nil && (a.MutualTLS.ClientCert == "" || a.MutualTLS.ClientKey == "") {
		return errors.New("auth mutual_tls: missing client_cert or client_key")
	}
	return nil
}

// timeout returns the exchange deadline; zero disables it.
func (c *config) timeout() (time.Duration, error) {
	if c.Timeout == "" {
		return defaultTimeout, nil
	}
	d, err := time.ParseDuration(c.Timeout)
	if err != nil {
		return 0, fmt.Errorf("parse timeout: %w", err)
	}
	return d, nil
}

// isTemplated reports whether a raw value is a template expression, whose
// value is only known at run time.
func isTemplated(s string) bool {
	return strings.HasPrefix(s, "{{") || strings.HasSuffix(s, "}}")
}

// validMethod reports whether m is one of the methods a step may use.
func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "PATCH":
		return true
	default:
		return false
	}
}

// parseBool parses a string boolean field; empty is false.
func parseBool(field, s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("parse %s: %w", field, err)
	}
	return b, nil
}
