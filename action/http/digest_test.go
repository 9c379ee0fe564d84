package http_test

import (
	"crypto/md5" //nolint:gosec // the server under test speaks MD5 digest
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	nethttp "net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/http"
)

const (
	digestUser     = "alice"
	digestPassword = "s3cr3t:pw"
	digestRealm    = "api@utask"
	digestNonce    = "0c2d9f1e8b7a6554433221100ffeeddcc"
	digestOpaque   = "op-aque"
)

// digestParam matches one auth-param of an Authorization header.
var digestParam = regexp.MustCompile(`([a-zA-Z0-9*]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))`) //nolint:gochecknoglobals // compiled once for all tests

// digestServer is a test server protected by HTTP Digest. It checks the
// Authorization header of the second request itself.
type digestServer struct {
	challenges []string // WWW-Authenticate values of the 401
	session    bool     // the challenge asks for a -sess algorithm
	userhash   bool     // the challenge asks for a hashed user name
	expectQop  bool     // the answer must use qop=auth
	requests   atomic.Int32
	firstAuth  atomic.Value // Authorization of the first request
	lastBody   atomic.Value
}

func (s *digestServer) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	n := s.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	s.lastBody.Store(string(body))
	authorization := r.Header.Get("Authorization")
	if n == 1 {
		s.firstAuth.Store(authorization)
	}
	if authorization == "" {
		for _, c := range s.challenges {
			w.Header().Add("WWW-Authenticate", c)
		}
		w.WriteHeader(nethttp.StatusUnauthorized)
		_, _ = io.WriteString(w, "auth required")
		return
	}
	if err := s.check(r.Method, r.URL.RequestURI(), authorization); err != nil {
		w.WriteHeader(nethttp.StatusUnauthorized)
		_, _ = io.WriteString(w, "denied: "+err.Error())
		return
	}
	_, _ = io.WriteString(w, "welcome "+string(body))
}

