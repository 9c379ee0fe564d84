// Package metrics owns the Prometheus metrics of a utask server, served at
// GET /metrics:
//
//   - utask_task_state (gauge; status, template, group): the tasks in each
//     state, per template and resolver group, counted from the store every
//     refresh interval (5 s). For each template and group the states TODO,
//     BLOCKED, RUNNING, WONTFIX, DONE and CANCELLED are always set (0 when
//     no task is in them). Series are only set, never removed: a
//     combination that is no longer counted keeps its last value.
//   - utask_valid_times (summary, sum and count only; template): seconds
//     from a task's creation to its resolution's creation.
//   - utask_complete_times (summary; template): seconds from a task's
//     creation to its resolution being DONE.
//   - utask_exec_times (summary; template): seconds from a resolution's
//     creation to it being DONE.
//
// plus the client library's Go runtime (go_*), process (process_*) and
// handler (promhttp_*) metrics, all on a registry of their own. The three
// summaries are fed by the engine's events: the event that ends a cycle in
// DONE carries the template and the creation times it needs.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// DefaultInterval is how often utask_task_state is refreshed when
// Config.Interval is not set.
const DefaultInterval = 5 * time.Second

// alwaysStates are set for every template and group, 0 when no task is in
// them.
var alwaysStates = []string{ //nolint:gochecknoglobals // constant list
	state.TaskTodo, state.TaskBlocked, state.TaskRunning, state.TaskWontfix, state.TaskDone, state.TaskCancelled,
}

// ErrConfig reports a Config that misses a required field.
var ErrConfig = errors.New("invalid metrics configuration")

// TaskCount is the number of tasks of one template and resolver group in
// one state.
type TaskCount struct {
	Template string
	Group    string
	State    string
	Count    int
}

// Counter counts the tasks by template, resolver group and state.
type Counter func(ctx context.Context) ([]TaskCount, error)

// Config is what the metrics read from.
type Config struct {
	// Count counts the tasks for utask_task_state. Required.
	Count Counter
	// Interval is the refresh interval of utask_task_state. Defaults to
	// DefaultInterval.
	Interval time.Duration
	// Logger receives the errors of the refreshes. Defaults
	// to discarding them.
	Logger *slog.Logger
	// Now is the clock of the completions. Defaults to time.Now.
	Now func() time.Time
}

// Metrics is the registry of a server's metrics and the loops that feed it.
type Metrics struct {
	cfg      Config
	registry *prometheus.Registry
	handler  http.Handler

	taskState     *prometheus.GaugeVec
	validTimes    *prometheus.SummaryVec
	completeTimes *prometheus.SummaryVec
	execTimes     *prometheus.SummaryVec

	mu      sync.Mutex
	started bool
	stop    context.CancelFunc
	loops   sync.WaitGroup
}

// New builds the registry. Nothing runs until Start.
func New(cfg Config) (*Metrics, error) {
	if cfg.Count == nil {
		return nil, fmt.Errorf("%w: Count is required", ErrConfig)
	}

	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}

	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	m := &Metrics{
		cfg:      cfg,
		registry: prometheus.NewRegistry(),
		taskState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "utask_task_state",
			Help: "Number of tasks in each state, per template and resolver group.",
		}, []string{"status", "template", "group"}),
		validTimes: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: "utask_valid_times",
			Help: "Seconds from the creation of a task to the creation of its resolution.",
		}, []string{"template"}),
		completeTimes: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name:       "utask_complete_times",
			Help:       "Seconds from the creation of a task to its resolution being DONE.",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}, //nolint:mnd // quantiles
		}, []string{"template"}),
		execTimes: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name:       "utask_exec_times",
			Help:       "Seconds from the creation of a resolution to it being DONE.",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}, //nolint:mnd // quantiles
		}, []string{"template"}),
	}

	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.taskState, m.validTimes, m.completeTimes, m.execTimes,
	} {
		if err := m.registry.Register(c); err != nil {
			return nil, fmt.Errorf("register collector: %w", err)
		}
	}

	m.handler = promhttp.InstrumentMetricHandler(m.registry,
		promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorLog: slogErrorLog{cfg.Logger}}))

	return m, nil
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Observe takes an engine event: the end of a cycle in DONE is observed by
// the three summaries, timed against the clock. It never blocks on I/O.
func (m *Metrics) Observe(ev engine.Event) {
	if ev.Step != "" || ev.State != state.ResDone {
		return
	}

	at := m.cfg.Now()
	m.validTimes.WithLabelValues(ev.Template).Observe(seconds(ev.ResolutionCreated.Sub(ev.TaskCreated)))
	m.completeTimes.WithLabelValues(ev.Template).Observe(seconds(at.Sub(ev.TaskCreated)))
	m.execTimes.WithLabelValues(ev.Template).Observe(seconds(at.Sub(ev.ResolutionCreated)))
}

