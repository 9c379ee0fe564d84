package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Task states the workers act on.
const (
	stateDone    = "DONE"
	stateBlocked = "BLOCKED"
)

// Error kinds that are not an HTTP status.
const (
	kindTransport = "transport"
	kindDecode    = "decode"
	kindTimeout   = "timeout"
	kindHang      = "hang"
)

// defaultHangTimeout is how long a request may go unanswered before it
// counts as a hang, when options.hangTimeout is not set.
const defaultHangTimeout = 30 * time.Second

// drainGrace bounds how long the tasks still in flight when the duration
// ends may take to finish before the run stops waiting for them.
const drainGrace = 30 * time.Second

// errNotCreated reports a POST /task that gave no task.
var errNotCreated = errors.New("task not created")

// loader runs the workers against the servers.
type loader struct {
	opts   options
	client *http.Client
	stats  *stats
	// next picks the server of the next task, round-robin.
	next atomic.Uint64
	// claimed counts the tasks workers set out to create, for -tasks.
	claimed atomic.Int64
	// firstPoll paces the first poll of each task.
	firstPoll *firstPoller
}

// firstPoller is the wait before the first poll of a task: fixed, or, when
// adaptive, shortened by a sixteenth each time a first poll finds its task
// ended and lengthened by a sixteenth (plus 50 µs, so that it can grow from
// nothing) each time it does not. It settles where about half the first
// polls find the task ended: around the median time from the creation's
// answer to the end.
type firstPoller struct {
	adaptive bool
	wait     atomic.Int64 // nanoseconds
}

func newFirstPoller(d time.Duration) *firstPoller {
	p := &firstPoller{adaptive: d < 0}
	p.wait.Store(int64(max(d, 0)))
	return p
}

// next is the wait before a first poll.
func (p *firstPoller) next() time.Duration { return time.Duration(p.wait.Load()) }

// observe records whether a first poll found its task ended.
func (p *firstPoller) observe(ended bool) {
	if !p.adaptive {
		return
	}
	for {
		old := p.wait.Load()
		w := old + old/16 + int64(50*time.Microsecond)
		if ended {
			w = old - old/16
		}
		if p.wait.CompareAndSwap(old, min(w, int64(time.Second))) {
			return
		}
	}
}

