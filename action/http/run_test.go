package http_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	nethttp "net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/http"
)

func TestRunRequestConstruction(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		// config is completed with "url" (srv.URL + path) unless it sets "host".
		path   string
		base   obj
		config obj
		check  func(t *testing.T, got receivedRequest, srvHost string)
	}{
		{
			name:   "QuerySortedAndReencoded",
			path:   "/api/items?z=26&b=2&a=1",
			config: obj{"method": "GET", "query_parameters": []obj{{"name": "c", "value": "x y&z/é"}, {"name": "a", "value": "0"}}},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "GET", got.Method)
				require.Equal(t, "/api/items", got.Path)
				require.Equal(t, "a=1&a=0&b=2&c=x+y%26z%2F%C3%A9&z=26", got.RawQuery)
			},
		},
		{
			name:   "QueryRepeatedParameters",
			path:   "/q",
			config: obj{"method": "GET", "query_parameters": []obj{{"name": "k", "value": "2"}, {"name": "k", "value": "1"}, {"name": "e", "value": ""}}},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "e=&k=2&k=1", got.RawQuery)
			},
		},
		{
			name:   "ExistingQueryReencoded",
			path:   "/q?flag&b=%7e",
			config: obj{"method": "GET"},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "b=~&flag=", got.RawQuery)
			},
		},
		{
			name:   "NoQuery",
			path:   "/plain",
			config: obj{"method": "DELETE"},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "DELETE", got.Method)
				require.Empty(t, got.RawQuery)
				require.Empty(t, got.Header.Get("Authorization"))
			},
		},
		{
			name:   "GetWithBody",
			path:   "/",
			config: obj{"method": "GET", "body": "hello"},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "GET", got.Method)
				require.Equal(t, "hello", got.Body)
				require.Empty(t, got.Header.Values("Content-Type"))
			},
		},
		{
			name:   "JSONBody",
			path:   "/users",
			config: obj{"method": "POST", "body": `{"login": "jdoe", "id": 12345678901234567}`},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "POST", got.Method)
				require.JSONEq(t, `{"login": "jdoe", "id": 12345678901234567}`, got.Body)
				require.Equal(t, "application/json", got.Header.Get("Content-Type"))
			},
		},
		{
			name:   "JSONFirstValueOnly",
			path:   "/",
			config: obj{"method": "PUT", "body": `{"a": 1} and then some text`},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "PUT", got.Method)
				require.Equal(t, "application/json", got.Header.Get("Content-Type"))
			},
		},
		{
			name:   "JSONScalarBody",
			path:   "/",
			config: obj{"method": "PATCH", "body": `42`},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "PATCH", got.Method)
				require.Equal(t, "application/json", got.Header.Get("Content-Type"))
			},
		},
		{
			name:   "XMLBody",
			path:   "/",
			config: obj{"method": "POST", "body": `<?xml version="1.0"?><user><name>x</name></user>`},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "application/xml", got.Header.Get("Content-Type"))
			},
		},
		{
			name:   "XMLElementAfterText",
			path:   "/",
			config: obj{"method": "POST", "body": `note: <a href="x">b</a>`},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "application/xml", got.Header.Get("Content-Type"))
			},
		},
		{
			name:   "BrokenXMLHasNoContentType",
			path:   "/",
			config: obj{"method": "POST", "body": `<a><b></a>`},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "<a><b></a>", got.Body)
				require.Empty(t, got.Header.Values("Content-Type"))
			},
		},
		{
			name:   "TextHasNoContentType",
			path:   "/",
			config: obj{"method": "POST", "body": `just {some} text`},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Empty(t, got.Header.Values("Content-Type"))
			},
		},
		{
			name:   "ConfiguredContentTypeWins",
			path:   "/",
			config: obj{"method": "POST", "body": `{"a": 1}`, "headers": []obj{{"name": "content-type", "value": "text/plain"}}},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, []string{"text/plain"}, got.Header.Values("Content-Type"))
			},
		},
		{
			name:   "Bearer",
			path:   "/",
			config: obj{"method": "GET", "auth": obj{"bearer": "s3cr3t"}},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "Bearer s3cr3t", got.Header.Get("Authorization"))
			},
		},
		{
			name:   "Basic",
			path:   "/",
			config: obj{"method": "GET", "auth": obj{"basic": obj{"user": "alice", "password": "p:w"}}},
			check: func(t *testing.T, got receivedRequest, _ string) {
				r := &nethttp.Request{Header: got.Header}
				user, password, ok := r.BasicAuth()
				require.True(t, ok)
				require.Equal(t, "alice", user)
				require.Equal(t, "p:w", password)
			},
		},
		{
			name:   "HeaderOverridesAuth",
			path:   "/",
			config: obj{"method": "GET", "auth": obj{"bearer": "t"}, "headers": []obj{{"name": "Authorization", "value": "Custom xyz"}}},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, []string{"Custom xyz"}, got.Header.Values("Authorization"))
			},
		},
		{
			name: "HeadersReplaceInOrder",
			path: "/",
			config: obj{"method": "GET", "headers": []obj{
				{"name": "X-Dup", "value": "first"},
				{"name": "x-other", "value": "o"},
				{"name": "x-dup", "value": "second"},
				{"name": "User-Agent", "value": "utask-test"},
			}},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, []string{"second"}, got.Header.Values("X-Dup"))
				require.Equal(t, "o", got.Header.Get("X-Other"))
				require.Equal(t, "utask-test", got.Header.Get("User-Agent"))
			},
		},
		{
			name:   "HostHeaderDoesNotChangeTarget",
			path:   "/",
			config: obj{"method": "GET", "headers": []obj{{"name": "Host", "value": "other.invalid"}}},
			check: func(t *testing.T, got receivedRequest, srvHost string) {
				require.Equal(t, srvHost, got.Host)
			},
		},
		{
			name:   "HostAndPath",
			config: obj{"method": "GET", "host": "{srv}/ignored/path?drop=1", "path": "/v1/users?id=7"},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "/v1/users", got.Path)
				require.Equal(t, "id=7", got.RawQuery)
			},
		},
		{
			name:   "HostAndRelativePath",
			config: obj{"method": "GET", "host": "{srv}", "path": "v1/users"},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "/v1/users", got.Path)
			},
		},
		{
			name:   "HostWithoutPath",
			config: obj{"method": "GET", "host": "{srv}/dropped"},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "/", got.Path)
			},
		},
		{
			name:   "BaseConfiguration",
			path:   "/base",
			base:   obj{"method": "POST", "headers": []obj{{"name": "X-Base", "value": "b"}}, "body": "from base"},
			config: obj{"body": "from step"},
			check: func(t *testing.T, got receivedRequest, _ string) {
				require.Equal(t, "POST", got.Method)
				require.Equal(t, "b", got.Header.Get("X-Base"))
				require.Equal(t, "from step", got.Body)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{}
			srv := newServer(t, rec)
			cfg := obj{}
			for k, v := range tt.config {
				cfg[k] = v
			}
			if h, ok := cfg["host"].(string); ok {
				cfg["host"] = strings.Replace(h, "{srv}", srv.URL, 1)
			} else {
				cfg["url"] = srv.URL + tt.path
			}
			var base any
			if tt.base != nil {
				base = tt.base
			}

			res := run(t, http.New(http.Options{Client: newClient(t)}), base, cfg)
			require.NoError(t, res.Err)
			require.Equal(t, "ok", res.Output)

			got := rec.received()
			require.Len(t, got, 1)
			tt.check(t, got[0], srv.Listener.Addr().String())
		})
	}
}

