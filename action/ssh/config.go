package ssh

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/utask/utask/action/internal/procout"
)

// defaultTimeout bounds the command when the timeout field is empty.
const defaultTimeout = 5 * time.Minute

// maxHops is the largest number of bastions a step may go through.
const maxHops = 10

// defaultPort is appended to an address without a port.
const defaultPort = "22"

// Output modes accepted by the output_mode field.
const (
	// ModeAutoResult prints the result expressions as a JSON object when
	// the remote shell exits, and reads the output from that last line.
	ModeAutoResult = "auto-result"
	// ModeLastLine reads the output from the last line the script printed.
	ModeLastLine = "manual-lastline"
	// ModeDelimiters reads the output between two regular expressions.
	ModeDelimiters = "manual-delimiters"
	// ModeDisabled ignores what the script printed: the output is {}.
	ModeDisabled = "disabled"
)

// config is the configuration of one ssh step.
type config struct {
	// User is the login name on the first host contacted.
	User string `json:"user"`
	// Target is the final host, "host" or "host:port".
	Target string `json:"target"`
	// Hops are the bastions, in order, between this process and Target.
	Hops []string `json:"hops"`
	// Script holds the shell commands.
	Script string `json:"script"`
	// SSHKey is the PEM private key.
	SSHKey string `json:"ssh_key"`
	// SSHKeyPassphrase decrypts SSHKey when it is encrypted.
	SSHKeyPassphrase string `json:"ssh_key_passphrase"`
	// OutputMode is one of the Mode constants; empty means ModeAutoResult.
	OutputMode string `json:"output_mode"`
	// Result maps output keys to shell expressions (ModeAutoResult).
	Result map[string]string `json:"result"`
	// OutputManualDelimiters holds the start and end regular expressions
	// of ModeDelimiters.
	OutputManualDelimiters []string `json:"output_manual_delimiters"`
	// ExitCodesUnrecoverable lists the exit codes ("3") and ranges
	// ("10-19") that make the step a client error.
	ExitCodesUnrecoverable []string `json:"exit_codes_unrecoverable"`
	// Timeout is a Go duration bounding the command; empty means
	// defaultTimeout.
	Timeout string `json:"timeout"`
	// HostKey pins the host key of the first host contacted: one or more
	// public keys in authorized_keys format, one a line.
	HostKey string `json:"host_key"`
	// InsecureIgnoreHostKey is a string boolean; "true" accepts any host
	// key. Defaults to false.
	InsecureIgnoreHostKey string `json:"insecure_ignore_host_key"`
}

// plan is a configuration checked and compiled for one run.
type plan struct {
	timeout     time.Duration
	mode        string
	delimiters  *regexp.Regexp // ModeDelimiters only
	group       int            // index of the output capture in delimiters
	unrecovered []procout.CodeRange
	insecure    bool
}

// compile checks every field whose value must be literal and returns the
// run plan.
func (c *config) compile() (*plan, error) {
	p := &plan{mode: c.OutputMode}

	var err error
	if p.timeout, err = procout.ParseTimeout(c.Timeout, defaultTimeout); err != nil {
		return nil, err
	}
	if c.InsecureIgnoreHostKey != "" {
		if p.insecure, err = strconv.ParseBool(c.InsecureIgnoreHostKey); err != nil {
			return nil, fmt.Errorf("parse insecure_ignore_host_key: %w", err)
		}
	}
	if len(c.Hops) > maxHops {
		return nil, fmt.Errorf("hops: at most %d allowed, got %d", maxHops, len(c.Hops))
	}

	switch c.OutputMode {
	case "":
		p.mode = ModeAutoResult
	case ModeAutoResult, ModeLastLine, ModeDelimiters, ModeDisabled:
	default:
		return nil, fmt.Errorf("unknown output_mode %q: expecting %s, %s, %s or %s",
			c.OutputMode, ModeAutoResult, ModeLastLine, ModeDelimiters, ModeDisabled)
	}
	if len(c.Result) > 0 && p.mode != ModeAutoResult {
		return nil, fmt.Errorf("result requires output_mode %s", ModeAutoResult)
	}
	if p.mode == ModeDelimiters {
		if p.delimiters, p.group, err = procout.CompileDelimiters(c.OutputManualDelimiters); err != nil {
			return nil, err
		}
	} else if len(c.OutputManualDelimiters) > 0 {
		return nil, fmt.Errorf("output_manual_delimiters requires output_mode %s", ModeDelimiters)
	}

	for _, entry := range c.ExitCodesUnrecoverable {
		r, err := procout.ParseCodeRange(entry)
		if err != nil {
			return nil, err
		}
		p.unrecovered = append(p.unrecovered, r)
	}
	return p, nil
}

