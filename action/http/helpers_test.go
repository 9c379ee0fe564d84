package http_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testPKI is a certificate authority with a server certificate for
// 127.0.0.1 and a client certificate, all generated for one test.
type testPKI struct {
	caPEM         string
	caPool        *x509.CertPool
	serverCert    tls.Certificate
	clientCertPEM string
	clientKeyPEM  string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "utask test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		template := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, template, caCert, &key.PublicKey, caKey)
		require.NoError(t, err)
		keyDER, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}

	serverCertPEM, serverKeyPEM := issue(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	serverCert, err := tls.X509KeyPair(serverCertPEM, serverKeyPEM)
	require.NoError(t, err)
	clientCertPEM, clientKeyPEM := issue(3, "utask-client", x509.ExtKeyUsageClientAuth, nil)

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testPKI{
		caPEM:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		caPool:        pool,
		serverCert:    serverCert,
		clientCertPEM: string(clientCertPEM),
		clientKeyPEM:  string(clientKeyPEM),
	}
}

// newTLSServer starts a TLS server on 127.0.0.1 with the PKI's server
// certificate; clientAuth decides whether it asks for a client certificate.
func (p *testPKI) newTLSServer(t *testing.T, handler nethttp.Handler, clientAuth tls.ClientAuthType, http2 bool) *httptest.Server {
	t.Helper()

	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = http2
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.serverCert},
		ClientAuth:   clientAuth,
		ClientCAs:    p.caPool,
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// receivedRequest is what a test server saw of one request.
type receivedRequest struct {
	Method   string
	Path     string
	RawQuery string
	Host     string
	Header   nethttp.Header
	Body     string
	ProtoMaj int
	PeerCN   string
}

// recorder is a handler that records every request and answers with respond.
type recorder struct {
	mu       sync.Mutex
	requests []receivedRequest
	respond  func(w nethttp.ResponseWriter, r *nethttp.Request)
}

func (rec *recorder) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	body, _ := io.ReadAll(r.Body)
	got := receivedRequest{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Host:     r.Host,
		Header:   r.Header.Clone(),
		Body:     string(body),
		ProtoMaj: r.ProtoMajor,
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		got.PeerCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	rec.mu.Lock()
	rec.requests = append(rec.requests, got)
	rec.mu.Unlock()

	if rec.respond != nil {
		rec.respond(w, r)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

// received returns the requests seen so far.
func (rec *recorder) received() []receivedRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]receivedRequest(nil), rec.requests...)
}

// newServer starts a plain HTTP server on 127.0.0.1 around handler.
func newServer(t *testing.T, handler nethttp.Handler) *httptest.Server {
	t.Helper()

	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client whose idle connections are closed when the
// test ends.
func newClient(t *testing.T) *nethttp.Client {
	t.Helper()

	transport := &nethttp.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &nethttp.Client{Transport: transport}
}

// run runs a with the JSON encoding of cfg (and of base unless nil).
func run(t *testing.T, a action.Action, base, cfg any) action.Result {
	t.Helper()

	return runContext(context.Background(), t, a, base, cfg)
}

func runContext(ctx context.Context, t *testing.T, a action.Action, base, cfg any) action.Result {
	t.Helper()

	req := action.Request{StepName: "step", Config: mustJSON(t, cfg)}
	if base != nil {
		req.BaseConfig = mustJSON(t, base)
	}
	return a.Run(ctx, req)
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()

	if s, ok := v.(string); ok {
		return json.RawMessage(s)
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

// obj is a shorthand for JSON objects in configurations.
type obj = map[string]any
