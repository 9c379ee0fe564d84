package http

import (
	"crypto/md5" //nolint:gosec // MD5 is one of the algorithms HTTP Digest defines
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// digestNonceCount is the nonce count sent: each challenge is answered once.
const digestNonceCount = "00000001"

// challenge is one authentication challenge of a WWW-Authenticate header:
// a scheme and its parameters (names lower-cased).
type challenge struct {
	scheme string
	params map[string]string
}

// digestChallenge is a Digest challenge this package can answer (RFC 7616).
type digestChallenge struct {
	realm     string
	nonce     string
	opaque    *string
	algorithm string // as sent by the server; empty means MD5
	newHash   func() hash.Hash
	session   bool // a "-sess" algorithm
	qopAuth   bool // qop=auth offered; false means the RFC 2069 form
	userhash  bool
}

// selectDigestChallenge returns the first Digest challenge among the
// WWW-Authenticate values whose algorithm and qop are supported.
func selectDigestChallenge(values []string) (*digestChallenge, error) {
	var reasons []string
	for _, ch := range parseChallenges(values) {
		if !strings.EqualFold(ch.scheme, "Digest") {
			continue
		}
		dc, err := newDigestChallenge(ch.params)
		if err == nil {
			return dc, nil
		}
		reasons = append(reasons, err.Error())
	}
	if len(reasons) == 0 {
		return nil, errors.New("digest auth: no Digest challenge in WWW-Authenticate")
	}
	return nil, fmt.Errorf("digest auth: no supported challenge: %s", strings.Join(reasons, "; "))
}

// newDigestChallenge checks the parameters of a Digest challenge.
func newDigestChallenge(params map[string]string) (*digestChallenge, error) {
	nonce, ok := params["nonce"]
	if !ok {
		return nil, errors.New("challenge without nonce")
	}
	dc := &digestChallenge{
		realm:     params["realm"],
		nonce:     nonce,
		algorithm: params["algorithm"],
		userhash:  strings.EqualFold(params["userhash"], "true"),
	}
	if opaque, ok := params["opaque"]; ok {
		dc.opaque = &opaque
	}

	switch strings.ToUpper(dc.algorithm) {
	case "", "MD5":
		dc.newHash = md5.New
	case "MD5-SESS":
		dc.newHash, dc.session = md5.New, true
	case "SHA-256":
		dc.newHash = sha256.New
	case "SHA-256-SESS":
		dc.newHash, dc.session = sha256.New, true
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", dc.algorithm)
	}

	if qop, ok := params["qop"]; ok {
		for _, option := range strings.Split(qop, ",") {
			if strings.EqualFold(strings.TrimSpace(option), "auth") {
				dc.qopAuth = true
			}
		}
		if !dc.qopAuth {
			return nil, fmt.Errorf("unsupported qop %q", qop)
		}
	}
	return dc, nil
}

// authorization returns the Authorization header value answering the
// challenge for a request of method on uri (its request-URI).
//
// TODO: user names that are not plain ASCII should be sent as username*
// (RFC 7616 §3.4.4) when the server announces charset=UTF-8; they are sent
// verbatim today, which servers may reject.
func (dc *digestChallenge) authorization(method, uri string, cred credentials, cnonce string) string {
	h := func(parts ...string) string {
		sum := dc.newHash()
		_, _ = sum.Write([]byte(strings.Join(parts, ":")))
		return hex.EncodeToString(sum.Sum(nil))
	}

	ha1 := h(cred.User, dc.realm, cred.Password)
	if dc.session {
		ha1 = h(ha1, dc.nonce, cnonce)
	}
	ha2 := h(method, uri)
	var response string
	if dc.qopAuth {
		response = h(ha1, dc.nonce, digestNonceCount, cnonce, "auth", ha2)
	} else {
		response = h(ha1, dc.nonce, ha2)
	}

	username := cred.User
	if dc.userhash {
		username = h(cred.User, dc.realm)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Digest username=%s, realm=%s, nonce=%s, uri=%s",
		quote(username), quote(dc.realm), quote(dc.nonce), quote(uri))
	if dc.algorithm != "" {
		fmt.Fprintf(&b, ", algorithm=%s", dc.algorithm)
	}
	fmt.Fprintf(&b, ", response=%s", quote(response))
	if dc.qopAuth {
		fmt.Fprintf(&b, ", qop=auth, nc=%s, cnonce=%s", digestNonceCount, quote(cnonce))
	}
	if dc.opaque != nil {
		fmt.Fprintf(&b, ", opaque=%s", quote(*dc.opaque))
	}
	if dc.userhash {
		b.WriteString(", userhash=true")
	}
	return b.String()
}

// newCnonce returns a fresh client nonce.
func newCnonce() string {
	buf := make([]byte, 16)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails; it aborts the program instead
	return hex.EncodeToString(buf)
}

// quote returns s as an HTTP quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// parseChallenges parses WWW-Authenticate values into challenges. Malformed
// parts are skipped.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		l := lexer{s: v}
		for {
			l.skip(", \t")
			if l.done() {
				break
			}
			name := l.token()
			if name == "" {
				l.skipPast(',')
				continue
			}
			l.skip(" \t")
			if l.peek() != '=' || len(out) == 0 {
				out = append(out, challenge{scheme: name, params: map[string]string{}})
				continue
			}
			l.pos++ // '='
			l.skip(" \t")
			var value string
			if l.peek() == '"' {
				value = l.quoted()
			} else {
				value = l.token()
			}
			out[len(out)-1].params[strings.ToLower(name)] = value
		}
	}
	return out
}

// lexer reads the tokens and quoted strings of an HTTP header value.
type lexer struct {
	s   string
	pos int
}

func (l *lexer) done() bool { return l.pos >= len(l.s) }

func (l *lexer) peek() byte {
	if l.done() {
		return 0
	}
	return l.s[l.pos]
}

// skip advances past any of the bytes in set.
func (l *lexer) skip(set string) {
	for !l.done() && strings.IndexByte(set, l.s[l.pos]) >= 0 {
		l.pos++
	}
}

// skipPast advances past the next c, or to the end; it always advances.
func (l *lexer) skipPast(c byte) {
	if i := strings.IndexByte(l.s[l.pos:], c); i >= 0 {
		l.pos += i + 1
		return
	}
	l.pos = len(l.s)
}

// token reads an RFC 9110 token.
func (l *lexer) token() string {
	start := l.pos
	for !l.done() && isTokenChar(l.s[l.pos]) {
		l.pos++
	}
	return l.s[start:l.pos]
}

// quoted reads a quoted-string starting at the opening quote and returns it
// unescaped. An unterminated string runs to the end of the value.
func (l *lexer) quoted() string {
	l.pos++ // opening quote
	var b strings.Builder
	for !l.done() {
		c := l.s[l.pos]
		l.pos++
		switch {
		case c == '"':
			return b.String()
		case c == '\\' && !l.done():
			b.WriteByte(l.s[l.pos])
			l.pos++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	default:
		return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
	}
}