// validate checks the raw configuration: the literal fields, the required
// ones and, unless it is templated, the pinned host key. hasKnownHosts
// tells whether the action verifies host keys against a known_hosts file.
func (c *config) validate(hasKnownHosts bool) error {
	for _, f := range []struct{ name, value string }{
		{"user", c.User}, {"target", c.Target}, {"ssh_key", c.SSHKey},
	} {
		if f.value == "" {
			return fmt.Errorf("missing %s", f.name)
		}
	}
	p, err := c.compile()
	if err != nil {
		return err
	}
	if c.HostKey != "" && !strings.Contains(c.HostKey, "{{") {
		if _, err := parseHostKeys(c.HostKey); err != nil {
			return err
		}
	}
	if c.HostKey == "" && !hasKnownHosts && !p.insecure {
		return ErrNoHostKeyCheck
	}
	return nil
}

// unrecoverable reports whether code is listed in exit_codes_unrecoverable.
func (p *plan) unrecoverable(code int) bool {
	for _, r := range p.unrecovered {
		if r.Contains(code) {
			return true
		}
	}
	return false
}

// parseHostKeys parses pinned host keys in authorized_keys format.
func parseHostKeys(text string) ([]gossh.PublicKey, error) {
	var keys []gossh.PublicKey
	rest := []byte(text)
	for len(strings.TrimSpace(string(rest))) > 0 {
		key, _, _, next, err := gossh.ParseAuthorizedKey(rest)
		if err != nil {
			return nil, fmt.Errorf("parse host_key: %w", err)
		}
		keys = append(keys, key)
		rest = next
	}
	if len(keys) == 0 {
		return nil, errors.New("parse host_key: no key")
	}
	return keys, nil
}

// firstAddress returns the address of the first host contacted, with the
// default port when it has none.
func (c *config) firstAddress() (string, error) {
	addr := c.Target
	if len(c.Hops) > 0 {
		addr = c.Hops[0]
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr, nil
	}
	withPort := addr + ":" + defaultPort
	if _, _, err := net.SplitHostPort(withPort); err != nil {
		return "", fmt.Errorf("ssh plugin: host port: %w", err)
	}
	return withPort, nil
}

// command returns the remote command and the standard input of the run.
// Without hops the command is the script itself; through bastions it is
// the onward route "h2 -- … -- target" and the script goes on stdin.
func (c *config) command(mode string) (cmd, stdin string) {
	script := c.Script
	if mode == ModeAutoResult {
		script = resultTrailer(c.Result) + script
	}
	if len(c.Hops) == 0 {
		return script, script
	}
	route := append(append([]string{}, c.Hops[1:]...), c.Target)
	return strings.Join(route, " -- "), script
}

// resultFunction is the name of the shell function the trailer installs.
const resultFunction = "utask_print_result"

// resultTrailer returns the shell code, for a bash-compatible shell with
// GNU sed, that prints the result expressions as a JSON object of strings,
// without a final newline, when the shell exits. Double quotes are removed
// from keys and expressions so they cannot end the quoted payload; newlines
// in the payload are printed as \n.
func resultTrailer(result map[string]string) string {
	keys := make([]string, 0, len(result))
	for k := range result {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, `\"`+strings.ReplaceAll(k, `"`, "")+`\":\"`+strings.ReplaceAll(result[k], `"`, "")+`\"`)
	}
	payload := "{" + strings.Join(pairs, ",") + "}"
	return "function " + resultFunction + " {\n" +
		`printf '%s' "` + payload + `" | sed -z 's/\n/\\n/g'` + "\n" +
		"}\n" +
		"trap " + resultFunction + " EXIT\n"
}

// candidate returns the text of the combined output that should hold the
// step output as a JSON object, per the plan's output mode. An empty
// candidate means the output is {}.
func (p *plan) candidate(out string) string {
	switch p.mode {
	case ModeDisabled:
		return ""
	case ModeDelimiters:
		m := p.delimiters.FindStringSubmatch(out)
		if m == nil {
			return ""
		}
		return m[p.group]
	default:
		return procout.LastLine(out)
	}
}
