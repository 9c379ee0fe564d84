package main

import (
	"context"
	"sync"
	"time"
)

// rssSample is the resident set size of the server processes at one moment
// of a run.
type rssSample struct {
	// Percent is how far the run was: tasks DONE out of -tasks, else time
	// out of -duration. In a milestone it is the milestone's percentage.
	Percent        float64 `json:"percent"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Completed      int     `json:"completed"`
	RSSKB          []int64 `json:"rss_kb"`
}

// rssMilestones are the points of a run whose RSS the report names.
var rssMilestones = [...]float64{0, 25, 50, 75, 100} //nolint:gochecknoglobals // constant table

// rssSampler reads the RSS of the server processes at intervals during a
// run, and keeps the first sample at or past each milestone.
type rssSampler struct {
	pids      []int
	began     time.Time
	tasks     int
	duration  time.Duration
	completed func() int

	mu         sync.Mutex
	samples    []rssSample
	milestones []rssSample
}

// newRSSSampler returns a sampler of pids for a run that began then, and
// whose progress is completed out of tasks (when tasks > 0) or the time
// elapsed out of duration.
func newRSSSampler(pids []int, began time.Time, tasks int, duration time.Duration, completed func() int) *rssSampler {
	return &rssSampler{pids: pids, began: began, tasks: tasks, duration: duration, completed: completed}
}

// sample reads the RSS now. A process that cannot be read (it exited) makes
// no sample.
func (s *rssSampler) sample(now time.Time) {
	rss, err := sampleRSS(s.pids)
	if err != nil {
		return
	}
	done := s.completed()
	elapsed := now.Sub(s.began)
	pct := 0.0
	switch {
	case s.tasks > 0:
		pct = 100 * float64(done) / float64(s.tasks)
	case s.duration > 0:
		pct = 100 * elapsed.Seconds() / s.duration.Seconds()
	}
	pct = min(pct, 100)
	smp := rssSample{Percent: pct, ElapsedSeconds: elapsed.Seconds(), Completed: done, RSSKB: rss}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, smp)
	for _, m := range rssMilestones[len(s.milestones):] {
		if pct < m {
			break
		}
		ms := smp
		ms.Percent = m
		s.milestones = append(s.milestones, ms)
	}
}

// run samples every interval until ctx ends.
func (s *rssSampler) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.sample(now)
		}
	}
}

// result returns every sample and the milestones reached.
func (s *rssSampler) result() (samples, milestones []rssSample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rssSample(nil), s.samples...), append([]rssSample(nil), s.milestones...)
}