// taskView is the part of a task the workers read.
type taskView struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// bench runs the load described by opts and returns the report. Progress
// lines go to progress every opts.progress.
func bench(ctx context.Context, opts options, log *slog.Logger, progress io.Writer) (report, error) {
	pgPIDs := opts.pgPIDs
	if opts.pgAuto {
		found, err := processesNamed("postgres")
		if err != nil {
			return report{}, fmt.Errorf("find postgres processes: %w", err)
		}
		if len(found) == 0 {
			log.Warn("no process named postgres", "hint", "PostgreSQL figures will be zero")
		}
		pgPIDs = found
	}
	startServer, err := sampleCPU(opts.serverPIDs, false)
	if err != nil {
		return report{}, err
	}
	startPG, err := sampleCPU(pgPIDs, opts.pgAuto)
	if err != nil {
		return report{}, err
	}
	rssStart, err := sampleRSS(opts.serverPIDs)
	if err != nil {
		return report{}, err
	}

	transport := &http.Transport{
		MaxIdleConns:        2 * opts.concurrency * len(opts.urls),
		MaxIdleConnsPerHost: 2 * opts.concurrency,
		IdleConnTimeout:     30 * time.Second,
	}
	defer transport.CloseIdleConnections()
	l := &loader{
		opts:   opts,
		client: &http.Client{Transport: transport, Timeout: opts.hangTimeout},
		stats:  newStats(),

		firstPoll: newFirstPoller(opts.firstPoll),
	}
	if l.client.Timeout <= 0 {
		l.client.Timeout = defaultHangTimeout
	}

	// create stops when the duration is over (or on ctx); poll stops
	// drainGrace later, so that the tasks in flight may still finish.
	createCtx, stopCreate := context.WithCancel(ctx)
	defer stopCreate()
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	began := time.Now()
	var timers sync.WaitGroup
	if opts.duration > 0 {
		timers.Go(func() {
			select {
			case <-time.After(opts.duration):
				stopCreate()
			case <-createCtx.Done():
			}
			select {
			case <-time.After(drainGrace):
				stopPoll()
			case <-pollCtx.Done():
			}
		})
	}
	if opts.progress > 0 {
		timers.Go(func() { l.reportProgress(pollCtx, began, progress) })
	}
	var rss *rssSampler
	if len(opts.serverPIDs) > 0 && opts.rssEvery > 0 {
		rss = newRSSSampler(opts.serverPIDs, began, opts.tasks, opts.duration, l.stats.completed)
		rss.sample(time.Now())
		timers.Go(func() { rss.run(pollCtx, opts.rssEvery) })
	}

	var workers sync.WaitGroup
	for range opts.concurrency {
		workers.Go(func() { l.work(createCtx, pollCtx) })
	}
	workers.Wait()
	elapsed := time.Since(began)
	stopCreate()
	stopPoll()
	timers.Wait()
	if rss != nil {
		rss.sample(time.Now())
	}

	endServer, err := sampleCPU(opts.serverPIDs, false)
	if err != nil {
		return report{}, err
	}
	if opts.pgAuto {
		// Backends started during the run count too; those gone before
		// the end are in their postmaster's children time.
		if pgPIDs, err = processesNamed("postgres"); err != nil {
			return report{}, fmt.Errorf("find postgres processes: %w", err)
		}
	}
	endPG, err := sampleCPU(pgPIDs, opts.pgAuto)
	if err != nil {
		return report{}, err
	}
	rssEnd, err := sampleRSS(opts.serverPIDs)
	if err != nil {
		return report{}, err
	}
	rep := l.stats.report(elapsed)
	rep.Concurrency = opts.concurrency
	rep.URLs = opts.urls
	rep.Template = opts.template
	rep.Server = cpuReport(opts.serverPIDs, startServer, endServer, rep.Completed)
	rep.Server.RSSStartKB = rssStart
	rep.Server.RSSEndKB = rssEnd
	rep.Postgres = cpuReport(pgPIDs, startPG, endPG, rep.Completed)
	rep.Server.CPUUtilization = busyCores(rep.Server.CPUSeconds, elapsed)
	rep.Postgres.CPUUtilization = busyCores(rep.Postgres.CPUSeconds, elapsed)
	if rss != nil {
		rep.Server.RSSSamples, rep.Server.RSSMilestones = rss.result()
	}
	rep.BusyStatus = opts.busyStatus
	rep.Unexpected = unexpectedAnswers(rep.Answers, opts.busyStatus)
	return rep, nil
}

// work creates and follows tasks until createCtx ends or the -tasks limit
// is reached.
func (l *loader) work(createCtx, pollCtx context.Context) {
	for createCtx.Err() == nil {
		if l.opts.tasks > 0 && l.claimed.Add(1) > int64(l.opts.tasks) {
			return
		}
		base := l.opts.urls[(l.next.Add(1)-1)%uint64(len(l.opts.urls))]
		id, created, err := l.create(createCtx, base)
		if err != nil {
			continue
		}
		l.follow(pollCtx, base, id, created, l.firstPoll.next())
	}
}

// create posts one task, retrying after back-pressure, and returns its id
// and when the server accepted it.
func (l *loader) create(ctx context.Context, base string) (string, time.Time, error) {
	body, err := json.Marshal(map[string]any{"template_name": l.opts.template, "input": l.opts.input})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("encode task: %w", err)
	}
	for {
		start := time.Now()
		var view taskView
		status, retryAfter, err := l.call(ctx, http.MethodPost, base+"/task", body, &view)
		switch {
		case err != nil && ctx.Err() != nil:
			return "", time.Time{}, ctx.Err()
		case err != nil:
			l.stats.addError("create", err)
			return "", time.Time{}, err
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			l.stats.addBackPressure(status)
			if !sleep(ctx, retryAfter) {
				return "", time.Time{}, ctx.Err()
			}
			continue
		case status != http.StatusCreated && status != http.StatusOK:
			l.stats.addError("create", statusError(status))
			return "", time.Time{}, statusError(status)
		case view.ID == "":
			l.stats.addError("create", errDecode)
			return "", time.Time{}, errNotCreated
		}
		return view.ID, start, nil
	}
}

