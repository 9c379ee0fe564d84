package server_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pgDumpPath is the PostgreSQL 15 dump tool, the version of the test server.
const pgDumpPath = "/usr/lib/postgresql/15/bin/pg_dump"

// pgDump returns pg_dump's text dump (schema and data) of the schema of the
// store URL u, which names it in its search_path parameter.
func pgDump(t *testing.T, u string) []byte {
	t.Helper()
	conn, schema := splitSearchPath(t, u)
	out, err := exec.CommandContext(t.Context(), pgDumpPath, "--no-owner", "--schema="+schema, "--dbname="+conn).Output() //nolint:gosec // test tool, fixed path
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("pg_dump: %v: %s", err, ee.Stderr)
	}
	require.NoError(t, err)
	require.Contains(t, string(out), "PostgreSQL database dump")
	return out
}

// splitSearchPath removes the search_path parameter, which libpq does not
// take, from a store URL (URL or key=value form) and returns it apart.
func splitSearchPath(t *testing.T, u string) (conn, schema string) {
	t.Helper()
	if strings.Contains(u, "://") {
		parsed, err := url.Parse(u)
		require.NoError(t, err)
		q := parsed.Query()
		schema = q.Get("search_path")
		q.Del("search_path")
		parsed.RawQuery = q.Encode()
		conn = parsed.String()
	} else {
		var kept []string
		for _, f := range strings.Fields(u) {
			if v, ok := strings.CutPrefix(f, "search_path="); ok {
				schema = v
				continue
			}
			kept = append(kept, f)
		}
		conn = strings.Join(kept, " ")
	}
	require.NotEmpty(t, schema, "the test store URL names its schema")
	return conn, schema
}

// requireNoPlaintext checks that a dump holds the label (stored in clear, so
// the dump is of the right data) and none of the secrets, neither as text
// nor hex-encoded (how pg_dump writes bytea values).
func requireNoPlaintext(t *testing.T, dump []byte, s vaultSecrets, when string) {
	t.Helper()
	lower := bytes.ToLower(dump)
	contains := func(text string) bool {
		return bytes.Contains(dump, []byte(text)) || bytes.Contains(lower, []byte(hex.EncodeToString([]byte(text))))
	}
	require.True(t, bytes.Contains(dump, []byte(s.label)), "%s: the dump lacks the title, stored in clear", when)
	// The template document is a binary column stored in clear: finding it
	// shows that the search sees binary columns too.
	require.True(t, contains(vaultDescription), "%s: the dump lacks the template, stored in clear", when)
	for what, secret := range s.sealed() {
		require.False(t, contains(secret), "%s: %s found in clear in the dump", when, what)
	}
}

func TestDumpHasNoPlaintext(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			// No compression: a store that forgot to seal would show its
			// values as they are.
			ts := startVault(t, vaultOptions{
				workDir: be.workDir, templates: vaultTemplates(t),
				environ: append(append([]string{}, be.environ...), keyEnv(keyItem(t, 1000))...),
			})
			s := newVaultSecrets(t)
			taskID, resolutionID := ts.vaultTask(t, s)
			requireSecretsShown(t, ts.view(t, taskID, resolutionID), s)

			requireNoPlaintext(t, be.dump(t), s, "while serving")
			ts.stop(t)
			requireNoPlaintext(t, be.dump(t), s, "after stop")
		})
	}
}
