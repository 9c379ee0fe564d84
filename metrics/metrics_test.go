package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/metrics"
	"github.com/utask/utask/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// counts is a Counter whose answer the test changes.
type counts struct {
	mu  sync.Mutex
	now []metrics.TaskCount
	err error
}

func (c *counts) set(now []metrics.TaskCount, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.err = now, err
}

func (c *counts) count(context.Context) ([]metrics.TaskCount, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]metrics.TaskCount(nil), c.now...), c.err
}

// scrape reads the metrics served by h.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// series returns the metric of family name whose labels are exactly want,
// or nil.
func series(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(want) {
			continue
		}
		same := true
		for k, v := range want {
			if got[k] != v {
				same = false
			}
		}
		if same {
			return m
		}
	}
	return nil
}

// gauge returns the value of utask_task_state for status, template and
// group, and whether the series exists.
func gauge(families map[string]*dto.MetricFamily, status, template, group string) (float64, bool) {
	m := series(families, "utask_task_state", map[string]string{"status": status, "template": template, "group": group})
	if m == nil {
		return 0, false
	}
	return m.GetGauge().GetValue(), true
}

func newMetrics(t *testing.T, cfg metrics.Config) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New(cfg)
	require.NoError(t, err)
	return m
}

func TestTaskStateGauge(t *testing.T) {
	t.Parallel()
	c := &counts{}
	c.set([]metrics.TaskCount{
		{Template: "deploy", Group: "ops", State: "DONE", Count: 3},
		{Template: "deploy", Group: "ops", State: "WAITING", Count: 2},
		{Template: "deploy", Group: "dev", State: "TODO", Count: 1},
		{Template: "deploy", Group: "dev", State: "TODO", Count: 1},
	}, nil)
	m := newMetrics(t, metrics.Config{Count: c.count})
	require.NoError(t, m.Refresh(t.Context()))

	got := scrape(t, m.Handler())
	for _, tc := range []struct {
		status, group string
		want          float64
	}{
		{"DONE", "ops", 3}, {"WAITING", "ops", 2}, {"TODO", "ops", 0}, {"BLOCKED", "ops", 0},
		{"RUNNING", "ops", 0}, {"WONTFIX", "ops", 0}, {"CANCELLED", "ops", 0},
		{"TODO", "dev", 2}, {"DONE", "dev", 0},
	} {
		v, ok := gauge(got, tc.status, "deploy", tc.group)
		require.True(t, ok, "%s %s", tc.status, tc.group)
		require.InDelta(t, tc.want, v, 0, "%s %s", tc.status, tc.group)
	}
	_, ok := gauge(got, "WAITING", "deploy", "dev")
	require.False(t, ok, "a state neither counted nor always present has no series")

	// The ops group is no longer counted: its series keep their values.
	c.set([]metrics.TaskCount{{Template: "deploy", Group: "dev", State: "DONE", Count: 5}}, nil)
	require.NoError(t, m.Refresh(t.Context()))
	got = scrape(t, m.Handler())
	v, _ := gauge(got, "DONE", "deploy", "ops")
	require.InDelta(t, 3.0, v, 0)
	v, _ = gauge(got, "DONE", "deploy", "dev")
	require.InDelta(t, 5.0, v, 0)
	v, _ = gauge(got, "TODO", "deploy", "dev")
	require.InDelta(t, 0.0, v, 0)

	boom := errors.New("boom")
	c.set(nil, boom)
	require.ErrorIs(t, m.Refresh(t.Context()), boom)
}

func TestRefreshLoopRunsUntilStop(t *testing.T) {
	t.Parallel()
	c := &counts{}
	c.set([]metrics.TaskCount{{Template: "a", State: "TODO", Count: 1}}, nil)
	m := newMetrics(t, metrics.Config{Count: c.count, Interval: 10 * time.Millisecond})
	m.Start(t.Context())
	m.Start(t.Context()) // a second Start does nothing
	defer m.Stop()

	require.Eventually(t, func() bool {
		v, ok := gauge(scrape(t, m.Handler()), "TODO", "a", "")
		return ok && v == 1
	}, 10*time.Second, 5*time.Millisecond)
	c.set([]metrics.TaskCount{{Template: "a", State: "TODO", Count: 7}}, nil)
	require.Eventually(t, func() bool {
		v, _ := gauge(scrape(t, m.Handler()), "TODO", "a", "")
		return v == 7
	}, 10*time.Second, 5*time.Millisecond)
}

