package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
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

	"github.com/utask/utask/store/postgres/pgtest"
)

// binary is a utask process started from the built binary.
type binary struct {
	cmd  *exec.Cmd
	ts   *testServer // for call; srv is nil
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

// output returns what the process wrote so far.
func (b *binary) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

var servingAddr = regexp.MustCompile(`addr=\S*:(\d+)`) //nolint:gochecknoglobals // compiled once, read only

// startBinary runs the utask binary bin on a free port with the templates
// of testdata/multi and the configuration items of environ, and waits until
// it serves.
func startBinary(t *testing.T, bin string, environ []string) *binary {
	t.Helper()
	templates, err := filepath.Abs(filepath.Join("testdata", "multi"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "--http-host", "127.0.0.1", "--http-port", "0", "--templates-path", templates)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), environ...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	b := &binary{cmd: cmd, done: make(chan error, 1)}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			b.mu.Lock()
			b.out.WriteString(line + "\n")
			b.mu.Unlock()
			if m := servingAddr.FindStringSubmatch(line); m != nil && strings.Contains(line, "serving") {
				port <- m[1]
			}
		}
		b.done <- cmd.Wait()
	}()
	select {
	case p := <-port:
		b.ts = &testServer{base: "http://127.0.0.1:" + p}
	case err := <-b.done:
		t.Fatalf("utask exited: %v\n%s", err, b.output())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("utask did not serve:\n%s", b.output())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// stop ends the process with SIGTERM and checks that it exits cleanly.
func (b *binary) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, b.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-b.done:
		require.NoError(t, err, b.output())
	case <-time.After(20 * time.Second):
		_ = b.cmd.Process.Kill()
		t.Fatalf("utask did not stop:\n%s", b.output())
	}
}

// buildBinary builds cmd/utask into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "utask")
	build := exec.Command("go", "build", "-o", bin, "../cmd/utask")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// A process dies (SIGKILL) while its steps are in flight; the others take
// over once it is seen dead: idempotent steps run again and their tasks
// end DONE, the others are CRASHED and their tasks BLOCKED for a human.
// Nothing accepted is lost, and no step runs on two instances at once.
func TestCrashedInstanceIsTakenOver(t *testing.T) {
	t.Parallel()
	db := pgtest.FreshSchema(t)
	bin := buildBinary(t)
	count := newCounter()
	count.gate = make(chan struct{})
	target := httptest.NewServer(count)
	t.Cleanup(target.Close)

	utaskCfg := `{"admin_usernames":["admin"],"database_config":{"max_open_conns":12},` +
		`"delay_between_crashed_tasks_resolution":"10ms",` +
		`"instance_heartbeat_interval":"250ms","instance_dead_after":"2s",` +
		`"leader_election_interval":"250ms","leader_lease_ttl":"1500ms",` +
		`"maintenance_interval":"250ms","poll_interval":"1s"}`
	environ := []string{
		"CONFIGURATION_FROM=env:CFG", "CFG_DATABASE=" + db, "CFG_ENCRYPTION_KEY=" + testKey,
		"CFG_UTASK_CFG=" + utaskCfg,
	}
	procs := make([]*binary, 3)
	for i := range procs {
		procs[i] = startBinary(t, bin, environ)
	}
	// The first one started is the likeliest leader: its death tests the
	// election too.
	victim := procs[0]
	survivors := []*testServer{procs[1].ts, procs[2].ts}
	all := []*testServer{procs[0].ts, procs[1].ts, procs[2].ts}

	const perTemplate = 30
	type created struct {
		id, template string
		onVictim     bool
	}
	var tasks []created
	for i := range 2 * perTemplate {
		tmpl := "crash-idempotent"
		if i%2 == 1 {
			tmpl = "crash-once"
		}
		on := all[i%len(all)]
		var tv taskView
		status := on.call(t, http.MethodPost, "/task", "alice", map[string]any{
			"template_name": tmpl, "input": map[string]any{"target": target.URL, "delay": "300ms"},
		}, &tv)
		require.Equal(t, http.StatusCreated, status)
		tasks = append(tasks, created{id: tv.ID, template: tmpl, onVictim: on == victim.ts})
	}
	// Every call is in flight, held by the gate: the victim dies in the
	// middle of them. Then the calls go on.
	require.Eventually(t, func() bool {
		_, _, total := count.snapshot()
		return total == len(tasks)
	}, 20*time.Second, 10*time.Millisecond, "every task's call started")
	require.NoError(t, victim.cmd.Process.Kill())
	<-victim.done
	close(count.gate)

	states := waitDone(t, survivors, ids(tasks, func(c created) string { return c.id }), 60*time.Second)
	calls, overlaps, _ := count.snapshot()
	require.Empty(t, overlaps, "steps that ran on two instances at once")
	replayed, blocked := 0, 0
	for i, c := range tasks {
		key := c.id + "/call"
		var res struct {
			Steps map[string]struct {
				State string `json:"state"`
			} `json:"steps"`
		}
		var tv taskView
		require.Equal(t, http.StatusOK, survivors[i%2].call(t, http.MethodGet, "/task/"+c.id, "alice", nil, &tv),
			"accepted task %s is kept", c.id)
		require.Equal(t, http.StatusOK, survivors[i%2].call(t, http.MethodGet, "/resolution/"+tv.Resolution, "alice", nil, &res))
		step := res.Steps["call"].State
		what := fmt.Sprintf("%s task %s (on the victim: %v)", c.template, c.id, c.onVictim)
		switch {
		case !c.onVictim:
			require.Equal(t, "DONE", states[c.id], what)
			require.Equal(t, 1, calls[key], what)
		case c.template == "crash-idempotent":
			require.Equal(t, "DONE", states[c.id], what)
			require.Equal(t, "DONE", step, what)
			require.Equal(t, 2, calls[key], "%s: run again after the crash", what)
			replayed++
		default:
			require.Equal(t, "BLOCKED", states[c.id], what)
			require.Equal(t, "CRASHED", step, what)
			require.Equal(t, 1, calls[key], "%s: not run again", what)
			blocked++
		}
	}
	require.Positive(t, replayed)
	require.Positive(t, blocked)
	t.Logf("on the victim: %d idempotent tasks replayed, %d blocked", replayed, blocked)

	for _, p := range procs[1:] {
		p.stop(t)
	}
	out := procs[1].output() + procs[2].output()
	require.Contains(t, out, "recovering resolution", "a survivor took over the victim's work")
	t.Logf("victim elected: %v; a survivor elected: %v",
		strings.Contains(victim.output(), "elected leader"), strings.Contains(out, "elected leader"))
}

// ids maps tasks to their ids.
func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}
