package script_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/script"
)

// processGone reports whether pid no longer runs: absent, or a zombie
// waiting for a parent that is not ours.
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

// readPid waits until path holds a pid written by a script and returns it.
func readPid(t *testing.T, path string) int {
	t.Helper()

	var pid int
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(data, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	}, time.Minute, 10*time.Millisecond)
	return pid
}

// requireGone waits until pid has disappeared.
func requireGone(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool { return processGone(pid) }, time.Minute, 10*time.Millisecond, "process %d still runs", pid)
}

// sleeper writes a script that records its own pid and the pid of a
// background child sharing its output, then waits for the child.
func sleeper(t *testing.T, b *testBundle, name string) (leaderFile, childFile string) {
	t.Helper()

	leaderFile = filepath.Join(b.root, name+".leader")
	childFile = filepath.Join(b.root, name+".child")
	b.shell(t, name, fmt.Sprintf(`echo '{"started": true}'
sleep 600 &
echo $! > '%s'
echo $$ > '%s'
wait`, childFile, leaderFile))
	return leaderFile, childFile
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()

	b := setup(t)
	leaderFile, childFile := sleeper(t, b, "slow.sh")

	res := b.run(context.Background(), t, nil, obj{"file_path": "slow.sh", "timeout": "500ms", "exit_codes_unrecoverable": []string{"1-255"}})
	requireErr(t, res, "exit code: -1", action.KindServer)
	require.Equal(t, obj{"started": true}, res.Output)
	meta := metadata(t, res)
	require.Equal(t, "-1", meta[script.MetadataExitCode])
	require.Equal(t, "signal: killed", meta[script.MetadataProcessState])
	require.Equal(t, "signal: killed", meta[script.MetadataError])
	require.Equal(t, "{\"started\": true}\n", meta[script.MetadataOutput])

	requireGone(t, readPid(t, leaderFile))
	requireGone(t, readPid(t, childFile))
}

func TestRunZeroTimeoutNeverStarts(t *testing.T) {
	t.Parallel()

	b := setup(t)
	marker := filepath.Join(b.root, "started")
	b.shell(t, "touch.sh", fmt.Sprintf("touch '%s'", marker))

	res := b.run(context.Background(), t, nil, obj{"file_path": "touch.sh", "timeout": "0s"})
	requireErr(t, res, "exit code: 1", action.KindServer)
	require.Equal(t, obj{}, res.Output)
	meta := metadata(t, res)
	require.Equal(t, "1", meta[script.MetadataExitCode])
	require.Equal(t, "<nil>", meta[script.MetadataProcessState])
	require.Equal(t, "context deadline exceeded", meta[script.MetadataError])
	require.NoFileExists(t, marker)
}

func TestRunCancelledBeforeStart(t *testing.T) {
	t.Parallel()

	b := setup(t)
	marker := filepath.Join(b.root, "started")
	b.shell(t, "touch.sh", fmt.Sprintf("touch '%s'", marker))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	res := b.run(ctx, t, nil, obj{"file_path": "touch.sh"})
	requireErr(t, res, "exit code: 1", action.KindServer)
	require.Equal(t, "context canceled", metadata(t, res)[script.MetadataError])
	require.NoFileExists(t, marker)
}

func TestRunCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()

	b := setup(t)
	leaderFile, childFile := sleeper(t, b, "wait.sh")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	done := make(chan action.Result, 1)
	req := request(t, nil, obj{"file_path": "wait.sh"})
	go func() { done <- b.action.Run(ctx, req) }()
	leader := readPid(t, leaderFile)
	child := readPid(t, childFile)
	require.False(t, processGone(leader))
	require.False(t, processGone(child))

	cancel()
	res := <-done
	requireErr(t, res, "exit code: -1", action.KindServer)
	require.Equal(t, obj{"started": true}, res.Output)
	meta := metadata(t, res)
	require.Equal(t, "-1", meta[script.MetadataExitCode])
	require.Equal(t, "signal: killed", meta[script.MetadataProcessState])
	requireGone(t, leader)
	requireGone(t, child)
}

// TestRunWaitsForOutputOfChildren checks that a process the script leaves
// behind with its output still open is waited for, and what it prints is
// part of the output.
func TestRunWaitsForOutputOfChildren(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.shell(t, "late.sh", `(sleep 0.3; echo '{"late": true}') &
echo early`)

	res := b.run(context.Background(), t, nil, obj{"file_path": "late.sh"})
	require.NoError(t, res.Err)
	require.Equal(t, obj{"late": true}, res.Output)
	meta := metadata(t, res)
	require.Equal(t, "early\n{\"late\": true}\n", meta[script.MetadataOutput])
	require.Equal(t, "exit status 0", meta[script.MetadataProcessState])
}

// TestRunChildrenKeptAfterNormalExit checks that a child which closed its
// output is left running when the script ends on its own.
func TestRunChildrenKeptAfterNormalExit(t *testing.T) {
	t.Parallel()

	b := setup(t)
	childFile := filepath.Join(b.root, "daemon.pid")
	b.shell(t, "daemon.sh", fmt.Sprintf(`sleep 600 >/dev/null 2>&1 </dev/null &
echo $! > '%s'
echo '{"daemon": "started"}'`, childFile))

	res := b.run(context.Background(), t, nil, obj{"file_path": "daemon.sh"})
	require.NoError(t, res.Err)
	require.Equal(t, obj{"daemon": "started"}, res.Output)
	child := readPid(t, childFile)
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	require.False(t, processGone(child))
}

// TestRunEscapedHolderDoesNotBlock checks that Run returns once the timeout
// expires even when a process that left the script's process group keeps
// the output open.
func TestRunEscapedHolderDoesNotBlock(t *testing.T) {
	t.Parallel()

	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid is not installed")
	}
	b := setup(t)
	escapedFile := filepath.Join(b.root, "escaped.pid")
	b.shell(t, "escape.sh", fmt.Sprintf(`setsid sh -c 'echo $$ > "%s.tmp" && mv "%s.tmp" "%s" && exec sleep 600' &
echo '{"escaped": "maybe"}'`, escapedFile, escapedFile, escapedFile))

	res := b.run(context.Background(), t, nil, obj{"file_path": "escape.sh", "timeout": "1s"})
	escaped := readPid(t, escapedFile)
	t.Cleanup(func() { _ = syscall.Kill(escaped, syscall.SIGKILL) })

	require.NoError(t, res.Err)
	require.Equal(t, obj{"escaped": "maybe"}, res.Output)
	require.Equal(t, "exit status 0", metadata(t, res)[script.MetadataProcessState])
}
