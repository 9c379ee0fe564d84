package http_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/http"
)

func TestName(t *testing.T) {
	t.Parallel()

	registry := action.NewRegistry()
	require.NoError(t, registry.Register(http.Name, http.New(http.Options{})))
	_, ok := registry.Lookup("http")
	require.True(t, ok)
}

func TestValidateConfig(t *testing.T) {
	t.Parallel()

	const target = "https://api.example.org/v1"
	tests := []struct {
		name    string
		base    any
		config  any
		wantErr string
	}{
		{name: "MinimalURL", config: obj{"url": target, "method": "GET"}},
		{name: "HostAndPath", config: obj{"host": "https://api.example.org:8443", "path": "/v1?x=1", "method": "POST"}},
		{name: "HostOnly", config: obj{"host": "https://api.example.org", "method": "DELETE"}},
		{name: "Put", config: obj{"url": target, "method": "PUT"}},
		{name: "Patch", config: obj{"url": target, "method": "PATCH"}},
		{name: "TemplatedMethodPrefix", config: obj{"url": target, "method": "{{ .input.method }}"}},
		{name: "TemplatedMethodSuffix", config: obj{"url": target, "method": "x{{ .input.m }}"}},
		{name: "TemplatedURL", config: obj{"url": "{{ .config.api }}/v1", "method": "GET"}},
		{
			name: "EverythingValid",
			config: obj{
				"url":                  target,
				"method":               "POST",
				"body":                 `{"a": 1}`,
				"headers":              []obj{{"name": "X-A", "value": "1"}},
				"query_parameters":     []obj{{"name": "q", "value": ""}},
				"timeout":              "{{ .input.timeout }}",
				"follow_redirect":      "maybe later",
				"insecure_skip_verify": "not parsed here",
				"root_ca":              "not parsed here",
				"trim_prefix":          ")]}'",
				"auth": obj{
					"digest":     obj{"user": "u", "password": "p"},
					"mutual_tls": obj{"client_cert": "c", "client_key": "k"},
				},
			},
		},
		{name: "BasicAuth", config: obj{"url": target, "method": "GET", "auth": obj{"basic": obj{"user": "u", "password": "p"}}}},
		{name: "BearerAuth", config: obj{"url": target, "method": "GET", "auth": obj{"bearer": "{{ .config.token }}"}}},
		{name: "NullBearerIsAbsent", config: obj{"url": target, "method": "GET", "auth": obj{"bearer": nil, "basic": obj{"user": "u", "password": "p"}}}},
		{name: "MethodFromBase", base: obj{"method": "GET"}, config: obj{"url": target}},
		{name: "HostFromBase", base: obj{"host": "https://api.example.org", "method": "GET"}, config: obj{"path": "/x"}},
		{name: "LegacyFieldsIgnored", config: obj{"url": target, "method": "GET", "timeout_seconds": 3, "deny_redirects": true, "parameters": obj{}}},

		{name: "UnknownMethod", config: obj{"url": target, "method": "HEAD"}, wantErr: `unknown method "HEAD": expecting GET, POST, PUT, DELETE or PATCH`},
		{name: "LowerCaseMethod", config: obj{"url": target, "method": "get"}, wantErr: `unknown method "get": expecting GET, POST, PUT, DELETE or PATCH`},
		{name: "MissingMethod", config: obj{"url": target}, wantErr: `unknown method "": expecting GET, POST, PUT, DELETE or PATCH`},
		{name: "URLAndHost", config: obj{"url": target, "host": "https://api.example.org", "method": "GET"}, wantErr: "url cannot be combined with host or path"},
		{name: "URLAndPath", config: obj{"url": target, "path": "/x", "method": "GET"}, wantErr: "url cannot be combined with host or path"},
		{name: "URLInBaseHostInStep", base: obj{"url": target}, config: obj{"host": "https://h", "method": "GET"}, wantErr: "url cannot be combined with host or path"},
		{name: "NoTarget", config: obj{"method": "GET"}, wantErr: "missing url or host"},
		{name: "PathWithoutHost", config: obj{"path": "/x", "method": "GET"}, wantErr: "missing url or host"},
		{name: "HeaderWithoutName", config: obj{"url": target, "method": "GET", "headers": []obj{{"name": "A", "value": "1"}, {"value": "2"}}}, wantErr: "header 1: missing name"},
		{name: "QueryParameterWithoutName", config: obj{"url": target, "method": "GET", "query_parameters": []obj{{"name": "", "value": "2"}}}, wantErr: "query parameter 0: missing name"},
		{
			name:    "BasicAndBearer",
			config:  obj{"url": target, "method": "GET", "auth": obj{"basic": obj{"user": "u", "password": "p"}, "bearer": "t"}},
			wantErr: "auth: basic, digest and bearer are mutually exclusive",
		},
		{
			name:    "BasicAndDigest",
			config:  obj{"url": target, "method": "GET", "auth": obj{"basic": obj{"user": "u", "password": "p"}, "digest": obj{"user": "u", "password": "p"}}},
			wantErr: "auth: basic, digest and bearer are mutually exclusive",
		},
		{
			name:    "DigestAndBearer",
			config:  obj{"url": target, "method": "GET", "auth": obj{"digest": obj{"user": "u", "password": "p"}, "bearer": "t"}},
			wantErr: "auth: basic, digest and bearer are mutually exclusive",
		},
		{
			name:    "BearerInBaseBasicInStep",
			base:    obj{"auth": obj{"bearer": "t"}},
			config:  obj{"url": target, "method": "GET", "auth": obj{"basic": obj{"user": "u", "password": "p"}}},
			wantErr: "auth: basic, digest and bearer are mutually exclusive",
		},
		{name: "BasicWithoutPassword", config: obj{"url": target, "method": "GET", "auth": obj{"basic": obj{"user": "u"}}}, wantErr: "auth basic: missing user or password"},
		{name: "BasicWithoutUser", config: obj{"url": target, "method": "GET", "auth": obj{"basic": obj{"password": "p"}}}, wantErr: "auth basic: missing user or password"},
		{name: "DigestWithoutPassword", config: obj{"url": target, "method": "GET", "auth": obj{"digest": obj{"user": "u"}}}, wantErr: "auth digest: missing user or password"},
		{name: "EmptyBearer", config: obj{"url": target, "method": "GET", "auth": obj{"bearer": ""}}, wantErr: "auth bearer: empty token"},
		{
			name:    "MutualTLSWithoutKey",
			config:  obj{"url": target, "method": "GET", "auth": obj{"mutual_tls": obj{"client_cert": "c"}}},
			wantErr: "auth mutual_tls: missing client_cert or client_key",
		},
		{
			name:    "MutualTLSWithoutCert",
			config:  obj{"url": target, "method": "GET", "auth": obj{"mutual_tls": obj{"client_key": "k"}}},
			wantErr: "auth mutual_tls: missing client_cert or client_key",
		},
		{name: "MissingConfiguration", config: "", wantErr: "unmarshal configuration: EOF"},
		{
			name:    "HeadersAsMap",
			config:  obj{"url": target, "method": "GET", "headers": obj{"X-A": "1"}},
			wantErr: "unmarshal configuration: json: cannot unmarshal object into Go struct field config.headers of type []http.parameter",
		},
		{
			name:    "BodyAsObject",
			config:  obj{"url": target, "method": "POST", "body": obj{"a": 1}},
			wantErr: "unmarshal configuration: json: cannot unmarshal object into Go struct field config.body of type string",
		},
		{
			name:    "FollowRedirectAsBoolean",
			config:  obj{"url": target, "method": "GET", "follow_redirect": true},
			wantErr: "unmarshal configuration: json: cannot unmarshal bool into Go struct field config.follow_redirect of type string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var base []byte
			if tt.base != nil {
				base = mustJSON(t, tt.base)
			}
			err := http.New(http.Options{}).ValidateConfig(base, mustJSON(t, tt.config))
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
		base   any
		config any
		want   []string
	}{
		{name: "URL", config: obj{"url": "https://api.example.org/v1?x=1"}, want: []string{"socket", "url:api.example.org"}},
		{name: "URLWithPort", config: obj{"url": "http://127.0.0.1:8080/x"}, want: []string{"socket", "url:127.0.0.1:8080"}},
		{name: "Host", config: obj{"host": "https://api.example.org:8443/ignored", "path": "/v1"}, want: []string{"socket", "url:api.example.org:8443"}},
		{name: "HostFromBase", base: obj{"host": "https://base.example.org"}, config: obj{"path": "/v1"}, want: []string{"socket", "url:base.example.org"}},
		{name: "NoHost", config: obj{"url": "not a url"}, want: []string{"socket"}},
		{name: "Unparsable", config: obj{"url": "http://[::1"}, want: []string{"socket"}},
		{name: "Empty", config: obj{}, want: []string{"socket"}},
		{name: "DecodingError", config: obj{"url": 3}, want: nil},
		{name: "MissingConfiguration", config: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var base []byte
			if tt.base != nil {
				base = mustJSON(t, tt.base)
			}
			require.Equal(t, tt.want, http.New(http.Options{}).Resources(base, mustJSON(t, tt.config)))
		})
	}
}
