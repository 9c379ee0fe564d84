package http

import (
	"context"
	"encoding/json"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
)

// proxyChildEnv marks the child process of TestDefaultClientUsesProxyEnvironment.
const proxyChildEnv = "UTASK_HTTP_PROXY_TEST_CHILD"

// TestDefaultClientUsesProxyEnvironment checks that the default client
// follows HTTP_PROXY, HTTPS_PROXY and NO_PROXY. The standard library reads
// those variables once per process, so the checks run in a child process
// started with a controlled environment; its HTTP proxy is a loopback test
// server that answers itself and forwards nothing.
func TestDefaultClientUsesProxyEnvironment(t *testing.T) {
	t.Parallel()

	if os.Getenv(proxyChildEnv) == "1" {
		checkProxyEnvironment(t)
		return
	}

	proxy := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		// A request sent to a proxy carries the absolute target URL.
		_, _ = io.WriteString(w, "proxied "+r.URL.String())
	}))
	t.Cleanup(proxy.Close)

	env := []string{
		proxyChildEnv + "=1",
		"HTTP_PROXY=" + proxy.URL,
		"HTTPS_PROXY=http://127.0.0.1:9",
		"NO_PROXY=direct.invalid",
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUEST_METHOD", proxyChildEnv:
		default:
			env = append(env, kv)
		}
	}
	cmd := exec.CommandContext(context.Background(), os.Args[0], //nolint:gosec // re-runs this test binary
		"-test.run=^TestDefaultClientUsesProxyEnvironment$", "-test.count=1", "-test.v")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "--- PASS: TestDefaultClientUsesProxyEnvironment")
}

// checkProxyEnvironment runs in the child process.
func checkProxyEnvironment(t *testing.T) {
	t.Helper()

	a, ok := New(Options{}).(*httpAction)
	require.True(t, ok)
	transport, ok := a.client.Transport.(*nethttp.Transport)
	require.True(t, ok)

	proxyFor := func(target string) string {
		req, err := nethttp.NewRequest(nethttp.MethodGet, target, nil)
		require.NoError(t, err)
		u, err := transport.Proxy(req)
		require.NoError(t, err)
		if u == nil {
			return ""
		}
		return u.String()
	}
	httpProxy := os.Getenv("HTTP_PROXY")
	require.Equal(t, httpProxy, proxyFor("http://service.invalid/x"))
	require.Equal(t, "http://127.0.0.1:9", proxyFor("https://service.invalid/x"))
	require.Empty(t, proxyFor("http://direct.invalid/x"))

	// The proxy is now known to be the loopback test server: a request to
	// a name that exists nowhere reaches it and nothing else.
	res := a.Run(context.Background(), action.Request{
		Config: json.RawMessage(`{"url": "http://service.invalid/path?q=1", "method": "GET"}`),
	})
	require.NoError(t, res.Err)
	require.Equal(t, "proxied http://service.invalid/path?q=1", res.Output)
	transport.CloseIdleConnections()
}
