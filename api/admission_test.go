package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

// blocker is a handler that holds every request until released, and tells
// when each has entered.
type blocker struct {
	entered chan string
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan string, 64), release: make(chan struct{})}
}

func (b *blocker) serve(w http.ResponseWriter, r *http.Request) {
	b.entered <- r.Method + " " + r.URL.Path
	<-b.release
	w.WriteHeader(http.StatusOK)
}

// gatedServer serves b behind a gate of cfg on 127.0.0.1.
func gatedServer(t *testing.T, cfg AdmissionConfig, b *blocker) string {
	t.Helper()
	u, _ := gatedServerWith(t, cfg, b)

	return u
}

// gatedServerWith is gatedServer that also returns the gate.
func gatedServerWith(t *testing.T, cfg AdmissionConfig, b *blocker) (string, *gate) {
	t.Helper()
	g := newGate(cfg, DefaultMaxBodyBytes)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, b.serve)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(b.release) }) // runs before srv.Close

	return srv.URL, g
}

// answer is what a request got.
type answer struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// send makes one request in the background and returns where its answer
// arrives.
func send(ctx context.Context, method, u string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			out <- answer{err: err}

			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- answer{err: err}

			return
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		out <- answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(body), err: err}
	}()

	return out
}

// requireBusy checks that a is the back-pressure answer.
func requireBusy(t *testing.T, a answer) {
	t.Helper()
	require.NoError(t, a.err)
	require.Equal(t, http.StatusServiceUnavailable, a.status)
	require.Equal(t, "1", a.retryAfter)
	var body map[string]string
	require.NoError(t, json.Unmarshal([]byte(a.body), &body))
	require.Equal(t, map[string]string{"error": "server busy, retry later"}, body)
}

func TestAdmissionRefusesBeyondLimit(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	u := gatedServer(t, AdmissionConfig{MaxReads: 2, MaxWrites: 1, Wait: 20 * time.Millisecond}, b)
	ctx := t.Context()

	first, second := send(ctx, http.MethodGet, u+"/task/a"), send(ctx, http.MethodGet, u+"/task/b")
	<-b.entered
	<-b.entered

	// Both read slots are held: a third read waits its 20 ms, then is
	// refused; a write has its own slot and gets in.
	requireBusy(t, <-send(ctx, http.MethodGet, u+"/task/c"))
	write := send(ctx, http.MethodPost, u+"/task")
	require.Equal(t, "POST /task", <-b.entered)
	requireBusy(t, <-send(ctx, http.MethodPut, u+"/task/a"))

	// The liveness check is never held back.
	ping := send(ctx, http.MethodGet, u+"/unsecured/mon/ping")
	require.Equal(t, "GET /unsecured/mon/ping", <-b.entered)

	for range 4 {
		b.release <- struct{}{}
	}
	for _, ch := range []<-chan answer{first, second, write, ping} {
		a := <-ch
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status)
	}
}

func TestAdmissionQueuedRequestGetsFreedSlot(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	u := gatedServer(t, AdmissionConfig{MaxReads: 1, Wait: time.Hour}, b)
	ctx := t.Context()

	first := send(ctx, http.MethodGet, u+"/a")
	require.Equal(t, "GET /a", <-b.entered)
	queued := send(ctx, http.MethodGet, u+"/b")

	// The first request leaves; the queued one takes its slot.
	b.release <- struct{}{}
	require.Equal(t, http.StatusOK, (<-first).status)
	require.Equal(t, "GET /b", <-b.entered)
	b.release <- struct{}{}
	require.Equal(t, http.StatusOK, (<-queued).status)
}

func TestAdmissionFullQueueRefusesAtOnce(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	// With an hour of wait, only a full queue can refuse.
	u, g := gatedServerWith(t, AdmissionConfig{MaxWrites: 1, MaxQueued: 1, Wait: time.Hour}, b)
	ctx := t.Context()

	first := send(ctx, http.MethodPost, u+"/a")
	require.Equal(t, "POST /a", <-b.entered)
	waiting := send(ctx, http.MethodPost, u+"/b")
	require.Eventually(t, func() bool { return g.writes.queued.Load() == 1 }, 10*time.Second, time.Millisecond)
	requireBusy(t, <-send(ctx, http.MethodDelete, u+"/c"))
	require.Nil(t, g.reads)

	for range 2 {
		b.release <- struct{}{}
	}
	require.Equal(t, http.StatusOK, (<-first).status)
	require.Equal(t, http.StatusOK, (<-waiting).status)
}

func TestAdmissionWaiterLeavesWithItsClient(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	u := gatedServer(t, AdmissionConfig{MaxReads: 1, Wait: time.Hour}, b)
	ctx := t.Context()

	first := send(ctx, http.MethodGet, u+"/a")
	<-b.entered
	gone, cancel := context.WithCancel(ctx)
	waiting := send(gone, http.MethodGet, u+"/b")
	cancel()
	require.ErrorIs(t, (<-waiting).err, context.Canceled)

	// The cancelled waiter took no slot: once the first leaves, another
	// request is served.
	b.release <- struct{}{}
	require.Equal(t, http.StatusOK, (<-first).status)
	next := send(ctx, http.MethodGet, u+"/c")
	require.Equal(t, "GET /c", <-b.entered)
	b.release <- struct{}{}
	require.Equal(t, http.StatusOK, (<-next).status)
}

