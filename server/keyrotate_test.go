package server_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/crypt"
	"github.com/utask/utask/server"
	"github.com/utask/utask/service"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/postgres"
	"github.com/utask/utask/store/postgres/pgtest"
	"github.com/utask/utask/store/sqlite"
)

// vaultTemplate puts a secret in every sealed place: a password input, a
// resolver input, a step output (the resolver input changed, so that it is a
// text of its own) and the result. Its title shows the label input in clear.
const vaultTemplate = `name: vault
description: ` + vaultDescription + `
title_format: "vault {{.input.label}}"
inputs:
  - name: label
    description: shown in the title, in clear
  - name: password
    description: a secret
    type: password
resolver_inputs:
  - name: answer
    description: the resolver's secret
    type: password
result_format:
  echoed: "{{.step.speak.output.said}}"
steps:
  speak:
    description: says the answer back, in capitals
    action:
      type: echo
      configuration:
        output:
          said: "{{.resolver_input.answer | upper}}"
`

// vaultDescription is the description of the vault template.
const vaultDescription = "a task with secrets in every sealed place"

// vaultTemplates writes the vault template in a new directory and returns it.
func vaultTemplates(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vault.yaml"), []byte(vaultTemplate), 0o600))
	return dir
}

// vaultOptions is how a vault server starts.
type vaultOptions struct {
	workDir     string
	templates   string
	maintenance bool
	environ     []string
}

// startVault starts a server on the vault template.
func startVault(t *testing.T, o vaultOptions) *testServer {
	t.Helper()
	srv, ln, err := tryStartVault(t, o)
	require.NoError(t, err)
	ts := &testServer{srv: srv, base: "http://" + ln.Addr().String(), workDir: o.workDir}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// tryStartVault starts a server on the vault template and returns Start's
// error.
func tryStartVault(t *testing.T, o vaultOptions) (*server.Server, net.Listener, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths:  []string{o.templates},
			FunctionsPath:   filepath.Join(o.workDir, "functions"),
			Region:          "default",
			LogsFormat:      "text",
			MaintenanceMode: o.maintenance,
		},
		Environ:  withDefaults(o.environ),
		WorkDir:  o.workDir,
		Logger:   logger,
		Listener: ln,
	})
	if err != nil {
		_ = ln.Close()
	}
	return srv, ln, err
}

// keyItem returns a fresh encryption-key item.
func keyItem(t *testing.T, timestamp int64) string {
	t.Helper()
	item, err := crypt.GenerateKeyItem(rand.Reader, timestamp)
	require.NoError(t, err)
	return item
}

// keyEnv gives each item as an encryption-key item.
func keyEnv(items ...string) []string {
	env := make([]string, len(items))
	for i, it := range items {
		env[i] = "CFG_ENCRYPTION_KEY=" + it
	}
	return env
}

// vaultBackend is one store kind under the server tests.
type vaultBackend struct {
	name string
	// workDir is the servers' working directory.
	workDir string
	// environ selects the database.
	environ []string
	// dump returns every stored byte (SQLite: the files) or a text dump
	// (PostgreSQL: pg_dump of the schema).
	dump func(t *testing.T) []byte
	// open opens the store directly, on the server's database, with
	// sealer; the server must be stopped (for SQLite).
	open func(t *testing.T, sealer store.Sealer) store.Store
}