// Start refreshes utask_task_state once, then every interval, until Stop.
// A second Start does nothing.
func (m *Metrics) Start(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()

	if m.started {
		return
	}

	m.started = true
	ctx, m.stop = context.WithCancel(context.WithoutCancel(ctx))

	m.loops.Go(func() { m.refreshLoop(ctx) })
}

// Stop stops the refreshes and waits for them.
func (m *Metrics) Stop() {
	m.mu.Lock()
	stop := m.stop
	m.mu.Unlock()

	if stop != nil {
		stop()
	}

	m.loops.Wait()
}

// refreshLoop refreshes utask_task_state every interval until ctx ends.
func (m *Metrics) refreshLoop(ctx context.Context) {
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()

	for {
		if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.WarnContext(ctx, "refresh task state metrics", "err", err)
		}

		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Refresh counts the tasks and sets utask_task_state.
func (m *Metrics) Refresh(ctx context.Context) error {
	counts, err := m.cfg.Count(ctx)
	if err != nil {
		return fmt.Errorf("count tasks: %w", err)
	}

	type pair struct{ template, group string }

	byPair := map[pair]map[string]int{}

	for _, c := range counts {
		p := pair{c.Template, c.Group}
		if byPair[p] == nil {
			byPair[p] = map[string]int{}
		}

		byPair[p][c.State] += c.Count
	}

	for p, states := range byPair {
		for _, s := range alwaysStates {
			if _, ok := states[s]; !ok {
				states[s] = 0
			}
		}

		for s, n := range states {
			m.taskState.WithLabelValues(s, p.template, p.group).Set(float64(n))
		}
	}

	return nil
}

// seconds is d in seconds, never negative (clocks of several instances may
// disagree a little).
func seconds(d time.Duration) float64 { return max(d, 0).Seconds() }

// GroupCounts makes a Counter of a count of tasks by template, resolver
// groups and state (store.Store's TaskCountByGroups), as µTask counts them:
// a task counts once for each of its resolver groups; a task that names
// none counts for each of its template's allowed resolver groups
// (allowedGroups), else for the group ""; a task whose list of resolver
// groups is empty, not absent, counts for none.
func GroupCounts(
	count func(ctx context.Context) ([]store.TaskGroupCount, error),
	allowedGroups func(template string) []string,
) Counter {
	return func(ctx context.Context) ([]TaskCount, error) {
		rows, err := count(ctx)
		if err != nil {
			return nil, err
		}

		out := make([]TaskCount, 0, len(rows))
		for _, r := range rows {
			groups := r.ResolverGroups
			if groups == nil {
				groups = allowedGroups(r.Template)
			}

			if groups == nil {
				groups = []string{""}
			}

			for _, g := range groups {
				out = append(out, TaskCount{Template: r.Template, Group: g, State: r.State, Count: r.Count})
			}
		}

		return out, nil
	}
}

// slogErrorLog passes the handler's errors to a slog.Logger.
type slogErrorLog struct{ log *slog.Logger }

// Println logs v at error level.
func (l slogErrorLog) Println(v ...any) { l.log.Error("serve metrics", "err", fmt.Sprint(v...)) }