func TestRunResponse(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		trimPrefix  string
		wantOutput  any
		wantErr     string
		wantKind    action.Kind
		noOutput    bool
	}{
		{
			name:        "JSONObject",
			status:      200,
			contentType: "application/json",
			body:        `{"id": 12345678901234567, "ok": true, "list": [1.50, "x", null]}`,
			wantOutput:  map[string]any{"id": json.Number("12345678901234567"), "ok": true, "list": []any{json.Number("1.50"), "x", nil}},
		},
		{name: "JSONWithParameters", status: 200, contentType: "application/json; charset=utf-8", body: `[1, 2]`, wantOutput: []any{json.Number("1"), json.Number("2")}},
		{name: "JSONString", status: 201, contentType: "application/json", body: `"created"`, wantOutput: "created"},
		{name: "JSONNumber", status: 200, contentType: "application/json", body: `12345678901234567890`, wantOutput: json.Number("12345678901234567890")},
		{name: "JSONEmptyBody", status: 200, contentType: "application/json", body: ``, wantOutput: ""},
		{name: "ProblemJSONIsText", status: 200, contentType: "application/problem+json", body: `{"a": 1}`, wantOutput: `{"a": 1}`},
		{name: "TextJSONIsText", status: 200, contentType: "text/json", body: `{"a": 1}`, wantOutput: `{"a": 1}`},
		{name: "MediaTypeIsCaseSensitive", status: 200, contentType: "Application/JSON", body: `{"a": 1}`, wantOutput: `{"a": 1}`},
		{name: "MediaTypeComparedExactly", status: 200, contentType: "application/json ; charset=utf-8", body: `{"a": 1}`, wantOutput: `{"a": 1}`},
		{name: "PlainText", status: 200, contentType: "text/plain", body: "hello\n", wantOutput: "hello\n"},
		{name: "NoContent", status: 204, wantOutput: ""},
		{name: "Accepted", status: 202, contentType: "text/plain", body: "queued", wantOutput: "queued"},
		{
			name:        "TrimPrefix",
			status:      200,
			contentType: "application/json",
			body:        ")]}',\n{\"a\": 1}",
			trimPrefix:  ")]}',\n",
			wantOutput:  map[string]any{"a": json.Number("1")},
		},
		{name: "TrimPrefixOnce", status: 200, contentType: "text/plain", body: "xxabc", trimPrefix: "x", wantOutput: "xabc"},
		{name: "TrimPrefixAbsent", status: 200, contentType: "text/plain", body: "abc", trimPrefix: "z", wantOutput: "abc"},
		{
			name:        "ClientErrorJSON",
			status:      404,
			contentType: "application/json",
			body:        `{"error": "not found"}`,
			wantOutput:  map[string]any{"error": "not found"},
			wantErr:     `Client error: failed api request: 404: {"error": "not found"}`,
			wantKind:    action.KindClient,
		},
		{
			name:        "ClientErrorText",
			status:      400,
			contentType: "text/plain",
			body:        "bad input",
			wantOutput:  "bad input",
			wantErr:     "Client error: failed api request: 400: bad input",
			wantKind:    action.KindClient,
		},
		{
			name:       "ClientErrorUpperBound",
			status:     499,
			wantOutput: "",
			wantErr:    "Client error: failed api request: 499: ",
			wantKind:   action.KindClient,
		},
		{
			name:        "ClientErrorTrimmedBody",
			status:      409,
			contentType: "text/plain",
			body:        "PFXconflict",
			trimPrefix:  "PFX",
			wantOutput:  "conflict",
			wantErr:     "Client error: failed api request: 409: conflict",
			wantKind:    action.KindClient,
		},
		{
			name:        "ServerErrorText",
			status:      500,
			contentType: "text/plain",
			body:        "boom",
			wantOutput:  "boom",
			wantErr:     "failed api request: 500: boom",
			wantKind:    action.KindServer,
		},
		{
			name:        "ServerErrorJSON",
			status:      503,
			contentType: "application/json",
			body:        `{"retry": 5}`,
			wantOutput:  map[string]any{"retry": json.Number("5")},
			wantErr:     `failed api request: 503: {"retry": 5}`,
			wantKind:    action.KindServer,
		},
		{
			name:        "NotModifiedIsServerError",
			status:      304,
			wantOutput:  "",
			wantErr:     "failed api request: 304: ",
			wantKind:    action.KindServer,
			contentType: "",
		},
		{
			name:        "UnparsableJSON",
			status:      200,
			contentType: "application/json",
			body:        `{"a": `,
			wantErr:     "can't unmarshal body: unexpected EOF",
			wantKind:    action.KindServer,
			noOutput:    true,
		},
		{
			name:        "UnparsableJSONOnClientError",
			status:      404,
			contentType: "application/json",
			body:        `oops`,
			wantErr:     "can't unmarshal body: invalid character 'o' looking for beginning of value",
			wantKind:    action.KindServer,
			noOutput:    true,
		},
		{
			name:        "JSONWithTrailingData",
			status:      200,
			contentType: "application/json",
			body:        `{"a": 1} {"b": 2}`,
			wantErr:     "can't unmarshal body: invalid data after top-level value",
			wantKind:    action.KindServer,
			noOutput:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := newServer(t, &recorder{respond: func(w nethttp.ResponseWriter, _ *nethttp.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}})

			res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{
				"url":         srv.URL + "/resource",
				"method":      "GET",
				"trim_prefix": tt.trimPrefix,
			})

			if tt.noOutput {
				require.Nil(t, res.Output)
			} else {
				require.Equal(t, tt.wantOutput, res.Output)
			}
			metadata, ok := res.Metadata.(map[string]any)
			require.True(t, ok, "metadata is %T", res.Metadata)
			require.Equal(t, tt.status, metadata["HTTPStatus"])
			if tt.wantErr == "" {
				require.NoError(t, res.Err)
				return
			}
			require.EqualError(t, res.Err, tt.wantErr)
			require.Equal(t, tt.wantKind, action.KindOf(res.Err))
		})
	}
}

