package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// scrapeMetrics reads GET /metrics of base, without identity.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "%s", body)
	return families
}

// metricWith returns the metric of family name carrying every label of
// want, or nil.
func metricWith(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	for _, m := range families[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := len(got) == len(want)
		for k, v := range want {
			match = match && got[k] == v
		}
		if match {
			return m
		}
	}
	return nil
}

func TestMetricsAfterTasks(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logs := &lockedBuffer{}
	workDir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths: []string{filepath.Join("testdata", "templates")},
			ScriptsPath:    filepath.Join("testdata", "scripts"),
			FunctionsPath:  filepath.Join(workDir, "functions"),
			Region:         "default",
			LogsFormat:     "text",
		},
		Environ:  withDefaults(nil),
		WorkDir:  workDir,
		Logger:   slog.New(slog.NewTextHandler(logs, nil)),
		Listener: ln,
	})
	require.NoError(t, err)
	ts := &testServer{srv: srv, base: "http://" + ln.Addr().String(), workDir: workDir}
	t.Cleanup(func() { ts.stop(t) })

	const n = 3
	for range n {
		var created taskView
		require.Equal(t, http.StatusCreated, ts.call(t, http.MethodPost, "/task", "alice",
			map[string]any{"template_name": "three-echo", "input": map[string]any{"who": "metrics"}}, &created))
		require.Equal(t, "DONE", ts.waitTask(t, created.ID, "alice").State)
	}

	// The summaries are fed as the resolutions end; the gauge within its
	// 5 s refresh.
	tpl := map[string]string{"template": "three-echo"}
	var got map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		got = scrapeMetrics(t, ts.base)
		done := metricWith(got, "utask_task_state", map[string]string{"status": "DONE", "template": "three-echo", "group": ""})
		exec := metricWith(got, "utask_exec_times", tpl)
		return done != nil && done.GetGauge().GetValue() == n && exec != nil && exec.GetSummary().GetSampleCount() == n
	}, 20*time.Second, 50*time.Millisecond)

	for _, status := range []string{"TODO", "BLOCKED", "RUNNING", "WONTFIX", "CANCELLED"} {
		m := metricWith(got, "utask_task_state", map[string]string{"status": status, "template": "three-echo", "group": ""})
		require.NotNil(t, m, status)
		require.Zero(t, m.GetGauge().GetValue(), status)
	}
	for _, name := range []string{"utask_valid_times", "utask_complete_times", "utask_exec_times"} {
		m := metricWith(got, name, tpl)
		require.NotNil(t, m, name)
		require.Equal(t, uint64(n), m.GetSummary().GetSampleCount(), name)
		require.GreaterOrEqual(t, m.GetSummary().GetSampleSum(), 0.0, name)
	}
	complete := metricWith(got, "utask_complete_times", tpl).GetSummary().GetSampleSum()
	exec := metricWith(got, "utask_exec_times", tpl).GetSummary().GetSampleSum()
	valid := metricWith(got, "utask_valid_times", tpl).GetSummary().GetSampleSum()
	require.InDelta(t, complete, exec+valid, 1e-6, "creation to DONE is creation to resolution plus resolution to DONE")
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "promhttp_metric_handler_requests_total"} {
		require.Contains(t, got, name)
	}

	// /metrics has no audit line; the API requests have theirs.
	require.Contains(t, logs.String(), "path=/task ")
	require.NotContains(t, logs.String(), "path=/metrics")
}
