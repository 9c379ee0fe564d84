package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeServer answers POST /task and GET /task/{id} like a utask server
// whose tasks are DONE on their third poll. With faults, every 5th POST is
// refused with 503, every 7th other one with 500, every 3rd task created
// ends BLOCKED, and the first poll of task "2" answers 502.
type fakeServer struct {
	faults bool

	mu      sync.Mutex
	posts   int
	created int
	polls   map[string]int
	users   map[string]int
}

func newFakeServer(t *testing.T, faults bool) (*fakeServer, string) {
	t.Helper()
	f := &fakeServer{faults: faults, polls: map[string]int{}, users: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /task", f.create)
	mux.HandleFunc("GET /task/{id}", f.get)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeServer) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TemplateName string `json:"template_name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.TemplateName != "tpl" {
		http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[r.Header.Get("x-remote-user")]++
	f.posts++
	switch {
	case f.faults && f.posts%5 == 0:
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
		return
	case f.faults && f.posts%7 == 0:
		http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
		return
	}
	f.created++
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"id":"`+strconv.Itoa(f.created)+`","state":"TODO"}`)
}

func (f *fakeServer) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := strconv.Atoi(id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || n < 1 || n > f.created {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	f.polls[id]++
	if f.faults && id == "2" && f.polls[id] == 1 {
		http.Error(w, `{"error":"bad gateway"}`, http.StatusBadGateway)
		return
	}
	state := "RUNNING"
	if f.polls[id] >= 3 {
		state = stateDone
		if f.faults && n%3 == 0 {
			state = stateBlocked
		}
	}
	_, _ = io.WriteString(w, `{"id":"`+id+`","state":"`+state+`"}`)
}

func testOptions(urls []string, tasks, concurrency int) options {
	return options{
		urls:        urls,
		user:        "bench",
		template:    "tpl",
		concurrency: concurrency,
		tasks:       tasks,
		pollEvery:   time.Millisecond,
		taskTimeout: 10 * time.Second,
	}
}

func TestBenchCountsOutcomes(t *testing.T) {
	t.Parallel()
	fake, u := newFakeServer(t, true)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	rep, err := bench(context.Background(), testOptions([]string{u}, 10, 4), log, io.Discard)
	require.NoError(t, err)

	// Ten creations that are not refused: POSTs 1 to 12 with 5 and 10
	// refused (503) and 7 failing (500), so nine tasks of which 3, 6 and 9
	// end BLOCKED.
	require.Equal(t, 12, fake.posts)
	require.Equal(t, 6, rep.Completed)
	require.Equal(t, 3, rep.Failed)
	require.Equal(t, map[string]int{stateBlocked: 3}, rep.FailedByState)
	require.Equal(t, map[string]int{"create_http_500": 1, "poll_http_502": 1}, rep.Errors)
	require.Equal(t, backPressureInfo{Total: 2, ByStatus: map[string]int{"503": 2}}, rep.BackPressure)
	require.Equal(t, map[string]int{"bench": 12}, fake.users)
	require.Positive(t, rep.Throughput)
	require.Positive(t, rep.Latency.P50)
	require.LessOrEqual(t, rep.Latency.P50, rep.Latency.P90)
	require.LessOrEqual(t, rep.Latency.P90, rep.Latency.P99)
	require.LessOrEqual(t, rep.Latency.P99, rep.Latency.Max)
}

func TestBenchRoundRobin(t *testing.T) {
	t.Parallel()
	a, ua := newFakeServer(t, false)
	b, ub := newFakeServer(t, false)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	rep, err := bench(context.Background(), testOptions([]string{ua, ub}, 8, 3), log, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 8, rep.Completed)
	require.Empty(t, rep.Errors)
	require.Equal(t, 4, a.posts)
	require.Equal(t, 4, b.posts)
}

// A poll that fails (the server that created the task is down) goes on
// through the next server of the list, which serves the same tasks.
func TestBenchPollsAnotherServerAfterAFailure(t *testing.T) {
	t.Parallel()
	f := &fakeServer{polls: map[string]int{}, users: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /task", f.create)
	mux.HandleFunc("GET /task/{id}", f.get)
	healthy := httptest.NewServer(mux)
	t.Cleanup(healthy.Close)
	// The other one creates tasks, then hangs up on every poll.
	down := http.NewServeMux()
	down.HandleFunc("POST /task", f.create)
	down.HandleFunc("GET /task/{id}", func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	failing := httptest.NewServer(down)
	t.Cleanup(failing.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	opts := testOptions([]string{failing.URL, healthy.URL}, 8, 2)
	rep, err := bench(context.Background(), opts, log, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 8, rep.Completed, "every task followed to DONE")
	require.NotEmpty(t, rep.Errors, "the failed polls are counted")
}

func TestBenchMeasuresOwnProcess(t *testing.T) {
	t.Parallel()
	_, u := newFakeServer(t, false)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := testOptions([]string{u}, 20, 2)
	opts.serverPIDs = []int{os.Getpid()}

	rep, err := bench(context.Background(), opts, log, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 20, rep.Completed)
	require.Equal(t, []int{os.Getpid()}, rep.Server.PIDs)
	require.Len(t, rep.Server.RSSStartKB, 1)
	require.Len(t, rep.Server.RSSEndKB, 1)
	require.Positive(t, rep.Server.RSSEndKB[0])
	require.GreaterOrEqual(t, rep.Server.CPUSeconds, 0.0)
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	series := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i+1) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"HundredMedian", series(100), 50, 50 * time.Millisecond},
		{"HundredP90", series(100), 90, 90 * time.Millisecond},
		{"HundredP99", series(100), 99, 99 * time.Millisecond},
		{"TenP99IsMax", series(10), 99, 10 * time.Millisecond},
		{"TenMedian", series(10), 50, 5 * time.Millisecond},
		{"ThreeMedianIsMiddle", series(3), 50, 2 * time.Millisecond},
		{"OneValue", series(1), 90, time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, percentile(tc.values, tc.p))
		})
	}
}