// check verifies a Digest Authorization header against the known password.
func (s *digestServer) check(method, uri, authorization string) error {
	rest, ok := strings.CutPrefix(authorization, "Digest ")
	if !ok {
		return fmt.Errorf("not a digest answer: %q", authorization)
	}
	p := map[string]string{}
	for _, m := range digestParam.FindAllStringSubmatch(rest, -1) {
		p[m[1]] = m[2] + m[3]
	}

	var newHash func() hash.Hash
	switch strings.TrimSuffix(p["algorithm"], "-sess") {
	case "", "MD5":
		newHash = md5.New
	case "SHA-256":
		newHash = sha256.New
	default:
		return fmt.Errorf("unexpected algorithm %q", p["algorithm"])
	}
	h := func(s string) string {
		sum := newHash()
		sum.Write([]byte(s))
		return hex.EncodeToString(sum.Sum(nil))
	}

	wantUser := digestUser
	if s.userhash {
		wantUser = h(digestUser + ":" + digestRealm)
		if p["userhash"] != "true" {
			return fmt.Errorf("userhash=%q", p["userhash"])
		}
	}
	switch {
	case p["username"] != wantUser:
		return fmt.Errorf("username %q", p["username"])
	case p["realm"] != digestRealm:
		return fmt.Errorf("realm %q", p["realm"])
	case p["nonce"] != digestNonce:
		return fmt.Errorf("nonce %q", p["nonce"])
	case p["uri"] != uri:
		return fmt.Errorf("uri %q, want %q", p["uri"], uri)
	case strings.Contains(strings.Join(s.challenges, ","), "opaque") && p["opaque"] != digestOpaque:
		return fmt.Errorf("opaque %q", p["opaque"])
	}

	ha1 := h(digestUser + ":" + digestRealm + ":" + digestPassword)
	if s.session {
		ha1 = h(ha1 + ":" + digestNonce + ":" + p["cnonce"])
	}
	ha2 := h(method + ":" + uri)
	var want string
	if s.expectQop {
		if p["qop"] != "auth" || p["nc"] != "00000001" || p["cnonce"] == "" {
			return fmt.Errorf("qop=%q nc=%q cnonce=%q", p["qop"], p["nc"], p["cnonce"])
		}
		want = h(ha1 + ":" + digestNonce + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	} else {
		if _, ok := p["qop"]; ok {
			return fmt.Errorf("qop sent to a server that offered none")
		}
		want = h(ha1 + ":" + digestNonce + ":" + ha2)
	}
	if p["response"] != want {
		return errors.New("wrong response")
	}
	return nil
}

func TestRunDigest(t *testing.T) {
	t.Parallel()

	challenge := func(extra string) string {
		return fmt.Sprintf(`Digest realm=%q, nonce=%q, opaque=%q%s`, digestRealm, digestNonce, digestOpaque, extra)
	}
	tests := []struct {
		name     string
		server   *digestServer
		password string
	}{
		{name: "SHA256", server: &digestServer{challenges: []string{challenge(`, qop="auth", algorithm=SHA-256`)}, expectQop: true}},
		{name: "MD5", server: &digestServer{challenges: []string{challenge(`, qop="auth,auth-int"`)}, expectQop: true}},
		{name: "MD5Explicit", server: &digestServer{challenges: []string{challenge(`, qop=auth, algorithm=MD5`)}, expectQop: true}},
		{name: "MD5Session", server: &digestServer{challenges: []string{challenge(`, qop=auth, algorithm=MD5-sess`)}, session: true, expectQop: true}},
		{name: "SHA256Session", server: &digestServer{challenges: []string{challenge(`, qop=auth, algorithm=SHA-256-sess`)}, session: true, expectQop: true}},
		{name: "WithoutQop", server: &digestServer{challenges: []string{challenge(``)}}},
		{name: "Userhash", server: &digestServer{challenges: []string{challenge(`, qop=auth, algorithm=SHA-256, userhash=true`)}, userhash: true, expectQop: true}},
		{
			name: "PreferredChallengeFirst",
			server: &digestServer{
				challenges: []string{`Basic realm="other"`, challenge(`, qop=auth, algorithm=SHA-256`), challenge(`, qop=auth, algorithm=MD5`)},
				expectQop:  true,
			},
		},
		{
			name: "ChallengesInOneHeader",
			server: &digestServer{
				challenges: []string{`Basic realm="other", ` + challenge(`, qop="auth", algorithm=SHA-256`)},
				expectQop:  true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := newServer(t, tt.server)
			res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{
				"url":              srv.URL + "/protected/res?b=2&a=1",
				"method":           "POST",
				"body":             "payload",
				"query_parameters": []obj{{"name": "c", "value": "3 4"}},
				"auth":             obj{"digest": obj{"user": digestUser, "password": digestPassword}},
			})
			require.NoError(t, res.Err)
			require.Equal(t, "welcome payload", res.Output)
			require.Equal(t, 200, res.Metadata.(map[string]any)["HTTPStatus"])
			require.Equal(t, int32(2), tt.server.requests.Load())
			require.Empty(t, tt.server.firstAuth.Load())
			require.Equal(t, "payload", tt.server.lastBody.Load())
		})
	}

	t.Run("WrongPassword", func(t *testing.T) {
		t.Parallel()

		server := &digestServer{challenges: []string{challenge(`, qop=auth, algorithm=SHA-256`)}, expectQop: true}
		srv := newServer(t, server)
		res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{
			"url":    srv.URL + "/p",
			"method": "GET",
			"auth":   obj{"digest": obj{"user": digestUser, "password": "wrong"}},
		})
		require.EqualError(t, res.Err, "Client error: failed api request: 401: denied: wrong response")
		require.Equal(t, "denied: wrong response", res.Output)
		require.Equal(t, action.KindClient, action.KindOf(res.Err))
		require.Equal(t, 401, res.Metadata.(map[string]any)["HTTPStatus"])
		require.Equal(t, int32(2), server.requests.Load())
	})

	t.Run("NoChallengeNeeded", func(t *testing.T) {
		t.Parallel()

		rec := &recorder{}
		srv := newServer(t, rec)
		res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{
			"url":    srv.URL,
			"method": "GET",
			"auth":   obj{"digest": obj{"user": digestUser, "password": digestPassword}},
		})
		require.NoError(t, res.Err)
		got := rec.received()
		require.Len(t, got, 1)
		require.Empty(t, got[0].Header.Get("Authorization"))
	})

	failures := []struct {
		name       string
		challenges []string
		wantErr    string
	}{
		{name: "NoWWWAuthenticate", wantErr: "can't do HTTP request: digest auth: 401 response without WWW-Authenticate header"},
		{name: "OnlyBasic", challenges: []string{`Basic realm="x"`}, wantErr: "can't do HTTP request: digest auth: no Digest challenge in WWW-Authenticate"},
		{
			name:       "UnsupportedAlgorithm",
			challenges: []string{challenge(`, qop=auth, algorithm=SHA-512-256`)},
			wantErr:    `can't do HTTP request: digest auth: no supported challenge: unsupported algorithm "SHA-512-256"`,
		},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			server := &digestServer{challenges: tt.challenges}
			srv := newServer(t, server)
			res := run(t, http.New(http.Options{Client: newClient(t)}), nil, obj{
				"url":    srv.URL,
				"method": "GET",
				"auth":   obj{"digest": obj{"user": digestUser, "password": digestPassword}},
			})
			require.EqualError(t, res.Err, tt.wantErr)
			require.Equal(t, action.KindServer, action.KindOf(res.Err))
			require.Nil(t, res.Output)
			require.Nil(t, res.Metadata)
			require.Equal(t, int32(1), server.requests.Load())
		})
	}
}