func TestCompletionSummaries(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0.Add(10 * time.Second)
	m := newMetrics(t, metrics.Config{
		Count: (&counts{}).count,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		},
	})
	m.Start(t.Context())
	defer m.Stop()

	// t1 was created at t0 and its resolution 4 s later; t2 at t0+1s and
	// its resolution 1 s later.
	ev1 := engine.Event{
		ResolutionID: "r1", TaskID: "t1", Template: "deploy",
		TaskCreated: t0, ResolutionCreated: t0.Add(4 * time.Second),
	}
	ev2 := engine.Event{
		ResolutionID: "r2", TaskID: "t2", Template: "deploy",
		TaskCreated: t0.Add(time.Second), ResolutionCreated: t0.Add(2 * time.Second),
	}

	// Only the end of a cycle in DONE counts.
	step := ev1
	step.Step, step.State = "first", "DONE"
	m.Observe(step)
	blocked := ev1
	blocked.State = "BLOCKED_BADREQUEST"
	m.Observe(blocked)
	ev1.State = "DONE"
	m.Observe(ev1)
	mu.Lock()
	now = t0.Add(5 * time.Second)
	mu.Unlock()
	ev2.State = "DONE"
	m.Observe(ev2)

	tpl := map[string]string{"template": "deploy"}
	got := scrape(t, m.Handler()) // Observe is synchronous

	for _, tc := range []struct {
		name string
		sum  float64 // of t1 then t2
	}{
		{"utask_valid_times", 4 + 1},
		{"utask_complete_times", 10 + 4},
		{"utask_exec_times", 6 + 3},
	} {
		s := series(got, tc.name, tpl)
		require.NotNil(t, s, tc.name)
		require.Equal(t, uint64(2), s.GetSummary().GetSampleCount(), tc.name)
		require.InDelta(t, tc.sum, s.GetSummary().GetSampleSum(), 1e-9, tc.name)
	}
	require.Empty(t, series(got, "utask_valid_times", tpl).GetSummary().GetQuantile(), "valid times: sum and count only")
	require.NotEmpty(t, series(got, "utask_complete_times", tpl).GetSummary().GetQuantile())
}

func TestDefaultCollectors(t *testing.T) {
	t.Parallel()
	m := newMetrics(t, metrics.Config{Count: (&counts{}).count})
	_ = scrape(t, m.Handler()) // the handler counts the scrapes it served
	got := scrape(t, m.Handler())
	for _, name := range []string{
		"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes",
		"process_cpu_seconds_total", "promhttp_metric_handler_requests_total",
	} {
		require.Contains(t, got, name)
	}
	require.Positive(t, got["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue())
	ok := series(got, "promhttp_metric_handler_requests_total", map[string]string{"code": "200"})
	require.NotNil(t, ok)
	require.GreaterOrEqual(t, ok.GetCounter().GetValue(), 1.0)
}

func TestGroupCounts(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{"deploy": {"sre", "dba"}}
	count := metrics.GroupCounts(func(context.Context) ([]store.TaskGroupCount, error) {
		return []store.TaskGroupCount{
			{Template: "deploy", State: "TODO", Count: 2},                                  // the template's groups
			{Template: "deploy", ResolverGroups: []string{"ops"}, State: "TODO", Count: 1}, // its own
			{Template: "deploy", ResolverGroups: []string{}, State: "DONE", Count: 4},      // none at all
			{Template: "other", State: "DONE", Count: 3},                                   // the group ""
		}, nil
	}, func(template string) []string { return allowed[template] })
	got, err := count(t.Context())
	require.NoError(t, err)
	require.ElementsMatch(t, []metrics.TaskCount{
		{Template: "deploy", Group: "sre", State: "TODO", Count: 2},
		{Template: "deploy", Group: "dba", State: "TODO", Count: 2},
		{Template: "deploy", Group: "ops", State: "TODO", Count: 1},
		{Template: "other", Group: "", State: "DONE", Count: 3},
	}, got)
}

func TestNewNeedsACounter(t *testing.T) {
	t.Parallel()
	_, err := metrics.New(metrics.Config{})
	require.ErrorIs(t, err, metrics.ErrConfig)
}
