package http

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDigestAuthorizationVectors checks the worked examples of RFC 7616
// §3.9.1 and RFC 2617 §3.5.
func TestDigestAuthorizationVectors(t *testing.T) {
	t.Parallel()

	rfc7616 := func(algorithm string) []string {
		return []string{`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=` + algorithm +
			`, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`}
	}
	tests := []struct {
		name       string
		challenges []string
		cred       credentials
		cnonce     string
		want       string
	}{
		{
			name:       "RFC7616SHA256",
			challenges: rfc7616("SHA-256"),
			cred:       credentials{User: "Mufasa", Password: "Circle of Life"},
			cnonce:     "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			want: `Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ` +
				`uri="/dir/index.html", algorithm=SHA-256, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", ` +
				`qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
		},
		{
			name:       "RFC7616MD5",
			challenges: rfc7616("MD5"),
			cred:       credentials{User: "Mufasa", Password: "Circle of Life"},
			cnonce:     "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
			want: `Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", ` +
				`uri="/dir/index.html", algorithm=MD5, response="8ca523f5e9506fed4657c9700eebdbec", ` +
				`qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
		},
		{
			name: "RFC2617",
			challenges: []string{`Digest realm="testrealm@host.com", qop="auth,auth-int", ` +
				`nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`},
			cred:   credentials{User: "Mufasa", Password: "Circle Of Life"},
			cnonce: "0a4f113b",
			want: `Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ` +
				`uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", ` +
				`opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ch, err := selectDigestChallenge(tt.challenges)
			require.NoError(t, err)
			require.Equal(t, tt.want, ch.authorization("GET", "/dir/index.html", tt.cred, tt.cnonce))
		})
	}
}

func TestParseChallenges(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		values []string
		want   []challenge
	}{
		{
			name:   "SeveralChallengesInOneValue",
			values: []string{`Basic realm="simple", Digest realm="a, \"b\"", nonce=abc, QOP="auth" , Negotiate`},
			want: []challenge{
				{scheme: "Basic", params: map[string]string{"realm": "simple"}},
				{scheme: "Digest", params: map[string]string{"realm": `a, "b"`, "nonce": "abc", "qop": "auth"}},
				{scheme: "Negotiate", params: map[string]string{}},
			},
		},
		{
			name:   "SeveralValues",
			values: []string{`Digest nonce="1", algorithm=SHA-256`, `Digest nonce = "2"`},
			want: []challenge{
				{scheme: "Digest", params: map[string]string{"nonce": "1", "algorithm": "SHA-256"}},
				{scheme: "Digest", params: map[string]string{"nonce": "2"}},
			},
		},
		{
			name:   "Token68AndGarbage",
			values: []string{`Bearer abc==, @@@, Digest nonce="unterminated`},
			want: []challenge{
				{scheme: "Bearer", params: map[string]string{"abc": ""}},
				{scheme: "Digest", params: map[string]string{"nonce": "unterminated"}},
			},
		},
		{name: "Empty", values: []string{"", " , "}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, parseChallenges(tt.values))
		})
	}
}

func TestSelectDigestChallenge(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		values        []string
		wantAlgorithm string
		wantSession   bool
		wantQopAuth   bool
		wantErr       string
	}{
		{name: "FirstSupportedWins", values: []string{`Digest nonce="n", algorithm=SHA-256, qop=auth`, `Digest nonce="n", algorithm=MD5`}, wantAlgorithm: "SHA-256", wantQopAuth: true},
		{name: "SkipsUnsupported", values: []string{`Digest nonce="n", algorithm=SHA-512-256`, `Digest nonce="n", algorithm=md5-sess, qop="auth-int,auth"`}, wantAlgorithm: "md5-sess", wantSession: true, wantQopAuth: true},
		{name: "DefaultAlgorithm", values: []string{`Basic realm="x"`, `digest nonce="n"`}},
		{name: "SHA256Session", values: []string{`Digest nonce="n", algorithm=SHA-256-sess`}, wantAlgorithm: "SHA-256-sess", wantSession: true},
		{name: "NoDigest", values: []string{`Basic realm="x"`}, wantErr: "digest auth: no Digest challenge in WWW-Authenticate"},
		{name: "NoNonce", values: []string{`Digest realm="x"`}, wantErr: "digest auth: no supported challenge: challenge without nonce"},
		{
			name:    "OnlyAuthInt",
			values:  []string{`Digest nonce="n", qop="auth-int"`, `Digest nonce="n", algorithm=SHA-512`},
			wantErr: `digest auth: no supported challenge: unsupported qop "auth-int"; unsupported algorithm "SHA-512"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ch, err := selectDigestChallenge(tt.values)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantAlgorithm, ch.algorithm)
			require.Equal(t, tt.wantSession, ch.session)
			require.Equal(t, tt.wantQopAuth, ch.qopAuth)
		})
	}
}

func TestNewCnonce(t *testing.T) {
	t.Parallel()

	a, b := newCnonce(), newCnonce()
	require.Len(t, a, 32)
	require.NotEqual(t, a, b)
}