// sqliteBackend is the embedded store in workDir.
func sqliteBackend(workDir string) vaultBackend {
	path := filepath.Join(workDir, server.DefaultDatabaseFile)
	return vaultBackend{
		name:    "SQLite",
		workDir: workDir,
		dump: func(t *testing.T) []byte {
			t.Helper()
			var all []byte
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				b, err := os.ReadFile(p)
				if os.IsNotExist(err) {
					continue
				}
				require.NoError(t, err)
				all = append(all, b...)
			}
			return all
		},
		open: func(t *testing.T, sealer store.Sealer) store.Store {
			t.Helper()
			s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path, Sealer: sealer, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

// postgresBackend is a fresh schema of the test database.
func postgresBackend(t *testing.T) vaultBackend {
	t.Helper()
	u := pgtest.FreshSchema(t)
	return vaultBackend{
		name:    "PostgreSQL",
		workDir: t.TempDir(),
		environ: []string{"CFG_DATABASE=" + u},
		dump:    func(t *testing.T) []byte { t.Helper(); return pgDump(t, u) },
		open: func(t *testing.T, sealer store.Sealer) store.Store {
			t.Helper()
			s, err := postgres.Open(t.Context(), postgres.Config{URL: u, Sealer: sealer, Logger: slog.New(slog.DiscardHandler), MaxConns: 4})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

// backends returns the store kinds to run a server test on: SQLite, and
// PostgreSQL when the test database is configured.
func backends(t *testing.T) []vaultBackend {
	t.Helper()
	out := []vaultBackend{sqliteBackend(t.TempDir())}
	if os.Getenv("UTASK_TEST_DATABASE_URL") != "" {
		out = append(out, postgresBackend(t))
	}
	return out
}

// vaultSecrets are the values the vault task seals, and the label it shows.
type vaultSecrets struct {
	label, password, answer, output, comment string
}

// newVaultSecrets returns values that appear nowhere by chance.
func newVaultSecrets(t *testing.T) vaultSecrets {
	t.Helper()
	r := func(what string) string {
		b := make([]byte, 12)
		_, err := rand.Read(b)
		require.NoError(t, err)
		return what + "-" + hex.EncodeToString(b)
	}
	s := vaultSecrets{label: r("label"), password: r("password"), answer: r("answer"), comment: r("comment")}
	s.output = strings.ToUpper(s.answer)
	return s
}

// sealed lists the secrets by name.
func (s vaultSecrets) sealed() map[string]string {
	return map[string]string{
		"password input": s.password, "resolver input": s.answer, "step output": s.output, "comment": s.comment,
	}
}

// vaultTask creates a vault task as bob, resolves it as admin, waits until
// it is done and comments it. It returns the task and resolution ids.
func (ts *testServer) vaultTask(t *testing.T, s vaultSecrets) (taskID, resolutionID string) {
	t.Helper()
	var created taskView
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "bob", map[string]any{
		"template_name": "vault",
		"input":         map[string]any{"label": s.label, "password": s.password},
	}, &created))
	var res struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/resolution", "admin", map[string]any{
		"task_id": created.ID, "resolver_inputs": map[string]any{"answer": s.answer},
	}, &res))
	done := ts.waitTask(t, created.ID, "admin")
	require.Equal(t, "DONE", done.State)
	require.Equal(t, map[string]any{"echoed": s.output}, done.Result)
	require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task/"+created.ID+"/comment", "bob",
		map[string]any{"content": s.comment}, nil))
	return created.ID, res.ID
}

// vaultView is what the API shows of a vault task, as an administrator.
type vaultView struct {
	Task       map[string]any
	Resolution map[string]any
	Comments   []map[string]any
}

// view reads a vault task, its resolution and its comments.
func (ts *testServer) view(t *testing.T, taskID, resolutionID string) vaultView {
	t.Helper()
	var v vaultView
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+taskID, "admin", nil, &v.Task))
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/resolution/"+resolutionID, "admin", nil, &v.Resolution))
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/task/"+taskID+"/comment", "admin", nil, &v.Comments))
	return v
}

// requireSecretsShown checks that the view shows the secrets in clear to the
// administrator.
func requireSecretsShown(t *testing.T, v vaultView, s vaultSecrets) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	for what, secret := range s.sealed() {
		require.Contains(t, string(b), secret, what)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			keyRotation(t, be)
		})
	}
}

