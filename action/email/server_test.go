package email_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // CRAM-MD5 is what the test server checks
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Credentials the test server accepts.
const (
	testUser     = "robot"
	testPassword = "p4ss w0rd"
)

// serverOptions shapes a test server.
type serverOptions struct {
	// auth lists the advertised AUTH mechanisms; none when empty.
	auth []string
	// startTLS advertises STARTTLS.
	startTLS bool
	// implicitTLS speaks TLS from the first byte.
	implicitTLS bool
	// stall makes the server accept connections and never greet.
	stall bool
}

// smtpServer is a minimal SMTP server on 127.0.0.1 that records what it
// receives.
type smtpServer struct {
	addr string
	cert *x509.Certificate
	opts serverOptions
	tls  *tls.Config

	listener net.Listener
	wg       sync.WaitGroup

	mu       sync.Mutex
	conns    []net.Conn
	sessions []*smtpSession
}

// smtpSession is what one connection carried.
type smtpSession struct {
	commands []string // as received, AUTH payloads included
	tls      bool     // the session ended encrypted
	authMech string   // the mechanism that succeeded
	from     string
	rcpts    []string
	data     string
}

// newSMTPServer starts a server; its certificate names 127.0.0.1 and
// mail.example.test.
func newSMTPServer(t *testing.T, opts serverOptions) *smtpServer {
	t.Helper()

	s := &smtpServer{opts: opts}
	s.tls, s.cert = selfSigned(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if opts.implicitTLS {
		l = tls.NewListener(l, s.tls)
	}
	s.listener, s.addr = l, l.Addr().String()
	s.wg.Go(s.accept)
	t.Cleanup(s.close)
	return s
}

func selfSigned(t *testing.T) (*tls.Config, *x509.Certificate) {
	t.Helper()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"mail.example.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, cert
}

func (s *smtpServer) close() {
	_ = s.listener.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// recorded returns the sessions seen so far.
func (s *smtpServer) recorded() []smtpSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]smtpSession, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, *sess)
	}
	return out
}

func (s *smtpServer) accept() {
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		sess := &smtpSession{tls: s.opts.implicitTLS}
		s.sessions = append(s.sessions, sess)
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() { _ = conn.Close() }()
			if s.opts.stall {
				_, _ = conn.Read(make([]byte, 1)) // until the client leaves
				return
			}
			s.serve(conn, sess)
		})
	}
}

// serve speaks SMTP on conn; every change to sess is made under s.mu.
func (s *smtpServer) serve(conn net.Conn, sess *smtpSession) {
	r := bufio.NewReader(conn)
	reply := func(lines ...string) {
		_, _ = fmt.Fprint(conn, strings.Join(lines, "\r\n")+"\r\n")
	}
	readLine := func() (string, bool) {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", false
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		sess.commands = append(sess.commands, line)
		s.mu.Unlock()
		return line, true
	}
	reply("220 test.smtp ESMTP ready")
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"250-test.smtp greets " + arg}
			if s.opts.startTLS && !sess.tls {
				lines = append(lines, "250-STARTTLS")
			}
			if len(s.opts.auth) > 0 {
				lines = append(lines, "250-AUTH "+strings.Join(s.opts.auth, " "))
			}
			reply(append(lines, "250 8BITMIME")...)
		case "STARTTLS":
			reply("220 go ahead")
			tc := tls.Server(conn, s.tls)
			if tc.Handshake() != nil {
				return
			}
			conn, r = tc, bufio.NewReader(tc)
			s.mu.Lock()
			sess.tls = true
			s.mu.Unlock()
		case "AUTH":
			mech, ok := s.auth(arg, reply, readLine)
			if !ok {
				reply("535 authentication failed")
				continue
			}
			s.mu.Lock()
			sess.authMech = mech
			s.mu.Unlock()
			reply("235 authenticated")
		case "MAIL":
			s.mu.Lock()
			sess.from = arg
			s.mu.Unlock()
			reply("250 ok")
		case "RCPT":
			if strings.Contains(arg, "reject") {
				reply("550 no such user")
				continue
			}
			s.mu.Lock()
			sess.rcpts = append(sess.rcpts, arg)
			s.mu.Unlock()
			reply("250 ok")
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			sess.data = data.String()
			s.mu.Unlock()
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// auth runs one AUTH exchange and returns the mechanism if the test
// credentials were given.
func (s *smtpServer) auth(arg string, reply func(...string), readLine func() (string, bool)) (string, bool) {
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	challenge := func(text string) (string, bool) {
		reply("334 " + base64.StdEncoding.EncodeToString([]byte(text)))
		line, ok := readLine()
		if !ok {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(line)
		return string(b), err == nil
	}
	switch mech {
	case "PLAIN":
		var payload string
		if initial != "" {
			b, err := base64.StdEncoding.DecodeString(initial)
			if err != nil {
				return "", false
			}
			payload = string(b)
		} else {
			var ok bool
			if payload, ok = challenge(""); !ok {
				return "", false
			}
		}
		return mech, payload == "\x00"+testUser+"\x00"+testPassword
	case "LOGIN":
		user, ok := challenge("Username:")
		if !ok {
			return "", false
		}
		pass, ok := challenge("Password:")
		return mech, ok && user == testUser && pass == testPassword
	case "CRAM-MD5":
		nonce := "<1896.697170952@test.smtp>"
		answer, ok := challenge(nonce)
		if !ok {
			return "", false
		}
		mac := hmac.New(md5.New, []byte(testPassword))
		mac.Write([]byte(nonce))
		return mech, answer == testUser+" "+hex.EncodeToString(mac.Sum(nil))
	default:
		return "", false
	}
}
