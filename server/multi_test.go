package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

// counter is the loopback server the multi-instance templates call: it
// counts the calls of every step of every task (/count/<task>/<step>),
// holds each until gate is closed (when gate is set) and then for its delay
// query parameter, and records the steps of which two calls overlapped,
// which only two instances running one step at once can cause.
type counter struct {
	gate chan struct{}

	mu       sync.Mutex
	calls    map[string]int
	inflight map[string]int
	overlaps map[string]int
	total    int
}

func newCounter() *counter {
	return &counter{calls: map[string]int{}, inflight: map[string]int{}, overlaps: map[string]int{}}
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, "/count/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	delay, err := time.ParseDuration(r.URL.Query().Get("delay"))
	if err != nil {
		delay = 0
	}
	c.mu.Lock()
	c.calls[key]++
	c.total++
	c.inflight[key]++
	if c.inflight[key] > 1 {
		c.overlaps[key]++
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inflight[key]--
		c.mu.Unlock()
	}()
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-r.Context().Done():
			return
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"counted": true}`))
}

// snapshot copies the counts.
func (c *counter) snapshot() (calls, overlaps map[string]int, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, overlaps = make(map[string]int, len(c.calls)), make(map[string]int, len(c.overlaps))
	for k, v := range c.calls {
		calls[k] = v
	}
	for k, v := range c.overlaps {
		overlaps[k] = v
	}
	return calls, overlaps, c.total
}

// multiConfig is the utask-cfg item of the multi-instance tests: few
// connections per instance, as several instances and tests share one
// PostgreSQL server.
const multiConfig = `{"admin_usernames":["admin"],"database_config":{"max_open_conns":12}}`

// startInstance starts an in-process server on the shared database dbURL,
// on a loopback port of its own, serving the templates of testdata/multi.
func startInstance(t *testing.T, dbURL string, tuning server.EngineTuning) *testServer {
	t.Helper()
	return startInstanceWith(t, dbURL, tuning, multiConfig)
}

// startInstanceWith is startInstance with the utask-cfg item utaskCfg.
func startInstanceWith(t *testing.T, dbURL string, tuning server.EngineTuning, utaskCfg string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	workDir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths: []string{filepath.Join("testdata", "multi")},
			ScriptsPath:    filepath.Join("testdata", "scripts"),
			FunctionsPath:  filepath.Join(workDir, "functions"),
			Region:         "default",
			LogsFormat:     "text",
		},
		Environ: []string{
			"CONFIGURATION_FROM=env:CFG", "CFG_DATABASE=" + dbURL, "CFG_ENCRYPTION_KEY=" + testKey,
			"CFG_UTASK_CFG=" + utaskCfg,
		},
		WorkDir:  workDir,
		Logger:   logger,
		Listener: ln,
		Tuning:   tuning,
	})
	require.NoError(t, err)
	ts := &testServer{srv: srv, base: "http://" + ln.Addr().String(), workDir: workDir}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// createTasks creates n tasks of template with input, spread over the
// instances in turn, every fourth one delayed so that it is left for a
// claim that any instance may win. It returns the ids of the tasks.
func createTasks(t *testing.T, instances []*testServer, n int, template string, input map[string]any) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				body := map[string]any{"template_name": template, "input": input}
				if i%4 == 3 {
					body["delay"] = "50ms"
				}
				var created taskView
				status := instances[i%len(instances)].call(t, http.MethodPost, "/task", "alice", body, &created)
				if status != http.StatusCreated || created.ID == "" {
					errs <- fmt.Errorf("task %d: status %d", i, status)
					continue
				}
				ids[i] = created.ID
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return ids
}

// waitDone waits until every task is in a final state and returns the
// states, read through the instances in turn.
func waitDone(t *testing.T, instances []*testServer, ids []string, within time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(within)
	states := make(map[string]string, len(ids))
	for i, id := range ids {
		for {
			var tv taskView
			require.Equal(t, http.StatusOK, instances[i%len(instances)].call(t, http.MethodGet, "/task/"+id, "alice", nil, &tv))
			if tv.State == "DONE" || tv.State == "BLOCKED" || tv.State == "CANCELLED" {
				states[id] = tv.State
				break
			}
			require.True(t, time.Now().Before(deadline), "task %s still %s", id, tv.State)
			time.Sleep(20 * time.Millisecond)
		}
	}
	return states
}

func TestInstancesShareTheWork(t *testing.T) {
	t.Parallel()
	const tasks = 1000
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("Instances%d", n), func(t *testing.T) {
			t.Parallel()
			db := pgtest.FreshSchema(t)
			count := newCounter()
			target := httptest.NewServer(count)
			t.Cleanup(target.Close)
			tuning := server.EngineTuning{
				HeartbeatInterval: time.Second, DeadAfter: 20 * time.Second,
				ElectInterval: 500 * time.Millisecond, MaintenanceInterval: time.Second,
				PollInterval: 2 * time.Second,
			}
			instances := make([]*testServer, n)
			for i := range instances {
				instances[i] = startInstance(t, db, tuning)
			}

			ids := createTasks(t, instances, tasks, "multi-count", map[string]any{"target": target.URL})
			states := waitDone(t, instances, ids, 60*time.Second)

			calls, overlaps, total := count.snapshot()
			require.Empty(t, overlaps, "steps that ran on two instances at once")
			require.Equal(t, 2*tasks, total, "calls in all")
			for _, id := range ids {
				require.Equal(t, "DONE", states[id], "task %s", id)
				for _, step := range []string{"first", "second"} {
					require.Equal(t, 1, calls[id+"/"+step], "calls of step %s of task %s", step, id)
				}
			}
		})
	}
}
