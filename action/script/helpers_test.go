package script_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/script"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// obj is a JSON object literal.
type obj = map[string]any

// Identifiers the tests give the context, as the engine would render them.
const (
	testTaskID       = "3f0c9d2e-task"
	testResolutionID = "8a41b7c5-resolution"
	testStepName     = "stepOne"
)

// testBundle is a scripts folder of its own and a script action using it.
type testBundle struct {
	// root holds the scripts folder and, beside it, "outside" for files
	// that scripts must not reach.
	root    string
	scripts string
	outside string
	action  action.Action
}

func setup(t *testing.T) *testBundle {
	t.Helper()

	root := t.TempDir()
	b := &testBundle{
		root:    root,
		scripts: filepath.Join(root, "scripts"),
		outside: filepath.Join(root, "outside"),
	}
	require.NoError(t, os.Mkdir(b.scripts, 0o755))
	require.NoError(t, os.Mkdir(b.outside, 0o755))
	b.action = script.New(script.Options{ScriptsPath: b.scripts})
	return b
}

// write creates name (relative to the scripts folder) with body and mode.
func (b *testBundle) write(t *testing.T, name, body string, mode os.FileMode) string {
	t.Helper()
	return writeFile(t, filepath.Join(b.scripts, name), body, mode)
}

// writeFile creates path with body and mode. The file is written while no
// fork can happen: a child forked meanwhile would inherit the open file
// and make its execution fail with "text file busy".
func writeFile(t *testing.T, path, body string, mode os.FileMode) string {
	t.Helper()

	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	require.NoError(t, os.WriteFile(path, []byte(body), mode))
	require.NoError(t, os.Chmod(path, mode))
	return path
}

// shell writes an executable sh script.
func (b *testBundle) shell(t *testing.T, name, body string) {
	t.Helper()
	b.write(t, name, "#!/bin/sh\n"+body+"\n", 0o755)
}

// run executes the step configuration cfg (and base, when not nil) with
// the test context.
func (b *testBundle) run(ctx context.Context, t *testing.T, base, cfg obj) action.Result {
	t.Helper()
	return b.action.Run(ctx, request(t, base, cfg))
}

// request returns the request of a run with the test context.
func request(t *testing.T, base, cfg obj) action.Request {
	t.Helper()
	return action.Request{
		StepName:   testStepName,
		BaseConfig: marshal(t, base),
		Config:     marshal(t, cfg),
		Context: map[string]any{
			script.ContextTaskID:       testTaskID,
			script.ContextResolutionID: testResolutionID,
		},
	}
}

func marshal(t *testing.T, v obj) json.RawMessage {
	t.Helper()

	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

// metadata returns the metadata of a result, checking that it holds
// exactly the documented keys, all strings, and a valid duration.
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
	require.ElementsMatch(t, []string{
		script.MetadataExitCode, script.MetadataProcessState, script.MetadataOutput,
		script.MetadataExecutionTime, script.MetadataError,
	}, keys(got))
	d, err := time.ParseDuration(got[script.MetadataExecutionTime])
	require.NoError(t, err)
	require.GreaterOrEqual(t, d, time.Duration(0))
	return got
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
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
