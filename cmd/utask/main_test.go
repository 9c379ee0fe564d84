package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// process is the utask binary running in a directory of its own.
type process struct {
	cmd  *exec.Cmd
	base string
	out  *lockedBuffer
	done chan error
}

// lockedBuffer collects the process's output, written by the goroutine
// that reads it and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var addrRE = regexp.MustCompile(`addr=\S*:(\d+)`)

// startBinary runs the binary in dir with the repository's example templates,
// as the README's run command does, and waits until it serves.
func startBinary(t *testing.T, bin, dir string) *process {
	t.Helper()
	templates, err := filepath.Abs(filepath.Join("..", "..", "templates"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "--http-host", "127.0.0.1", "--http-port", "0", "--templates-path", templates)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CONFIGURATION_FROM=")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.out.WriteString(line + "\n")
			if m := addrRE.FindStringSubmatch(line); m != nil && strings.Contains(line, "serving") {
				port <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case pt := <-port:
		p.base = "http://127.0.0.1:" + pt
	case err := <-p.done:
		t.Fatalf("utask exited: %v\n%s", err, p.out.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("utask did not serve:\n%s", p.out.String())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	return p
}

func (p *process) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, p.out.String())
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("utask did not stop on SIGTERM")
	}
}

func (p *process) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("x-remote-user", "newcomer")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestBinaryServesAndKeepsTasks(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "utask")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	p := startBinary(t, bin, dir)
	require.Contains(t, p.out.String(), "generated")

	// The key generated for the embedded store is readable by its owner only.
	info, err := os.Stat(filepath.Join(dir, "utask.db.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	status, task := p.do(t, http.MethodPost, "/task", `{"template_name": "hello-world", "input": {"name": "newcomer"}}`)
	require.Equal(t, http.StatusCreated, status, task)
	id, _ := task["id"].(string)
	require.NotEmpty(t, id)
	var got map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, got = p.do(t, http.MethodGet, "/task/"+id, "")
		if got["state"] == "DONE" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Equal(t, "DONE", got["state"], got)
	require.Equal(t, map[string]any{"greeting": "HELLO NEWCOMER!"}, got["result"])
	p.stop(t)

	// Restarted in the same directory, it reads the same store and key.
	p2 := startBinary(t, bin, dir)
	require.NotContains(t, p2.out.String(), "generated")
	_, again := p2.do(t, http.MethodGet, "/task/"+id, "")
	require.Equal(t, "DONE", again["state"])
	require.Equal(t, got["result"], again["result"])
	p2.stop(t)
}