// follow polls task id, first after wait, until it is DONE, BLOCKED, in
// another final state, or too old, and records the outcome. It polls the
// server that created the task, and the next one of -url after a failed
// call.
func (l *loader) follow(ctx context.Context, base, id string, created time.Time, wait time.Duration) {
	deadline := created.Add(l.opts.taskTimeout)
	if !sleep(ctx, wait) {
		l.stats.addError("poll", errTimeout)
		return
	}
	for first := true; ; first = false {
		var view taskView
		status, retryAfter, err := l.call(ctx, http.MethodGet, base+"/task/"+id, nil, &view)
		switch {
		case err != nil && ctx.Err() != nil:
			l.stats.addError("poll", errTimeout)
			return
		case err != nil:
			l.stats.addError("poll", err)
			// The instance that created the task may be down (restarting):
			// the others serve it as well.
			base = l.otherURL(base)
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			l.stats.addBackPressure(status)
			if !sleep(ctx, retryAfter) {
				l.stats.addError("poll", errTimeout)
				return
			}
			continue
		case status != http.StatusOK:
			l.stats.addError("poll", statusError(status))
			if status == http.StatusNotFound {
				return
			}
		case view.State == stateDone:
			l.stats.addDone(time.Since(created))
			if first {
				l.firstPoll.observe(true)
			}
			return
		case isFinal(view.State):
			l.stats.addFailed(view.State)
			return
		}
		if first {
			l.firstPoll.observe(false)
		}
		if time.Now().After(deadline) {
			l.stats.addError("poll", errTimeout)
			return
		}
		if !sleep(ctx, l.opts.pollEvery) {
			l.stats.addError("poll", errTimeout)
			return
		}
	}
}

// otherURL is the server URL after base in -url's list (base itself when
// the list has one).
func (l *loader) otherURL(base string) string {
	for i, u := range l.opts.urls {
		if u == base {
			return l.opts.urls[(i+1)%len(l.opts.urls)]
		}
	}
	return base
}

// isFinal tells whether a task in state s will not become DONE by itself.
func isFinal(s string) bool {
	switch s {
	case stateBlocked, "CANCELLED", "WONTFIX":
		return true
	}
	return false
}

// call sends one request and decodes a 2xx JSON answer into out. It returns
// the status and, for back-pressure, the pause the server asks for.
func (l *loader) call(ctx context.Context, method, u string, body []byte, out any) (int, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("x-remote-user", l.opts.user)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, 0, l.failedCall(ctx, start, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, l.failedCall(ctx, start, fmt.Errorf("read body: %w", err))
	}
	l.stats.addAnswer(strconv.Itoa(resp.StatusCode), time.Since(start))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, retryPause(resp.Header.Get("Retry-After")), nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", errDecode, err)
	}
	return resp.StatusCode, 0, nil
}

// failedCall records a request that got no answer, unless the run was
// ending (ctx), and returns its error: a hang when the client's timeout cut
// it, a transport error otherwise.
func (l *loader) failedCall(ctx context.Context, start time.Time, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errTransport, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		l.stats.addAnswer(kindHang, time.Since(start))
		return fmt.Errorf("%w: %w", errHang, err)
	}
	l.stats.addAnswer(kindTransport, time.Since(start))
	return fmt.Errorf("%w: %w", errTransport, err)
}

// retryPause turns a Retry-After header into a pause: its seconds, capped at
// one second so that the load keeps its shape, or 10 ms when absent.
func retryPause(h string) time.Duration {
	const (
		fallback = 10 * time.Millisecond
		ceiling  = time.Second
	)
	secs, err := strconv.Atoi(h)
	if err != nil || secs < 0 {
		return fallback
	}
	return min(time.Duration(secs)*time.Second, ceiling)
}

// sleep pauses for d, and tells false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reportProgress writes a line every opts.progress until ctx ends.
func (l *loader) reportProgress(ctx context.Context, began time.Time, w io.Writer) {
	tick := time.NewTicker(l.opts.progress)
	defer tick.Stop()
	prevDone, prevAt := 0, began
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			rep := l.stats.report(now.Sub(began))
			rate := float64(rep.Completed-prevDone) / now.Sub(prevAt).Seconds()
			_, _ = fmt.Fprintf(w, "[%5.1fs] completed=%d (%.1f/s now, %.1f/s overall) p50=%s p99=%s max=%s failed=%d errors=%d backpressure=%d\n",
				rep.ElapsedSeconds, rep.Completed, rate, rep.Throughput,
				ms(rep.Latency.P50), ms(rep.Latency.P99), ms(rep.Latency.Max),
				rep.Failed, sumCounts(rep.Errors), rep.BackPressure.Total)
			prevDone, prevAt = rep.Completed, now
		}
	}
}
