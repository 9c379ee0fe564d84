package ssh_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/ssh"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// obj is a JSON object literal.
type obj = map[string]any

// clientKey is a private key in PEM form and its public half.
type clientKey struct {
	pem    string
	public gossh.PublicKey
}

// newClientKey returns a fresh ed25519 key, encrypted when passphrase is
// not empty.
func newClientKey(t *testing.T, passphrase string) clientKey {
	t.Helper()

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var block *pem.Block
	if passphrase == "" {
		block, err = gossh.MarshalPrivateKey(priv, "test key")
	} else {
		block, err = gossh.MarshalPrivateKeyWithPassphrase(priv, "test key", []byte(passphrase))
	}
	require.NoError(t, err)
	sshPub, err := gossh.NewPublicKey(pub)
	require.NoError(t, err)
	return clientKey{pem: string(pem.EncodeToMemory(block)), public: sshPub}
}

// authorizedLine returns key in authorized_keys format.
func authorizedLine(key gossh.PublicKey) string {
	return string(gossh.MarshalAuthorizedKey(key))
}

// testBundle is a server, a key it accepts and the configuration that
// reaches it with the server's host key pinned.
type testBundle struct {
	server *testServer
	key    clientKey
}

func setup(t *testing.T, bastion bool) *testBundle {
	t.Helper()

	key := newClientKey(t, "")
	return &testBundle{server: newServer(t, key.public, bastion), key: key}
}

// config returns a configuration reaching the server as user "deploy",
// with its host key pinned, plus the extra fields.
func (b *testBundle) config(extra obj) obj {
	cfg := obj{
		"user":     "deploy",
		"target":   b.server.addr,
		"ssh_key":  b.key.pem,
		"host_key": authorizedLine(b.server.hostKey.PublicKey()),
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
			continue
		}
		cfg[k] = v
	}
	return cfg
}

// knownHosts writes a known_hosts file listing key for each address.
func knownHosts(t *testing.T, entries map[string]gossh.PublicKey) string {
	t.Helper()

	var buf bytes.Buffer
	for addr, key := range entries {
		buf.WriteString(knownhosts.Line([]string{addr}, key) + "\n")
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path
}

func marshal(t *testing.T, v any) json.RawMessage {
	t.Helper()

	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

// run executes cfg with a and returns the result and what was logged.
func run(ctx context.Context, t *testing.T, a action.Action, cfg obj) (action.Result, string) {
	t.Helper()

	var logs bytes.Buffer
	res := a.Run(ctx, action.Request{
		StepName: "sshStep",
		Config:   marshal(t, cfg),
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return res, logs.String()
}

// requireErr checks the error text and kind of a result; an empty text
// means no error.
func requireErr(t *testing.T, res action.Result, text string, kind action.Kind) {
	t.Helper()

	if text == "" {
		require.NoError(t, res.Err)
		return
	}
	require.EqualError(t, res.Err, text)
	require.Equal(t, kind, action.KindOf(res.Err))
}

// metadata returns the metadata of a result, checking that it holds
// exactly the documented keys, all strings.
func metadata(t *testing.T, res action.Result) map[string]string {
	t.Helper()

	m, ok := res.Metadata.(map[string]any)
	require.True(t, ok, "metadata %T", res.Metadata)
	got := map[string]string{}
	for k, v := range m {
		s, ok := v.(string)
		require.True(t, ok, "metadata %s is %T", k, v)
		got[k] = s
	}
	require.Len(t, got, 4)
	for _, k := range []string{ssh.MetadataOutput, ssh.MetadataExitCode, ssh.MetadataExitSignal, ssh.MetadataExitMsg} {
		require.Contains(t, got, k)
	}
	return got
}