func TestAdmissionZeroConfigAdmitsAll(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	u := gatedServer(t, AdmissionConfig{}, b)
	ctx := t.Context()

	const n = 20
	answers := make([]<-chan answer, 0, n)
	for i := range n {
		method := http.MethodGet
		if i%2 == 0 {
			method = http.MethodPost
		}
		answers = append(answers, send(ctx, method, u+"/x"))
	}
	for range n {
		<-b.entered
	}
	for range n {
		b.release <- struct{}{}
	}
	for _, ch := range answers {
		require.Equal(t, http.StatusOK, (<-ch).status)
	}
}

func TestBypassesAdmission(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path string
		want       bool
	}{
		{"Ping", "/unsecured/mon/ping", true},
		{"Metrics", "/metrics", true},
		{"Stats", "/unsecured/stats", false},
		{"Task", "/task", false},
		{"BelowMetrics", "/metrics/x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, bypassesAdmission(tc.path))
		})
	}
}

func TestAdmissionFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		maxConcurrent, poolSize int
		want                    AdmissionConfig
	}{
		{"FromPool", 0, 50, AdmissionConfig{MaxReads: 50, MaxWrites: 25}},
		{"Configured", 10, 50, AdmissionConfig{MaxReads: 10, MaxWrites: 5}},
		{"AtLeastOneWrite", 1, 50, AdmissionConfig{MaxReads: 1, MaxWrites: 1}},
		{"NoCap", -1, 50, AdmissionConfig{}},
		{"UnlimitedPool", 0, 0, AdmissionConfig{MaxReads: 64, MaxWrites: 32}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, AdmissionFor(tc.maxConcurrent, tc.poolSize))
		})
	}
}

// A refusal of the admission limit is logged at debug level: under load,
// one error line per refusal would flood the log. Other 5xx stay errors.
func TestAdmissionRefusalsAreNotErrorLines(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := &server{cfg: Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}}
	r := httptest.NewRequest(http.MethodPost, "/task", nil)
	s.audit(r, &requestInfo{busy: true}, BusyStatus, time.Millisecond)
	s.audit(r, &requestInfo{action: "CreateTask", user: "bob"}, http.StatusInternalServerError, time.Millisecond)

	var levels []string
	for _, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		var entry struct {
			Level string `json:"level"`
		}
		require.NoError(t, json.Unmarshal(line, &entry))
		levels = append(levels, entry.Level)
	}
	require.Equal(t, []string{"DEBUG", "ERROR"}, levels)
}

// A client that sends a write's headers and then only part of its body
// holds no write slot meanwhile: the gate reads the body before it takes
// one, and the next write is served.
func TestAdmissionStalledBodyHoldsNoSlot(t *testing.T) {
	t.Parallel()
	g := newGate(AdmissionConfig{MaxReads: 1, MaxWrites: 1, Wait: 200 * time.Millisecond}, DefaultMaxBodyBytes)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)

				return
			}
			_, _ = w.Write(body)
		})
	}))
	t.Cleanup(srv.Close)

	stalled, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = stalled.Close() })
	_, err = stalled.Write([]byte("POST /task HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":"))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the stalled request is being read

	for range 3 {
		resp, err := http.Post(srv.URL+"/task", "application/json", bytes.NewBufferString(`{"b": 1}`))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
		require.JSONEq(t, `{"b": 1}`, string(body), "the handler reads the body the client sent")
	}
}

// The body read ahead by the gate reaches the handler as the client sent
// it: whole, cut at one byte over the limit for the handler to refuse, or
// followed by the error that ended the reading.
func TestAdmissionReplaysTheBody(t *testing.T) {
	t.Parallel()
	g := newGate(AdmissionConfig{MaxWrites: 1}, 8)
	read := func(body io.Reader, length int64) ([]byte, error) {
		r := httptest.NewRequest(http.MethodPost, "/task", body)
		r.ContentLength = length
		g.readBody(r)

		return io.ReadAll(http.MaxBytesReader(httptest.NewRecorder(), r.Body, 8))
	}

	got, err := read(bytes.NewBufferString("12345678"), 8)
	require.NoError(t, err)
	require.Equal(t, "12345678", string(got))

	_, err = read(bytes.NewBufferString("123456789abc"), 12)
	var tooLarge *http.MaxBytesError
	require.ErrorAs(t, err, &tooLarge)

	broken := errors.New("connection reset")
	got, err = read(io.MultiReader(bytes.NewBufferString("123"), iotest.ErrReader(broken)), 8)
	require.ErrorIs(t, err, broken)
	require.Equal(t, "123", string(got))
}
