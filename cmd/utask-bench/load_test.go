package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/config"
	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

// startUtask starts a utask server in this process, on the embedded store in
// a temporary directory (or on the store that environ's items name),
// serving the project's templates on 127.0.0.1.
func startUtask(t *testing.T, environ ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Options{
		Flags: config.Flags{
			TemplatesPaths: []string{filepath.Join("..", "..", "templates")},
			ScriptsPath:    filepath.Join(dir, "scripts"),
			FunctionsPath:  filepath.Join(dir, "functions"),
			Region:         "default",
			LogsFormat:     "text",
		},
		Environ:  append([]string{"CONFIGURATION_FROM=env:CFG", `CFG_UTASK_CFG={"admin_usernames":["admin"]}`}, environ...),
		WorkDir:  dir,
		Logger:   slog.New(slog.DiscardHandler),
		Listener: ln,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, srv.Stop(ctx))
	})
	return "http://" + ln.Addr().String()
}

// TestLoadManyClientsGetAnswers runs 200 clients for 5 s against a real
// server: every request must be answered with a success or the
// back-pressure status, none may hang, and every task must end.
func TestLoadManyClientsGetAnswers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a 5 s load run")
	}
	loadManyClients(t, startUtask(t))
}

// TestLoadManyClientsGetAnswersPostgres is TestLoadManyClientsGetAnswers on
// the PostgreSQL store (UTASK_TEST_DATABASE_URL).
func TestLoadManyClientsGetAnswersPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a 5 s load run")
	}
	loadManyClients(t, startUtask(t, "CFG_DATABASE="+pgtest.FreshSchema(t), "CFG_ENCRYPTION_KEY="+testKey))
}

// testKey is the encryption key item of the PostgreSQL runs.
const testKey = `{"identifier":"storage","cipher":"aes-gcm","timestamp":1700000000,` +
	`"key":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}`

func loadManyClients(t *testing.T, u string) {
	t.Helper()
	opts := testOptions([]string{u}, 0, 200)
	opts.template = "bench-three-echo"
	opts.duration = 5 * time.Second
	opts.taskTimeout = 30 * time.Second
	opts.hangTimeout = 30 * time.Second
	opts.busyStatus = http.StatusServiceUnavailable
	opts.rssEvery = 500 * time.Millisecond
	// The server runs in this process: its RSS is this process's.
	opts.serverPIDs = []int{os.Getpid()}

	rep, err := bench(t.Context(), opts, slog.New(slog.DiscardHandler), io.Discard)
	require.NoError(t, err)

	require.Positive(t, rep.Completed)
	require.Empty(t, rep.Errors)
	require.Zero(t, rep.Unexpected, rep.Answers)
	require.True(t, rep.clean())
	for status := range rep.Answers {
		require.Contains(t, []string{"200", "201", "503"}, status)
	}
	require.Positive(t, rep.Answers["201"])
	require.Equal(t, rep.Completed, rep.Answers["201"])
	require.Positive(t, rep.AnswerLatency.Max)
	require.Less(t, rep.AnswerLatency.Max, float64(opts.hangTimeout.Milliseconds()))
	require.Len(t, rep.Server.RSSMilestones, len(rssMilestones))
	for i, m := range rep.Server.RSSMilestones {
		require.InDelta(t, rssMilestones[i], m.Percent, 0)
		require.Positive(t, m.RSSKB[0])
	}
}

// TestHangIsCounted checks that a request left unanswered past the hang
// timeout is reported and fails the run.
func TestHangIsCounted(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /task", func(w http.ResponseWriter, r *http.Request) {
		// Never answers: the client gives up, or the test ends.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs before srv.Close
	opts := testOptions([]string{srv.URL}, 2, 1)
	opts.hangTimeout = 100 * time.Millisecond
	opts.busyStatus = http.StatusServiceUnavailable

	rep, err := bench(t.Context(), opts, slog.New(slog.DiscardHandler), io.Discard)
	require.NoError(t, err)
	require.Equal(t, map[string]int{kindHang: 2}, rep.Answers)
	require.Equal(t, map[string]int{"create_hang": 2}, rep.Errors)
	require.Equal(t, 2, rep.Unexpected)
	require.False(t, rep.clean())
}

func TestRunExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults bool
		busy   string
		want   int
	}{
		{"Clean", false, "503", 0},
		{"ServerErrors", true, "503", 3},
		{"OtherBusyStatusIsUnexpected", true, "429", 3},
		{"BadBusyStatus", false, "500", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, u := newFakeServer(t, tc.faults)
			var out, errOut bytes.Buffer
			code := run(t.Context(), []string{
				"-url", u, "-template", "tpl", "-clients", "2", "-tasks", "6", "-progress", "0",
				"-busy-status", tc.busy,
			}, &out, &errOut)
			require.Equal(t, tc.want, code, errOut.String())
			if code != 2 {
				require.Contains(t, out.String(), "answers:")
				require.Contains(t, out.String(), "slowest")
			}
		})
	}
}

func TestUnexpectedAnswers(t *testing.T) {
	t.Parallel()
	answers := map[string]int{"200": 5, "201": 2, "204": 1, "503": 7, "429": 3, "500": 1, kindTransport: 4, kindHang: 2}
	require.Equal(t, 10, unexpectedAnswers(answers, http.StatusServiceUnavailable))
	require.Equal(t, 14, unexpectedAnswers(answers, http.StatusTooManyRequests))
	require.Zero(t, unexpectedAnswers(nil, http.StatusServiceUnavailable))
}

func TestRSSSamplerMilestones(t *testing.T) {
	t.Parallel()
	done := 0
	began := time.Now()
	s := newRSSSampler([]int{os.Getpid()}, began, 8, 0, func() int { return done })
	for _, d := range []int{0, 1, 3, 4, 7, 8} {
		done = d
		s.sample(began.Add(time.Duration(d) * time.Second))
	}
	samples, milestones := s.result()
	require.Len(t, samples, 6)
	got := make([]string, 0, len(milestones))
	for _, m := range milestones {
		got = append(got, strconv.FormatFloat(m.Percent, 'f', 0, 64)+"@"+strconv.Itoa(m.Completed))
	}
	// 25 % is first reached with 3 of 8 tasks DONE, 50 % with 4, 75 % with 7.
	require.Equal(t, "0@0 25@3 50@4 75@7 100@8", strings.Join(got, " "))
	for _, m := range milestones {
		require.Len(t, m.RSSKB, 1)
		require.Positive(t, m.RSSKB[0])
	}

	gone := newRSSSampler([]int{1 << 30}, began, 0, time.Second, func() int { return 0 })
	gone.sample(began)
	samples, milestones = gone.result()
	require.Empty(t, samples)
	require.Empty(t, milestones)
}
