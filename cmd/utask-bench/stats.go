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
	errHang      = errors.New("hang")
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
	case errors.Is(err, errHang):
		return kindHang
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
	// answers counts every request by HTTP status, or kindTransport and
	// kindHang for those without an answer; answerLat is how long each
	// took.
	answers   map[string]int
	answerLat []time.Duration
}

// newStats returns empty stats.
func newStats() *stats {
	return &stats{failed: map[string]int{}, errors: map[string]int{}, backPressure: map[string]int{}, answers: map[string]int{}}
}

// addDone records a task DONE after d.
func (s *stats) addDone(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencies = append(s.latencies, d)
}

// addAnswer records one request: its status (or kind of failure) and how
// long it took.
func (s *stats) addAnswer(status string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[status]++
	s.answerLat = append(s.answerLat, d)
}

// completed is the number of tasks DONE so far.
func (s *stats) completed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.latencies)
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
	// Answers counts every request by HTTP status ("transport" and "hang"
	// for those without an answer); AnswerLatency is over every request.
	Answers       map[string]int `json:"answers_by_status"`
	AnswerLatency latencyReport  `json:"answer_latency_ms"`
	// BusyStatus is the back-pressure status the run accepts; Unexpected
	// counts the requests answered with neither a 2xx nor it, or not at
	// all.
	BusyStatus int           `json:"busy_status"`
	Unexpected int           `json:"unexpected_answers"`
	Server     processReport `json:"server"`
	Postgres   processReport `json:"postgres"`
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
	// RSSSamples are the resident set sizes read during the run;
	// RSSMilestones those at 0, 25, 50, 75 and 100 % of it.
	RSSSamples    []rssSample `json:"rss_samples,omitempty"`
	RSSMilestones []rssSample `json:"rss_milestones,omitempty"`
}

// report summarises the stats after elapsed.
func (s *stats) report(elapsed time.Duration) report {
	s.mu.Lock()
	lat := slices.Clone(s.latencies)
	failed := maps.Clone(s.failed)
	errs := maps.Clone(s.errors)
	bp := maps.Clone(s.backPressure)
	answers := maps.Clone(s.answers)
	answerLat := slices.Clone(s.answerLat)
	s.mu.Unlock()

	slices.Sort(lat)
	slices.Sort(answerLat)
	rep := report{
		ElapsedSeconds: elapsed.Seconds(),
		Completed:      len(lat),
		FailedByState:  failed,
		Errors:         errs,
		BackPressure:   backPressureInfo{Total: sumCounts(bp), ByStatus: bp},
		Failed:         sumCounts(failed),
		Answers:        answers,
		AnswerLatency:  latencies(answerLat),
	}
	if elapsed > 0 {
		rep.Throughput = float64(len(lat)) / elapsed.Seconds()
	}
	rep.Latency = latencies(lat)
	return rep
}

// clean tells whether every request was answered with a 2xx or the
// back-pressure status and every task ended DONE.
func (r report) clean() bool {
	return r.Unexpected == 0 && len(r.Errors) == 0 && r.Failed == 0
}

// latencies summarises sorted durations; all zero when there are none.
func latencies(sorted []time.Duration) latencyReport {
	if len(sorted) == 0 {
		return latencyReport{}
	}
	return latencyReport{
		P50: toMs(percentile(sorted, 50)),
		P90: toMs(percentile(sorted, 90)),
		P99: toMs(percentile(sorted, 99)),
		Max: toMs(sorted[len(sorted)-1]),
	}
}

// unexpectedAnswers counts the requests of answers that got neither a 2xx
// status nor busy.
func unexpectedAnswers(answers map[string]int, busy int) int {
	n := 0
	for status, count := range answers {
		code, err := strconv.Atoi(status)
		if err != nil || (code/100 != 2 && code != busy) {
			n += count
		}
	}
	return n
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
	p("answers:       %d (%s), %d unexpected (neither 2xx nor %d)", sumCounts(rep.Answers),
		formatCounts(rep.Answers), rep.Unexpected, rep.BusyStatus)
	p("per request:   p50 %s  p90 %s  p99 %s  slowest %s",
		ms(rep.AnswerLatency.P50), ms(rep.AnswerLatency.P90), ms(rep.AnswerLatency.P99), ms(rep.AnswerLatency.Max))
	if len(rep.Server.PIDs) > 0 {
		p("server cpu:    %.3fs, %.3f ms/task, %.2f cores, pids %v", rep.Server.CPUSeconds,
			rep.Server.CPUMsPerTask, rep.Server.CPUUtilization, rep.Server.PIDs)
		p("server rss:    start %v kB, end %v kB", rep.Server.RSSStartKB, rep.Server.RSSEndKB)
		for _, m := range rep.Server.RSSMilestones {
			p("  rss at %3.0f%%: %v kB (%.1fs, %d tasks DONE)", m.Percent, m.RSSKB, m.ElapsedSeconds, m.Completed)
		}
	}
	if len(rep.Postgres.PIDs) > 0 {
		p("postgres cpu:  %.3fs, %.3f ms/task, %.2f cores, %d processes",
			rep.Postgres.CPUSeconds, rep.Postgres.CPUMsPerTask, rep.Postgres.CPUUtilization, len(rep.Postgres.PIDs))
	}
}