func TestRunMetadata(t *testing.T) {
	t.Parallel()

	srv := newServer(t, &recorder{respond: func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		w.Header()["x-request-id"] = []string{"req-1"} // sent as written, not canonical
		w.Header().Add("X-Multi", "first")
		w.Header().Add("X-Multi", "second")
		w.Header().Set("Content-Type", "text/plain")
		nethttp.SetCookie(w, &nethttp.Cookie{Name: "session", Value: "abc", Path: "/"})
		nethttp.SetCookie(w, &nethttp.Cookie{Name: "theme", Value: "dark", HttpOnly: true})
		_, _ = io.WriteString(w, "body")
	}})

	res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{"url": srv.URL, "method": "GET"})
	require.NoError(t, res.Err)

	metadata, ok := res.Metadata.(map[string]any)
	require.True(t, ok)
	require.Len(t, metadata, 3)
	require.Equal(t, 200, metadata[http.MetadataStatus])

	headers, ok := metadata[http.MetadataHeaders].(map[string]string)
	require.True(t, ok, "headers are %T", metadata[http.MetadataHeaders])
	require.Equal(t, "req-1", headers["X-Request-Id"])
	require.Equal(t, "first", headers["X-Multi"])
	require.Equal(t, "text/plain", headers["Content-Type"])
	require.Equal(t, "4", headers["Content-Length"])
	require.Equal(t, "session=abc; Path=/", headers["Set-Cookie"])
	require.NotEmpty(t, headers["Date"])
	for name := range headers {
		require.Equal(t, nethttp.CanonicalHeaderKey(name), name)
	}

	require.Equal(t, map[string]string{"session": "abc", "theme": "dark"}, metadata[http.MetadataCookies])
}

