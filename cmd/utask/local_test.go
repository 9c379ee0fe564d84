package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"validate", filepath.Join("..", "..", "templates")}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "template(s) valid")

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("name: bad\ndescription: bad one\ntitle_format: bad\nsteps:\n  a:\n    description: a\n    dependancies: [a]\n    action: {type: nope, configuration: {}}\n"), 0o600))
	other := filepath.Join(dir, "other.yaml")
	require.NoError(t, os.WriteFile(other, []byte("name: x\ndescription: short\ntitle_format: ok\n"), 0o600))
	out.Reset()
	require.Equal(t, 1, run(context.Background(), []string{"validate", bad, dir}, &out, &errOut))
	require.Contains(t, out.String(), "bad.yaml")
	require.Contains(t, out.String(), "No runner for type 'nope'")
	require.Contains(t, out.String(), "other.yaml")
	require.Contains(t, out.String(), "template name can't be shorter than 3 characters")
}

func TestRunCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"run", filepath.Join("..", "..", "templates", "hello-world.yaml"), "--input", "name=cli"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	text := out.String()
	require.Contains(t, text, "step greet RUNNING\n")
	require.Contains(t, text, "step shout DONE\n")
	require.Contains(t, text, "resolution DONE\n")
	var res struct {
		State  string         `json:"state"`
		Result map[string]any `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(text[strings.Index(text, "{"):]), &res))
	require.Equal(t, "DONE", res.State)
	require.Equal(t, map[string]any{"greeting": "HELLO CLI!"}, res.Result)

	errOut.Reset()
	require.Equal(t, 1, run(context.Background(), []string{"run", filepath.Join("..", "..", "templates", "hello-world.yaml"), "--input", "nope=1"}, &out, &errOut))
	require.Contains(t, errOut.String(), `input "nope"`)
}

// Templates with subtask, batch and callback steps validate offline; a
// local run of one fails those steps, saying they need a server.
func TestOfflineActions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "needs-server.yaml")
	require.NoError(t, os.WriteFile(tmpl, []byte(`
name: needs-server
description: steps that create tasks and callbacks
title_format: needs a server
steps:
  child:
    description: a subtask
    action: {type: subtask, configuration: {template: needs-server}}
  many:
    description: a batch
    action: {type: batch, configuration: {template_name: needs-server, json_inputs: '[{}]'}}
  hook:
    description: a callback
    action: {type: callback, configuration: {action: create}}
`), 0o600))
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"validate", tmpl}, &out, &errOut), out.String()+errOut.String())
	require.Contains(t, out.String(), "1 template(s) valid")

	out.Reset()
	require.Equal(t, 1, run(context.Background(), []string{"run", tmpl}, &out, &errOut))
	for _, step := range []string{"child", "many", "hook"} {
		require.Contains(t, out.String(), "step "+step+" SERVER_ERROR: ", step)
	}
	require.Contains(t, out.String(), "this action needs a utask server")
}