// keyRotation follows the operator's procedure: add a key, restart in
// maintenance, rotate, remove the old key, restart. Tasks are written with
// and without step compression, and a first rotation is interrupted.
func keyRotation(t *testing.T, be vaultBackend) {
	templates := vaultTemplates(t)
	keyA, keyB := keyItem(t, 1000), keyItem(t, 2000)
	opts := func(maintenance bool, compression string, keys ...string) vaultOptions {
		env := append(append([]string{}, be.environ...), keyEnv(keys...)...)
		env = append(env, `CFG_UTASK_CFG={"admin_usernames":["admin"],"steps_compression_algorithm":"`+compression+`"}`)
		return vaultOptions{workDir: be.workDir, templates: templates, maintenance: maintenance, environ: env}
	}

	type written struct {
		secrets              vaultSecrets
		taskID, resolutionID string
		view                 vaultView
	}
	var all []written
	for _, compression := range []string{"gzip", ""} {
		ts := startVault(t, opts(false, compression, keyA))
		w := written{secrets: newVaultSecrets(t)}
		w.taskID, w.resolutionID = ts.vaultTask(t, w.secrets)
		w.view = ts.view(t, w.taskID, w.resolutionID)
		requireSecretsShown(t, w.view, w.secrets)
		all = append(all, w)
		ts.stop(t)
	}

	// A first rotation, one row per batch, is cut short after three rows:
	// what it committed is sealed with the new key, the rest with the old.
	ring, err := crypt.ParseKeyring([]string{keyA, keyB})
	require.NoError(t, err)
	db := be.open(t, ring)
	ctx, cancel := context.WithCancel(t.Context())
	rows := 0
	_, err = service.RotateKeys(ctx, db, service.RotationOptions{BatchSize: 1, Progress: func(string, store.ResealBatch) {
		if rows++; rows == 3 {
			cancel()
		}
	}})
	cancel()
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, db.Close())

	// Both keys, maintenance mode: everything reads; the rotation is for
	// administrators only and finishes the work.
	ts := startVault(t, opts(true, "", keyA, keyB))
	for _, w := range all {
		require.Equal(t, w.view, ts.view(t, w.taskID, w.resolutionID))
	}
	require.Equal(t, http.StatusUnauthorized, ts.call(t, http.MethodPost, "/key-rotate", "bob", nil, nil))
	require.Equal(t, http.StatusUnauthorized, ts.call(t, http.MethodPost, "/key-rotate", "", nil, nil))
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodPost, "/key-rotate", "admin", nil, nil))
	ts.stop(t)

	// Only the new key: every task, resolution, step and comment reads the
	// same.
	ts = startVault(t, opts(false, "gzip", keyB))
	for _, w := range all {
		require.Equal(t, w.view, ts.view(t, w.taskID, w.resolutionID))
	}
	// New writes work with the new key alone.
	more := newVaultSecrets(t)
	taskID, resolutionID := ts.vaultTask(t, more)
	requireSecretsShown(t, ts.view(t, taskID, resolutionID), more)
	ts.stop(t)

	// The old key alone opens nothing any more: the rotation rewrote it
	// all, and a server given only that key refuses to start rather than
	// answer 500 for every task and seal new ones with it.
	_, ln, err := tryStartVault(t, opts(false, "", keyA))
	_ = ln.Close()
	require.ErrorContains(t, err, "no key opens the stored data")
	require.ErrorIs(t, err, crypt.ErrDecrypt)
}

func TestKeyRotationFailureStops(t *testing.T) {
	t.Parallel()
	workDir := t.TempDir()
	be := sqliteBackend(workDir)
	templates := vaultTemplates(t)
	keyA, keyB := keyItem(t, 1000), keyItem(t, 2000)
	opts := func(keys ...string) vaultOptions {
		return vaultOptions{workDir: workDir, templates: templates, maintenance: true, environ: keyEnv(keys...)}
	}

	ts := startVault(t, vaultOptions{workDir: workDir, templates: templates, environ: keyEnv(keyA)})
	s := newVaultSecrets(t)
	taskID, resolutionID := ts.vaultTask(t, s)
	ts.stop(t)

	// A comment whose ciphertext no key opens.
	raw, err := sql.Open("sqlite", filepath.Join(workDir, server.DefaultDatabaseFile))
	require.NoError(t, err)
	_, err = raw.ExecContext(t.Context(), `UPDATE comment SET sealed_content = randomblob(64)`)
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	ts = startVault(t, opts(keyA, keyB))
	var body map[string]string
	require.Equal(t, http.StatusInternalServerError, ts.call(t, http.MethodPost, "/key-rotate", "admin", nil, &body))
	require.NotEmpty(t, body["error"])
	ts.stop(t)

	// The tables before the comments were done and stay readable with the
	// new key alone; the rotation stopped at the comment.
	ring, err := crypt.ParseKeyring([]string{keyB})
	require.NoError(t, err)
	db := be.open(t, ring)
	task, err := db.TaskGet(t.Context(), taskID)
	require.NoError(t, err)
	require.Equal(t, s.password, task.Input["password"])
	r, err := db.ResolutionGet(t.Context(), resolutionID)
	require.NoError(t, err)
	require.Equal(t, s.answer, r.ResolverInput["answer"])
	_, err = db.CommentList(t.Context(), task.ID)
	require.Error(t, err)
	require.NoError(t, db.Close())
}

func TestUnknownStepsCompressionIsRefused(t *testing.T) {
	t.Parallel()
	_, _, err := tryStartVault(t, vaultOptions{
		workDir: t.TempDir(), templates: vaultTemplates(t),
		environ: []string{`CFG_UTASK_CFG={"admin_usernames":["admin"],"steps_compression_algorithm":"brotli"}`},
	})
	require.ErrorContains(t, err, "brotli compression algorithm not found")
	require.ErrorContains(t, err, "steps_compression_algorithm")
}
