package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sentinel errors that name an error kind in the report.
var (
	errTransport = errors.New("transport")
	errDecode    = errors.New("decode")
	errTimeout   = errors.New("timeout")
)

// statusError is an answer with an unexpected HTTP status.
type statusError int

// Error names the status.
func (s statusError) Error() string { return "http " + strconv.Itoa(int(s)) }

// kindOf names the error kind of err, as the report counts it.
func kindOf(err error) string {
	var se statusError
	switch {
	case errors.As(err, &se):
		return "http_" + strconv.Itoa(int(se))
	case errors.Is(err, errDecode):
		return kindDecode
	case errors.Is(err, errTimeout):
		return kindTimeout
	default:
		return kindTransport
	}
}

// stats gathers the outcomes of the workers.
type stats struct {
	mu           sync.Mutex
	latencies    []time.Duration
	failed       map[string]int
	errors       map[string]int
	backPressure map[string]int
}

// newStats returns empty stats.
func newStats() *stats {
	return &stats{failed: map[string]int{}, errors: map[string]int{}, backPressure: map[string]int{}}
}

// addDone records a task DONE after d.
func (s *stats) addDone(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
}

// addFailed records a task that ended in a state other than DONE.
func (s *stats) addFailed(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed[state]++
}

// addError records a failed call of phase ("create" or "poll").
func (s *stats) addError(phase string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors[phase+"_"+kindOf(err)]++
}

// addBackPressure records a 429 or 503 answer.
func (s *stats) addBackPressure(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backPressure[strconv.Itoa(status)]++
}

// report is what a run measured.
type report struct {
	URLs           []string         `json:"urls"`
	Template       string           `json:"template"`
	Concurrency    int              `json:"concurrency"`
	ElapsedSeconds float64          `json:"elapsed_seconds"`
	Completed      int              `json:"completed"`
	Throughput     float64          `json:"throughput_per_second"`
	Latency        latencyReport    `json:"latency_ms"`
	Failed         int              `json:"failed"`
	FailedByState  map[string]int   `json:"failed_by_state"`
	Errors         map[string]int   `json:"errors"`
	BackPressure   backPressureInfo `json:"back_pressure"`
	Server         processReport    `json:"server"`
	Postgres       processReport    `json:"postgres"`
}

// latencyReport holds create-to-DONE latencies, in milliseconds.
type latencyReport struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// backPressureInfo counts the 429 and 503 answers.
type backPressureInfo struct {
	Total    int            `json:"total"`
	ByStatus map[string]int `json:"by_status"`
}

// processReport is the CPU time and memory of a group of processes.
type processReport struct {
	PIDs           []int   `json:"pids"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	CPUMsPerTask   float64 `json:"cpu_ms_per_task"`
	CPUUtilization float64 `json:"cpu_cores_busy"`
	RSSStartKB     []int64 `json:"rss_start_kb,omitempty"`
	RSSEndKB       []int64 `json:"rss_end_kb,omitempty"`
}

// report summarises the stats after elapsed.
func (s *stats) report(elapsed time.Duration) report {
	s.mu.Lock()
	lat := slices.Clone(s.latencies)
	failed := maps.Clone(s.failed)
	errs := maps.Clone(s.errors)
	bp := maps.Clone(s.backPressure)
	s.mu.Unlock()

	slices.Sort(lat)
	rep := report{
		ElapsedSeconds: elapsed.Seconds(),
		Completed:      len(lat),
		FailedByState:  failed,
		Errors:         errs,
		BackPressure:   backPressureInfo{Total: sumCounts(bp), ByStatus: bp},
		Failed:         sumCounts(failed),
	}
	if elapsed > 0 {
		rep.Throughput = float64(len(lat)) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		rep.Latency = latencyReport{
			P50: toMs(percentile(lat, 50)),
			P90: toMs(percentile(lat, 90)),
			P99: toMs(percentile(lat, 99)),
			Max: toMs(lat[len(lat)-1]),
		}
	}
	return rep
}

// percentile returns the p-th percentile of sorted by the nearest-rank
// method: the smallest value that at least p percent of the values do not
// exceed. sorted must not be empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// toMs converts d to fractional milliseconds.
func toMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ms formats fractional milliseconds for the text report.
func ms(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "ms" }

// sumCounts adds up the counts of m.
func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// formatCounts writes m as "k=v k=v" in key order, or "none".
func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+strconv.Itoa(m[k]))
	}
	return strings.Join(parts, " ")
}

// writeText prints rep for a human.
func writeText(w io.Writer, rep report) {
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format+"\n", args...) }
	p("urls:          %s", strings.Join(rep.URLs, ","))
	p("template:      %s, concurrency %d, %.1fs", rep.Template, rep.Concurrency, rep.ElapsedSeconds)
	p("completed:     %d tasks DONE, %.1f tasks/s", rep.Completed, rep.Throughput)
	p("latency:       p50 %s  p90 %s  p99 %s  max %s",
		ms(rep.Latency.P50), ms(rep.Latency.P90), ms(rep.Latency.P99), ms(rep.Latency.Max))
	p("failed:        %d (%s)", rep.Failed, formatCounts(rep.FailedByState))
	p("errors:        %d (%s)", sumCounts(rep.Errors), formatCounts(rep.Errors))
	p("back-pressure: %d (%s)", rep.BackPressure.Total, formatCounts(rep.BackPressure.ByStatus))
	if len(rep.Server.PIDs) > 0 {
		p("server cpu:    %.3fs, %.3f ms/task, %.2f cores, pids %v", rep.Server.CPUSeconds,
			rep.Server.CPUMsPerTask, rep.Server.CPUUtilization, rep.Server.PIDs)
		p("server rss:    start %v kB, end %v kB", rep.Server.RSSStartKB, rep.Server.RSSEndKB)
	}
	if len(rep.Postgres.PIDs) > 0 {
		p("postgres cpu:  %.3fs, %.3f ms/task, %.2f cores, %d processes",
			rep.Postgres.CPUSeconds, rep.Postgres.CPUMsPerTask, rep.Postgres.CPUUtilization, len(rep.Postgres.PIDs))
	}
}
