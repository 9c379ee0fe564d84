// Command utask-bench loads a utask server with tasks of one template and
// reports throughput, create-to-DONE latency, errors, and the CPU time and
// memory the server and PostgreSQL spend per task.
//
//	utask-bench -url http://127.0.0.1:8081 -user bench -template bench-three-echo \
//	    -concurrency 16 -duration 30s [-tasks N] [-server-pid PID,...] \
//	    [-postgres-pids auto|PID,...] [-json] [-hang-timeout 30s] [-rss-every 1s]
//
// -clients is another name of -concurrency: `-clients 1000 -duration 1m` is
// the load test of back-pressure. Every request is counted by its status;
// the run exits 3 when one got neither a 2xx nor the back-pressure status
// (-busy-status, 503), none at all within -hang-timeout, or when a task did
// not end. With -server-pid, the servers' RSS is read every -rss-every and
// reported at 0, 25, 50, 75 and 100 % of the run.
//
// Each worker creates a task (POST /task), then polls it (GET /task/{id})
// until it is DONE, and starts the next one. The first poll of a task waits
// -first-poll after the creation's answer; "auto" (the default) adapts that
// wait so that about half the tasks are DONE at their first poll, which
// spares the server polls that could only answer "not yet" without
// lengthening the latency measured by more than a poll. Later polls come
// every -poll. A comma-separated -url list is
// used round-robin, one task per server in turn.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errUsage reports a bad command line.
var errUsage = errors.New("usage")

// options holds the parsed command line.
type options struct {
	urls        []string
	user        string
	template    string
	input       map[string]any
	concurrency int
	duration    time.Duration
	tasks       int
	pollEvery   time.Duration
	// firstPoll is the wait before the first poll of a task; negative:
	// adaptive (see firstPoller).
	firstPoll   time.Duration
	taskTimeout time.Duration
	serverPIDs  []int
	pgAuto      bool
	pgPIDs      []int
	progress    time.Duration
	asJSON      bool
	hangTimeout time.Duration
	busyStatus  int
	rssEvery    time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, runs the load and prints the report; it returns the exit
// code: 0 when the run went through, 1 when it could not, 2 on a bad command
// line, 3 when it went through but a request was answered with neither a
// 2xx nor the back-pressure status, or not at all (a hang, a transport
// error), or a task did not end in time.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		_, _ = fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	rep, err := bench(ctx, opts, log, stderr)
	if err != nil {
		log.Error("run benchmark", "error", err)
		return 1
	}
	if opts.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			log.Error("write report", "error", err)
			return 1
		}
	} else {
		writeText(stdout, rep)
	}
	if !rep.clean() {
		log.Error("run had failures", "unexpected_answers", rep.Unexpected, "errors", formatCounts(rep.Errors),
			"tasks_not_done", formatCounts(rep.FailedByState))
		return 3
	}
	return 0
}

// parseOptions reads the command line.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("utask-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts                                           options
		urls, serverPIDs, pgPIDs, inputJSON, firstPoll string
	)
	fs.StringVar(&urls, "url", "http://127.0.0.1:8081", "server base URL, or a comma-separated list used round-robin")
	fs.StringVar(&opts.user, "user", "bench", "identity sent in the x-remote-user header")
	fs.StringVar(&opts.template, "template", "bench-three-echo", "template of the tasks to create")
	fs.StringVar(&inputJSON, "input", "{}", "task input, as a JSON object")
	fs.IntVar(&opts.concurrency, "concurrency", 1, "number of workers, each with one task in flight")
	fs.IntVar(&opts.concurrency, "clients", 1, "same as -concurrency")
	fs.DurationVar(&opts.duration, "duration", 30*time.Second, "how long to create tasks (0: until -tasks are done)")
	fs.IntVar(&opts.tasks, "tasks", 0, "stop after creating this many tasks (0: no limit)")
	fs.DurationVar(&opts.pollEvery, "poll", time.Millisecond, "pause between two polls of a task")
	fs.StringVar(&firstPoll, "first-poll", "auto", `wait before the first poll of a task: a duration, or "auto" (adapted so that about half the tasks are DONE at their first poll)`)
	fs.DurationVar(&opts.taskTimeout, "task-timeout", time.Minute, "give up a task not DONE after this long")
	fs.StringVar(&serverPIDs, "server-pid", "", "comma-separated pids of the server processes to measure")
	fs.StringVar(&pgPIDs, "postgres-pids", "", `"auto" (every process named postgres) or comma-separated pids`)
	fs.DurationVar(&opts.progress, "progress", 5*time.Second, "interval of the progress lines on stderr (0: none)")
	fs.BoolVar(&opts.asJSON, "json", false, "print the final report as JSON")
	fs.DurationVar(&opts.hangTimeout, "hang-timeout", defaultHangTimeout, "a request unanswered after this long is a hang")
	fs.IntVar(&opts.busyStatus, "busy-status", http.StatusServiceUnavailable, "the back-pressure status the server may answer (any other non-2xx fails the run)")
	fs.DurationVar(&opts.rssEvery, "rss-every", time.Second, "interval of the RSS samples of -server-pid (0: start and end only)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	for raw := range strings.SplitSeq(urls, ",") {
		raw = strings.TrimRight(strings.TrimSpace(raw), "/")
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return options{}, fmt.Errorf("%w: -url %q is not an http(s) URL", errUsage, raw)
		}
		opts.urls = append(opts.urls, raw)
	}
	opts.firstPoll = -1
	if firstPoll != "auto" {
		d, err := time.ParseDuration(firstPoll)
		if err != nil || d < 0 {
			return options{}, fmt.Errorf("%w: -first-poll %q is neither \"auto\" nor a duration", errUsage, firstPoll)
		}
		opts.firstPoll = d
	}
	if err := json.Unmarshal([]byte(inputJSON), &opts.input); err != nil {
		return options{}, fmt.Errorf("%w: -input: %w", errUsage, err)
	}
	if opts.concurrency < 1 {
		return options{}, fmt.Errorf("%w: -concurrency must be at least 1", errUsage)
	}
	if opts.duration <= 0 && opts.tasks <= 0 {
		return options{}, fmt.Errorf("%w: give a -duration or a -tasks limit", errUsage)
	}
	if opts.tasks < 0 || opts.duration < 0 || opts.pollEvery < 0 || opts.taskTimeout <= 0 {
		return options{}, fmt.Errorf("%w: negative -tasks, -duration or -poll, or no -task-timeout", errUsage)
	}
	if opts.hangTimeout <= 0 || opts.rssEvery < 0 {
		return options{}, fmt.Errorf("%w: no -hang-timeout, or a negative -rss-every", errUsage)
	}
	if opts.busyStatus != http.StatusTooManyRequests && opts.busyStatus != http.StatusServiceUnavailable {
		return options{}, fmt.Errorf("%w: -busy-status must be 429 or 503", errUsage)
	}
	var err error
	if opts.serverPIDs, err = parsePIDs(serverPIDs); err != nil {
		return options{}, fmt.Errorf("%w: -server-pid: %w", errUsage, err)
	}
	if pgPIDs == "auto" {
		opts.pgAuto = true
	} else if opts.pgPIDs, err = parsePIDs(pgPIDs); err != nil {
		return options{}, fmt.Errorf("%w: -postgres-pids: %w", errUsage, err)
	}
	return opts, nil
}

// parsePIDs reads a comma-separated list of process ids.
func parsePIDs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var pids []int
	for f := range strings.SplitSeq(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("parse pid %q: not a positive integer", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
