package ssh_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"
)

// testServer is an SSH server on 127.0.0.1 whose sessions run fakeShell.
type testServer struct {
	addr    string
	hostKey gossh.Signer
	// bastion makes the server treat the command as an onward route and
	// run its standard input as the script.
	bastion bool

	listener net.Listener
	wg       sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
	runs  []serverRun
}

// serverRun is what the server received for one command.
type serverRun struct {
	user    string
	command string
	stdin   string
}

// newServer starts a server that accepts the holders of authorized.
func newServer(t *testing.T, authorized gossh.PublicKey, bastion bool) *testServer {
	t.Helper()

	s := &testServer{hostKey: newSigner(t), bastion: bastion}
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(_ gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if string(key.Marshal()) == string(authorized.Marshal()) {
				return &gossh.Permissions{}, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(s.hostKey)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.listener, s.addr = l, l.Addr().String()
	s.wg.Go(func() { s.accept(cfg) })
	t.Cleanup(s.close)
	return s
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()

	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := gossh.NewSignerFromKey(key)
	require.NoError(t, err)
	return signer
}

func (s *testServer) close() {
	_ = s.listener.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testServer) recorded() []serverRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]serverRun(nil), s.runs...)
}

func (s *testServer) accept(cfg *gossh.ServerConfig) {
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(conn, cfg) })
	}
}

func (s *testServer) serve(conn net.Conn, cfg *gossh.ServerConfig) {
	defer func() { _ = conn.Close() }()
	sc, chans, reqs, err := gossh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	s.wg.Go(func() { gossh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(gossh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		s.wg.Go(func() { s.session(sc.User(), ch, chReqs) })
	}
}

// session waits for the exec request, then runs the fake shell, forwarding
// signal requests to it.
func (s *testServer) session(user string, ch gossh.Channel, reqs <-chan *gossh.Request) {
	defer func() { _ = ch.Close() }()

	var command string
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := gossh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		command = payload.Command
		_ = req.Reply(true, nil)
		break
	}

	signals := make(chan string, 1)
	gone := make(chan struct{})
	s.wg.Go(func() {
		defer close(gone)
		for req := range reqs {
			if req.Type == "signal" {
				var payload struct{ Signal string }
				if gossh.Unmarshal(req.Payload, &payload) == nil {
					select {
					case signals <- payload.Signal:
					default:
					}
				}
			}
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	})

	stdin, _ := io.ReadAll(ch)
	s.mu.Lock()
	s.runs = append(s.runs, serverRun{user: user, command: command, stdin: string(stdin)})
	s.mu.Unlock()

	script := command
	if s.bastion {
		script = string(stdin)
	}
	sh := &fakeShell{stdout: ch, stderr: ch.Stderr(), signals: signals, gone: gone, vars: map[string]string{}}
	end := sh.run(script)
	switch {
	case end.closeOnly:
	case end.signal != "":
		_, _ = ch.SendRequest("exit-signal", false, gossh.Marshal(struct {
			Signal string
			Core   bool
			Msg    string
			Lang   string
		}{end.signal, false, end.msg, ""}))
	default:
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, uint32(end.status)) //nolint:gosec // test codes are small
		_, _ = ch.SendRequest("exit-status", false, status)
	}
}

// fakeShell interprets, one line at a time, the few shell forms the tests
// and the auto-result trailer use:
//
//	NAME=value             assignment (value may be double-quoted)
//	echo words... [>&2]    print a line, to stderr with >&2
//	printf '%s' "text"     print without a newline
//	printf '%s' "text" | sed -z 's/\n/\\n/g'   same, newlines as \n
//	function NAME {        define a function, up to a line "}"
//	trap NAME EXIT         run NAME when the script ends
//	exit N                 end with status N
//	sleep                  block until a signal arrives or the client leaves
//	kill SIGNAL            end as killed by SIGNAL
//	hangup                 close the channel without status
//
// Double-quoted text expands $NAME and \" ; single-quoted text is literal.
type fakeShell struct {
	stdout, stderr io.Writer
	signals        <-chan string
	gone           <-chan struct{}
	vars           map[string]string
	funcs          map[string][]string
	trap           string
}

// shellEnd is how a fake shell run ended.
type shellEnd struct {
	status    int
	signal    string
	msg       string
	closeOnly bool
}

var (
	assignRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)                                //nolint:gochecknoglobals // test table
	varRe    = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)                                     //nolint:gochecknoglobals // test table
	printfRe = regexp.MustCompile(`^printf '%s' "((?:[^"\\]|\\.)*)"( \| sed -z 's/\\n/\\\\n/g')?$`) //nolint:gochecknoglobals,lll // test table
)

