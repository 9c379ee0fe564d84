package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
)

func startErr(t *testing.T, templates string, environ ...string) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	srv, err := server.Start(context.Background(), server.Options{
		Flags:    config.Flags{TemplatesPaths: []string{templates}, FunctionsPath: filepath.Join(t.TempDir(), "none"), ScriptsPath: filepath.Join("testdata", "scripts")},
		Environ:  environ,
		WorkDir:  t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Listener: ln,
	})
	if err == nil {
		require.NoError(t, srv.Stop(context.Background()))
	}
	return err
}

func TestStartRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	good := filepath.Join("testdata", "templates")

	t.Run("InvalidTemplate", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(`
name: broken
description: a step depends on a step that does not exist
title_format: broken
steps:
  one:
    description: one
    dependencies: [ghost]
    action: {type: echo, configuration: {output: x}}
`), 0o600))
		err := startErr(t, dir)
		require.ErrorContains(t, err, "broken.yaml")
		require.ErrorContains(t, err, "Invalid step one")
		require.ErrorContains(t, err, `no step with that name: "ghost"`)
	})
	t.Run("UnparsableTemplate", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "garbage.yaml"), []byte("name: [unclosed\n"), 0o600))
		require.ErrorContains(t, startErr(t, dir), "garbage.yaml")
	})
	t.Run("MissingTemplateDirectory", func(t *testing.T) {
		t.Parallel()
		require.ErrorContains(t, startErr(t, filepath.Join(t.TempDir(), "nope")), "nope")
	})
	t.Run("PostgresNeedsAKey", func(t *testing.T) {
		t.Parallel()
		err := startErr(t, good, "CONFIGURATION_FROM=env:CFG", "CFG_DATABASE=postgres://u:p@127.0.0.1/utask")
		require.ErrorContains(t, err, "PostgreSQL")
		require.ErrorContains(t, err, `"encryption-key"`)
	})
	t.Run("BadUtaskConfig", func(t *testing.T) {
		t.Parallel()
		err := startErr(t, good, "CONFIGURATION_FROM=env:CFG", `CFG_UTASK_CFG={"max_concurrent_executions": "many"}`)
		require.ErrorContains(t, err, "max_concurrent_executions")
	})
	t.Run("BadEncryptionKey", func(t *testing.T) {
		t.Parallel()
		err := startErr(t, good, "CONFIGURATION_FROM=env:CFG", `CFG_ENCRYPTION_KEY={"identifier":"storage","cipher":"aes-gcm","timestamp":1,"key":"abcd"}`)
		require.ErrorContains(t, err, "encryption-key")
	})
	t.Run("ConfiguredKeyIsUsed", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, startErr(t, good, "CONFIGURATION_FROM=env:CFG",
			`CFG_ENCRYPTION_KEY={"identifier":"storage","cipher":"aes-gcm","timestamp":1535627466,"key":"e5f45aef9f072e91f735547be63f3434e6de49695b178e3868b23b0e32269800"}`))
	})
}