func TestRunRedirects(t *testing.T) {
	t.Parallel()

	newRedirectServer := func(t *testing.T) (url string, endHits *atomic.Int32) {
		t.Helper()

		endHits = &atomic.Int32{}
		srv := newServer(t, &recorder{respond: func(w nethttp.ResponseWriter, r *nethttp.Request) {
			switch r.URL.Path {
			case "/start":
				w.Header().Set("Location", "/end")
				w.WriteHeader(nethttp.StatusFound)
				_, _ = io.WriteString(w, "moved")
			case "/loop":
				w.Header().Set("Location", "/loop")
				w.WriteHeader(nethttp.StatusMovedPermanently)
			default:
				endHits.Add(1)
				_, _ = io.WriteString(w, "done")
			}
		}})
		return srv.URL, endHits
	}

	notFollowed := []struct{ name, follow string }{
		{"NotFollowedByDefault", ""}, {"NotFollowedFalse", "false"}, {"NotFollowedZero", "0"}, {"NotFollowedF", "F"},
	}
	for _, tt := range notFollowed {
		follow := tt.follow
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			url, endHits := newRedirectServer(t)
			cfg := obj{"url": url + "/start", "method": "GET"}
			if follow != "" {
				cfg["follow_redirect"] = follow
			}
			res := run(t, http.New(http.Options{Client: newClient(t)}), nil, cfg)
			require.EqualError(t, res.Err, "failed api request: 302: moved")
			require.Equal(t, action.KindServer, action.KindOf(res.Err))
			require.Equal(t, "moved", res.Output)
			metadata, ok := res.Metadata.(map[string]any)
			require.True(t, ok)
			require.Equal(t, 302, metadata["HTTPStatus"])
			require.Equal(t, "/end", metadata["HTTPHeaders"].(map[string]string)["Location"])
			require.Zero(t, endHits.Load())
		})
	}

	for _, follow := range []string{"true", "1", "T", "TRUE", "True"} {
		t.Run("Followed"+follow, func(t *testing.T) {
			t.Parallel()

			url, endHits := newRedirectServer(t)
			res := run(t, http.New(http.Options{Client: newClient(t)}), nil,
				obj{"url": url + "/start", "method": "GET", "follow_redirect": follow})
			require.NoError(t, res.Err)
			require.Equal(t, "done", res.Output)
			require.Equal(t, 200, res.Metadata.(map[string]any)["HTTPStatus"])
			require.Equal(t, int32(1), endHits.Load())
		})
	}

	t.Run("TooManyRedirects", func(t *testing.T) {
		t.Parallel()

		url, _ := newRedirectServer(t)
		res := run(t, http.New(http.Options{Client: newClient(t)}), nil,
			obj{"url": url + "/loop", "method": "GET", "follow_redirect": "true"})
		require.EqualError(t, res.Err, `can't do HTTP request: Get "/loop": stopped after 10 redirects`)
		require.Equal(t, action.KindServer, action.KindOf(res.Err))
		require.Nil(t, res.Output)
		require.Nil(t, res.Metadata)
	})
}

func TestRunSetupErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		config  obj // "{srv}" in url/host is replaced by the server's URL
		wantErr string
	}{
		{name: "BadTimeout", config: obj{"url": "{srv}", "method": "GET", "timeout": "10 seconds"}, wantErr: `parse timeout: time: unknown unit " seconds" in duration "10 seconds"`},
		{name: "TimeoutWithoutUnit", config: obj{"url": "{srv}", "method": "GET", "timeout": "30"}, wantErr: `parse timeout: time: missing unit in duration "30"`},
		{name: "TimeoutInDays", config: obj{"url": "{srv}", "method": "GET", "timeout": "1d"}, wantErr: `parse timeout: time: unknown unit "d" in duration "1d"`},
		{
			name:    "BadFollowRedirect",
			config:  obj{"url": "{srv}", "method": "GET", "follow_redirect": "yes"},
			wantErr: `parse follow_redirect: strconv.ParseBool: parsing "yes": invalid syntax`,
		},
		{
			name:    "BadInsecureSkipVerify",
			config:  obj{"url": "{srv}", "method": "GET", "insecure_skip_verify": "no"},
			wantErr: `parse insecure_skip_verify: strconv.ParseBool: parsing "no": invalid syntax`,
		},
		{name: "HostWithoutScheme", config: obj{"host": "127.0.0.1", "method": "GET"}, wantErr: `parse host "127.0.0.1": missing scheme or host`},
		{name: "UnparsableHost", config: obj{"host": "http://[::1", "method": "GET"}, wantErr: `parse host: parse "http://[::1": missing ']' in host`},
		{name: "EmptyTarget", config: obj{"method": "GET"}, wantErr: `parse host "": missing scheme or host`},
		{name: "BadPath", config: obj{"host": "{srv}", "path": "/%zz", "method": "GET"}, wantErr: `build request: parse "{srv}/%zz": invalid URL escape "%zz"`},
		{name: "BadMethodToken", config: obj{"url": "{srv}", "method": "G ET"}, wantErr: `build request: net/http: invalid method "G ET"`},
		{name: "BadRootCA", config: obj{"url": "{srv}", "method": "GET", "root_ca": "not a certificate"}, wantErr: "parse root_ca: no PEM certificate found"},
		{
			name:    "BadMutualTLS",
			config:  obj{"url": "{srv}", "method": "GET", "auth": obj{"mutual_tls": obj{"client_cert": "x", "client_key": "y"}}},
			wantErr: "parse mutual_tls key pair: tls: failed to find any PEM data in certificate input",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorder{}
			srv := newServer(t, rec)
			cfg := obj{}
			for k, v := range tt.config {
				if s, ok := v.(string); ok {
					v = strings.ReplaceAll(s, "{srv}", srv.URL)
				}
				cfg[k] = v
			}

			res := run(t, http.New(http.Options{}), nil, cfg)
			require.EqualError(t, res.Err, strings.ReplaceAll(tt.wantErr, "{srv}", srv.URL))
			require.Equal(t, action.KindServer, action.KindOf(res.Err))
			require.Nil(t, res.Output)
			require.Nil(t, res.Metadata)
			require.Empty(t, rec.received())
		})
	}

	t.Run("MissingConfiguration", func(t *testing.T) {
		t.Parallel()

		res := http.New(http.Options{}).Run(context.Background(), action.Request{})
		require.EqualError(t, res.Err, "unmarshal configuration: EOF")
		require.Equal(t, action.KindServer, action.KindOf(res.Err))
	})

	t.Run("TransportNotCloneable", func(t *testing.T) {
		t.Parallel()

		client := &nethttp.Client{Transport: roundTripFunc(func(*nethttp.Request) (*nethttp.Response, error) {
			return nil, errors.New("must not be called")
		})}
		res := run(t, http.New(http.Options{Client: client}), nil,
			obj{"url": "https://127.0.0.1:1/", "method": "GET", "insecure_skip_verify": "true"})
		require.EqualError(t, res.Err, "configure tls: transport http_test.roundTripFunc cannot be cloned")
	})
}

