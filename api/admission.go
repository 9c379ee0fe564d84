package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Back-pressure answer. 503 rather than 429: the refusal is about the
// server's capacity as a whole, not about one client sending too much, and
// it is what a load balancer or a retrying client takes as "try again soon".
const (
	// BusyStatus is the status of a request refused by the admission limit.
	BusyStatus = http.StatusServiceUnavailable
	// BusyMessage is the error message of that answer.
	BusyMessage = "server busy, retry later"
	// DefaultAdmissionWait is how long a request waits for a slot when
	// AdmissionConfig.Wait is not set.
	DefaultAdmissionWait = time.Second
	// DefaultMaxConcurrentRequests is the read limit of AdmissionFor when
	// the database pool has no size limit.
	DefaultMaxConcurrentRequests = 64
)

// busyBody is the JSON body of the back-pressure answer.
const busyBody = `{"error":"` + BusyMessage + `"}` + "\n"

// AdmissionConfig bounds the requests served at once. Reads (GET, HEAD,
// OPTIONS) and writes (every other method) have their own limit, so that a
// burst of creations cannot keep the polls out, nor the reverse. A request
// beyond its limit waits for a slot for at most Wait, in a queue of at most
// MaxQueued requests, then is answered BusyStatus with Retry-After. The zero
// value admits everything.
type AdmissionConfig struct {
	// MaxReads is the number of reads served at once; 0 or less is no limit.
	MaxReads int
	// MaxWrites is the number of writes served at once; 0 or less is no
	// limit.
	MaxWrites int
	// Wait is the longest a request waits for a slot. Defaults to
	// DefaultAdmissionWait.
	Wait time.Duration
	// MaxQueued is the number of requests of one kind that may wait for a
	// slot; beyond it a request is refused at once. Defaults to four times
	// the kind's limit.
	MaxQueued int
	// RetryAfter is the pause, in whole seconds, advertised in the
	// Retry-After header. Defaults to 1.
	RetryAfter int
}

// admission is a bounded number of slots, with a bounded queue in front.
type admission struct {
	slots     chan struct{}
	queued    atomic.Int64
	maxQueued int64
	wait      time.Duration
}

// newAdmission returns the slots of one kind, nil for no limit.
func newAdmission(limit, maxQueued int, wait time.Duration) *admission {
	if limit <= 0 {
		return nil
	}

	if maxQueued <= 0 {
		maxQueued = 4 * limit //nolint:mnd // a queue a few times the slots
	}

	if wait <= 0 {
		wait = DefaultAdmissionWait
	}

	return &admission{slots: make(chan struct{}, limit), maxQueued: int64(maxQueued), wait: wait}
}

// acquire takes a slot, waiting at most a.wait, and tells whether it got one.
// The caller gives the slot back with release.
func (a *admission) acquire(ctx context.Context) bool {
	select {
	case a.slots <- struct{}{}:
		return true
	default:
	}

	if a.queued.Add(1) > a.maxQueued {
		a.queued.Add(-1)

		return false
	}
	defer a.queued.Add(-1)

	t := time.NewTimer(a.wait)
	defer t.Stop()

	select {
	case a.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// release gives a slot back.
func (a *admission) release() { <-a.slots }

// gate is the admission limit in front of the handlers.
type gate struct {
	reads, writes *admission
	retryAfter    string
	// maxBody is the largest body a handler accepts: the gate reads up to
	// one byte more before it takes a slot.
	maxBody int64
}

// newGate returns the gate of cfg; a gate with no limit admits everything.
// maxBody is the largest request body the handlers accept.
func newGate(cfg AdmissionConfig, maxBody int64) *gate {
	retry := cfg.RetryAfter
	if retry <= 0 {
		retry = 1
	}

	return &gate{
		reads:      newAdmission(cfg.MaxReads, cfg.MaxQueued, cfg.Wait),
		writes:     newAdmission(cfg.MaxWrites, cfg.MaxQueued, cfg.Wait),
		retryAfter: strconv.Itoa(retry),
		maxBody:    maxBody,
	}
}

// bypassesAdmission tells whether path is served whatever the load: the
// liveness check, which must tell a busy server from a dead one, and the
// metrics, which must show why it is busy.
func bypassesAdmission(path string) bool {
	return path == "/unsecured/mon/ping" || path == "/metrics"
}

// serve runs next when r gets a slot, and answers BusyStatus otherwise.
func (g *gate) serve(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) {
	a := g.writes

	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		a = g.reads
	}

	if a == nil || bypassesAdmission(r.URL.Path) {
		next(w, r)

		return
	}

	// The body is read before a slot is taken: a client that sends it
	// slowly, or stops half-way, must not hold a slot meanwhile.
	g.readBody(r)

	if !a.acquire(r.Context()) {
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.busy = true
		}
		h := w.Header()
		h.Set("Retry-After", g.retryAfter)
		h.Set("Content-Type", mediaJSON)
		w.WriteHeader(BusyStatus)
		_, _ = w.Write([]byte(busyBody))

		return
	}
	defer a.release()

	next(w, r)
}

// AdmissionFor sizes the admission limit: maxConcurrent reads at once and
// half as many writes (at least one), where maxConcurrent 0 takes the size
// of the database connection pool, poolSize (DefaultMaxConcurrentRequests
// when the pool has no limit, poolSize 0), and a negative one admits
// everything. Each write holds a database connection for its transaction;
// keeping the writes below the pool size leaves connections to the reads
// and to the engine, so a request waiting for a connection always waits
// for one that a running query will give back.
func AdmissionFor(maxConcurrent, poolSize int) AdmissionConfig {
	n := maxConcurrent
	if n == 0 {
		n = poolSize
		if n <= 0 {
			n = DefaultMaxConcurrentRequests
		}
	}

	if n < 0 {
		return AdmissionConfig{}
	}

	return AdmissionConfig{MaxReads: n, MaxWrites: max(1, n/2)} //nolint:mnd // half the slots
}

// readBody reads the body of r, up to one byte more than the handlers
// accept, and gives r a body that replays it: the bytes read, then the error
// that ended the reading, if any, so that the handler answers as if it had
// read the body itself (too large, or broken).
func (g *gate) readBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}

	limit := g.maxBody + 1
	if g.maxBody <= 0 {
		limit = DefaultMaxBodyBytes + 1
	}

	data, err := io.ReadAll(io.LimitReader(r.Body, limit))
	if err == nil && int64(len(data)) < limit {
		err = io.EOF
	}

	if err == nil {
		// The limit was reached: the rest is left to the handler's reader,
		// which refuses the body as too large.
		r.Body = replayBody{Reader: io.MultiReader(bytes.NewReader(data), r.Body), Closer: r.Body}

		return
	}

	r.Body = replayBody{Reader: &replay{data: data, err: err}, Closer: r.Body}
}

// replayBody is a request body read ahead of the handler.
type replayBody struct {
	io.Reader
	io.Closer
}

// replay reads data, then reports err (io.EOF for a body read whole).
type replay struct {
	data []byte
	err  error
}

func (p *replay) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, p.err
	}

	n := copy(b, p.data)
	p.data = p.data[n:]

	return n, nil
}