func (sh *fakeShell) run(script string) shellEnd {
	end, ended := sh.lines(strings.Split(script, "\n"))
	if !ended {
		end = shellEnd{}
	}
	if end.signal == "" && !end.closeOnly && sh.trap != "" {
		body := sh.funcs[sh.trap]
		sh.trap = ""
		_, _ = sh.lines(body)
	}
	return end
}

// lines runs lines and reports whether one of them ended the script.
func (sh *fakeShell) lines(lines []string) (shellEnd, bool) {
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
		case strings.HasPrefix(line, "function ") && strings.HasSuffix(line, " {"):
			name := strings.TrimSuffix(strings.TrimPrefix(line, "function "), " {")
			var body []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "}"; i++ {
				body = append(body, lines[i])
			}
			if sh.funcs == nil {
				sh.funcs = map[string][]string{}
			}
			sh.funcs[name] = body
		case strings.HasPrefix(line, "trap ") && strings.HasSuffix(line, " EXIT"):
			sh.trap = strings.TrimSuffix(strings.TrimPrefix(line, "trap "), " EXIT")
		case strings.HasPrefix(line, "echo "):
			text, toErr := strings.CutSuffix(strings.TrimPrefix(line, "echo "), " >&2")
			w := sh.stdout
			if toErr {
				w = sh.stderr
			}
			_, _ = fmt.Fprintln(w, sh.word(text))
		case printfRe.MatchString(line):
			m := printfRe.FindStringSubmatch(line)
			text := sh.expand(m[1])
			if m[2] != "" {
				text = strings.ReplaceAll(text, "\n", `\n`)
			}
			_, _ = io.WriteString(sh.stdout, text)
		case strings.HasPrefix(line, "exit "):
			code, _ := strconv.Atoi(strings.TrimPrefix(line, "exit "))
			return shellEnd{status: code}, true
		case line == "sleep":
			select {
			case sig := <-sh.signals:
				return shellEnd{signal: sig, msg: "killed on request"}, true
			case <-sh.gone:
				return shellEnd{closeOnly: true}, true
			case <-time.After(time.Minute):
				return shellEnd{status: 99}, true
			}
		case strings.HasPrefix(line, "kill "):
			return shellEnd{signal: strings.TrimPrefix(line, "kill "), msg: "killed by the script"}, true
		case line == "hangup":
			return shellEnd{closeOnly: true}, true
		case assignRe.MatchString(line):
			m := assignRe.FindStringSubmatch(line)
			sh.vars[m[1]] = sh.word(m[2])
		default:
			_, _ = fmt.Fprintf(sh.stderr, "fake shell: %s: command not found\n", line)
			return shellEnd{status: 127}, true
		}
	}
	return shellEnd{}, false
}

// word returns text unquoted and expanded like one shell word.
func (sh *fakeShell) word(text string) string {
	switch {
	case len(text) >= 2 && text[0] == '\'' && text[len(text)-1] == '\'':
		return text[1 : len(text)-1]
	case len(text) >= 2 && text[0] == '"' && text[len(text)-1] == '"':
		return sh.expand(text[1 : len(text)-1])
	default:
		return sh.expand(text)
	}
}

// expand replaces $NAME by the variable's value and \" by ".
func (sh *fakeShell) expand(text string) string {
	text = varRe.ReplaceAllStringFunc(text, func(v string) string { return sh.vars[v[1:]] })
	return strings.ReplaceAll(text, `\"`, `"`)
}