type roundTripFunc func(*nethttp.Request) (*nethttp.Response, error)

func (f roundTripFunc) RoundTrip(r *nethttp.Request) (*nethttp.Response, error) { return f(r) }

func TestRunNoResponse(t *testing.T) {
	t.Parallel()

	srv := newServer(t, &recorder{})
	url := srv.URL
	srv.Close() // nothing listens on this loopback port any more

	res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{"url": url + "/x", "method": "GET"})
	require.ErrorContains(t, res.Err, `can't do HTTP request: Get "`+url+`/x": dial tcp `)
	require.ErrorContains(t, res.Err, "connection refused")
	require.Equal(t, action.KindServer, action.KindOf(res.Err))
	require.Nil(t, res.Output)
	require.Nil(t, res.Metadata)
}

func TestRunBodyReadFailure(t *testing.T) {
	t.Parallel()

	srv := newServer(t, &recorder{respond: func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "short") // the connection is closed before the announced length
	}})

	res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{"url": srv.URL, "method": "GET"})
	require.EqualError(t, res.Err, "can't read body: unexpected EOF")
	require.Equal(t, action.KindServer, action.KindOf(res.Err))
	require.Nil(t, res.Output)
	require.Nil(t, res.Metadata)
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()

	// blockingServer answers only when the client goes away; stage "headers"
	// blocks before the response, "body" after sending headers and a part of
	// the body.
	blockingServer := func(t *testing.T, stage string) string {
		t.Helper()

		srv := newServer(t, &recorder{respond: func(w nethttp.ResponseWriter, r *nethttp.Request) {
			if stage == "body" {
				w.Header().Set("Content-Length", "100")
				_, _ = io.WriteString(w, "partial")
				w.(nethttp.Flusher).Flush()
			}
			<-r.Context().Done()
		}})
		return srv.URL
	}

	t.Run("WhileWaitingForHeaders", func(t *testing.T) {
		t.Parallel()

		res := run(t, http.New(http.Options{Client: newClient(t)}), nil,
			obj{"url": blockingServer(t, "headers"), "method": "GET", "timeout": "20ms"})
		require.ErrorContains(t, res.Err, "can't do HTTP request: ")
		require.ErrorContains(t, res.Err, "Client.Timeout exceeded")
		require.Equal(t, action.KindServer, action.KindOf(res.Err))
		require.Nil(t, res.Output)
		require.Nil(t, res.Metadata)
	})

	t.Run("WhileReadingBody", func(t *testing.T) {
		t.Parallel()

		res := run(t, http.New(http.Options{Client: newClient(t)}), nil,
			obj{"url": blockingServer(t, "body"), "method": "GET", "timeout": "50ms"})
		require.ErrorContains(t, res.Err, "can't read body: ")
		require.ErrorContains(t, res.Err, "Client.Timeout")
		require.Nil(t, res.Output)
		require.Nil(t, res.Metadata)
	})

	t.Run("ZeroDisablesTimeout", func(t *testing.T) {
		t.Parallel()

		srv := newServer(t, &recorder{})
		res := run(t, http.New(http.Options{Client: newClient(t)}), nil,
			obj{"url": srv.URL, "method": "GET", "timeout": "0s"})
		require.NoError(t, res.Err)
		require.Equal(t, "ok", res.Output)
	})
}