func TestStatsReport(t *testing.T) {
	t.Parallel()
	s := newStats()
	for _, d := range []int{40, 10, 30, 20} {
		s.addDone(time.Duration(d) * time.Millisecond)
	}
	s.addFailed(stateBlocked)
	s.addBackPressure(http.StatusTooManyRequests)
	s.addBackPressure(http.StatusServiceUnavailable)
	s.addBackPressure(http.StatusServiceUnavailable)
	s.addError("poll", errTimeout)

	rep := s.report(2 * time.Second)
	require.Equal(t, 4, rep.Completed)
	require.InDelta(t, 2.0, rep.Throughput, 1e-9)
	require.Equal(t, latencyReport{P50: 20, P90: 40, P99: 40, Max: 40}, rep.Latency)
	require.Equal(t, backPressureInfo{Total: 3, ByStatus: map[string]int{"429": 1, "503": 2}}, rep.BackPressure)
	require.Equal(t, map[string]int{"poll_timeout": 1}, rep.Errors)
	require.Equal(t, 1, rep.Failed)
}

// A run is clean when every answer was expected and every task ended DONE:
// a task that ended otherwise fails it even without an error.
func TestCleanRun(t *testing.T) {
	t.Parallel()
	s := newStats()
	s.addDone(time.Millisecond)
	s.addBackPressure(http.StatusServiceUnavailable)
	require.True(t, s.report(time.Second).clean(), "back-pressure is expected")
	s.addFailed(stateBlocked)
	require.False(t, s.report(time.Second).clean(), "a task ended BLOCKED")
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	// Fields 3 to 17: state, ppid, pgrp, session, tty, tpgid, flags,
	// minflt, cminflt, majflt, cmajflt, utime, stime, cutime, cstime.
	line := "4242 (odd) name (x)) S 1 2 3 4 5 6 7 8 9 10 700 300 20 10 20 0 1 0\n"
	got, err := parseStat([]byte(line))
	require.NoError(t, err)
	require.Equal(t, uint64(1030), got)

	_, err = parseStat([]byte("4242 (short) S 1 2"))
	require.Error(t, err)
}

func TestParseRSS(t *testing.T) {
	t.Parallel()
	status := "Name:\tutask\nVmPeak:\t  99999 kB\nVmRSS:\t   24812 kB\nRssAnon:\t 1 kB\n"
	got, err := parseRSS(strings.NewReader(status))
	require.NoError(t, err)
	require.Equal(t, int64(24812), got)

	_, err = parseRSS(strings.NewReader("Name:\tkthread\n"))
	require.Error(t, err)
}

func TestProcessesNamedFindsSelf(t *testing.T) {
	t.Parallel()
	comm, err := os.ReadFile("/proc/self/comm")
	require.NoError(t, err)
	pids, err := processesNamed(strings.TrimSpace(string(comm)))
	require.NoError(t, err)
	require.Contains(t, pids, os.Getpid())
}

func TestFirstPollSettlesAroundTheMedian(t *testing.T) {
	t.Parallel()
	// Tasks that end 1, 2, ... 10 ms after the creation's answer, in turn:
	// the median is between 5 and 6 ms.
	p := newFirstPoller(-1)
	var waits []time.Duration
	for i := range 4000 {
		end := time.Duration(i%10+1) * time.Millisecond
		w := p.next()
		p.observe(w >= end)
		if i >= 3000 {
			waits = append(waits, w)
		}
	}
	slices.Sort(waits)
	median := waits[len(waits)/2]
	require.GreaterOrEqual(t, median, 4*time.Millisecond)
	require.LessOrEqual(t, median, 7*time.Millisecond)

	fixed := newFirstPoller(3 * time.Millisecond)
	fixed.observe(true)
	fixed.observe(false)
	require.Equal(t, 3*time.Millisecond, fixed.next(), "a fixed wait does not adapt")
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"Defaults", nil, true},
		{"URLList", []string{"-url", "http://127.0.0.1:1,http://127.0.0.1:2/"}, true},
		{"PostgresAuto", []string{"-postgres-pids", "auto", "-server-pid", "1,2"}, true},
		{"NotHTTP", []string{"-url", "ftp://127.0.0.1"}, false},
		{"NoLimit", []string{"-duration", "0"}, false},
		{"BadPID", []string{"-server-pid", "x"}, false},
		{"NoWorkers", []string{"-concurrency", "0"}, false},
		{"BadInput", []string{"-input", "[1]"}, false},
		{"FixedFirstPoll", []string{"-first-poll", "2ms"}, true},
		{"BadFirstPoll", []string{"-first-poll", "soon"}, false},
		{"NegativeFirstPoll", []string{"-first-poll", "-1ms"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, err := parseOptions(tc.args, io.Discard)
			if !tc.ok {
				require.ErrorIs(t, err, errUsage)
				return
			}
			require.NoError(t, err)
			require.NotEmpty(t, opts.urls)
			for _, u := range opts.urls {
				require.False(t, strings.HasSuffix(u, "/"), u)
			}
		})
	}
}