func TestRunContextCancellation(t *testing.T) {
	t.Parallel()

	arrived := make(chan struct{})
	srv := newServer(t, &recorder{respond: func(_ nethttp.ResponseWriter, r *nethttp.Request) {
		close(arrived)
		<-r.Context().Done()
	}})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan action.Result, 1)
	a := http.New(http.Options{Client: newClient(t)})
	go func() {
		done <- runContext(ctx, t, a, nil, obj{"url": srv.URL, "method": "GET", "timeout": "0s"})
	}()

	<-arrived
	cancel()
	res := <-done
	require.ErrorContains(t, res.Err, "can't do HTTP request: ")
	require.ErrorIs(t, res.Err, context.Canceled)
	require.Nil(t, res.Output)
	require.Nil(t, res.Metadata)
}

func TestRunTLS(t *testing.T) {
	t.Parallel()

	pki := newTestPKI(t)

	t.Run("RootCA", func(t *testing.T) {
		t.Parallel()

		rec := &recorder{}
		srv := pki.newTLSServer(t, rec, tls.NoClientCert, false)
		res := run(t, http.New(http.Options{}), nil, obj{"url": srv.URL + "/secure", "method": "GET", "root_ca": pki.caPEM})
		require.NoError(t, res.Err)
		require.Equal(t, "ok", res.Output)
		require.Len(t, rec.received(), 1)
	})

	t.Run("RootCAAddedToInjectedPool", func(t *testing.T) {
		t.Parallel()

		srv := pki.newTLSServer(t, &recorder{}, tls.NoClientCert, false)
		other := newTestPKI(t)
		transport := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: other.caPool, MinVersion: tls.VersionTLS12}}
		t.Cleanup(transport.CloseIdleConnections)
		a := http.New(http.Options{Client: &nethttp.Client{Transport: transport}})

		res := run(t, a, nil, obj{"url": srv.URL, "method": "GET", "root_ca": pki.caPEM})
		require.NoError(t, res.Err)
		res = run(t, a, nil, obj{"url": srv.URL, "method": "GET"})
		require.ErrorContains(t, res.Err, "certificate signed by unknown authority")
	})

	t.Run("UnknownAuthority", func(t *testing.T) {
		t.Parallel()

		rec := &recorder{}
		srv := pki.newTLSServer(t, rec, tls.NoClientCert, false)
		for _, insecure := range []string{"", "false"} {
			res := run(t, http.New(http.Options{}), nil, obj{"url": srv.URL, "method": "GET", "insecure_skip_verify": insecure})
			require.ErrorContains(t, res.Err, "can't do HTTP request: ")
			require.ErrorContains(t, res.Err, "certificate signed by unknown authority")
			require.Equal(t, action.KindServer, action.KindOf(res.Err))
			require.Nil(t, res.Metadata)
		}
		require.Empty(t, rec.received())
	})

	t.Run("InsecureSkipVerify", func(t *testing.T) {
		t.Parallel()

		srv := pki.newTLSServer(t, &recorder{}, tls.NoClientCert, false)
		res := run(t, http.New(http.Options{}), nil, obj{"url": srv.URL, "method": "GET", "insecure_skip_verify": "true"})
		require.NoError(t, res.Err)
		require.Equal(t, "ok", res.Output)
	})

	t.Run("HTTP2", func(t *testing.T) {
		t.Parallel()

		rec := &recorder{}
		srv := pki.newTLSServer(t, rec, tls.NoClientCert, true)
		res := run(t, http.New(http.Options{}), nil, obj{"url": srv.URL, "method": "GET", "root_ca": pki.caPEM})
		require.NoError(t, res.Err)
		got := rec.received()
		require.Len(t, got, 1)
		require.Equal(t, 2, got[0].ProtoMaj)
	})

	t.Run("MutualTLS", func(t *testing.T) {
		t.Parallel()

		rec := &recorder{}
		srv := pki.newTLSServer(t, rec, tls.RequireAndVerifyClientCert, false)
		res := run(t, http.New(http.Options{}), nil, obj{
			"url":     srv.URL + "/mtls",
			"method":  "POST",
			"body":    "payload",
			"root_ca": pki.caPEM,
			"auth": obj{
				"bearer":     "tok",
				"mutual_tls": obj{"client_cert": pki.clientCertPEM, "client_key": pki.clientKeyPEM},
			},
		})
		require.NoError(t, res.Err)
		got := rec.received()
		require.Len(t, got, 1)
		require.Equal(t, "utask-client", got[0].PeerCN)
		require.Equal(t, "Bearer tok", got[0].Header.Get("Authorization"))
		require.Equal(t, "payload", got[0].Body)
	})

	t.Run("MutualTLSRequired", func(t *testing.T) {
		t.Parallel()

		rec := &recorder{}
		srv := pki.newTLSServer(t, rec, tls.RequireAndVerifyClientCert, false)
		res := run(t, http.New(http.Options{}), nil, obj{"url": srv.URL, "method": "GET", "root_ca": pki.caPEM})
		require.ErrorContains(t, res.Err, "can't do HTTP request: ")
		require.ErrorContains(t, res.Err, "certificate required")
		require.Nil(t, res.Metadata)
		require.Empty(t, rec.received())
	})
}

func TestRunLogs(t *testing.T) {
	t.Parallel()

	srv := newServer(t, &recorder{})
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	res := http.New(http.Options{Client: newClient(t)}).Run(context.Background(), action.Request{
		StepName: "step",
		Config:   mustJSON(t, obj{"url": srv.URL + "/x?token=secret", "method": "GET"}),
		Logger:   logger,
	})
	require.NoError(t, res.Err)

	var record map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &record))
	require.Equal(t, "http: response received", record["msg"])
	require.Equal(t, "GET", record["method"])
	require.Equal(t, srv.Listener.Addr().String(), record["host"])
	require.InDelta(t, 200, record["status"], 0)
	require.InDelta(t, 2, record["body_bytes"], 0)
	require.NotContains(t, buf.String(), "secret")
}
