// Package api serves the HTTP API.
//
// Every route is declared once, in the table of routes.go, with its method,
// pattern, operation id, handler, and whether it needs an identified caller
// and is refused in maintenance mode; [Routes] lists that table for the
// OpenAPI document. Handlers only decode the request, call the
// [service.Service] and encode the result; [statusOf] is the one place where
// error kinds become HTTP statuses.
//
// Around every request, in order: the CORS headers, the audit log line (one
// per request) and panic recovery, then for the routes that need it the
// identity provider (401), then the maintenance gate (405), then the handler.
// Between the audit line and the routing, the admission limit answers 503
// with Retry-After when too many requests are already being served.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
)

// DefaultMaxBodyBytes is the largest request body accepted when
// Config.MaxBodyBytes is not set.
const DefaultMaxBodyBytes = 262144

// Messages of the responses that do not come from the service.
const (
	msgUnauthorized = "unauthorized"
	msgMaintenance  = "Maintenance mode activated"
	msgInternal     = "internal server error"
)

// Config holds what the API needs.
type Config struct {
	// Service runs the operations. Required.
	Service *service.Service
	// Provider identifies callers. Required.
	Provider auth.Provider
	// MaxBodyBytes is the largest request body accepted. Defaults to
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Maintenance refuses every write with 405, without running it.
	Maintenance bool
	// Logger receives the audit lines and the internal errors. Defaults to
	// discarding them.
	Logger *slog.Logger
	// Ping checks the database for GET /unsecured/mon/ping. Defaults to a
	// check that always succeeds.
	Ping func(ctx context.Context) error
	// APIPathPrefix is the URL of the API advertised in the servers entry
	// of the OpenAPI document (dashboard_api_path_prefix); "/" when empty.
	// It does not move the routes.
	APIPathPrefix string
	// Admission bounds the requests served at once (back-pressure); its
	// zero value admits everything.
	Admission AdmissionConfig
	// Metrics serves GET /metrics (Prometheus), without identity, CORS
	// headers, audit line or admission limit; nil answers 404.
	Metrics http.Handler
}

// server is the API handler.
type server struct {
	cfg  Config
	mux  *http.ServeMux
	spec map[string]any // the OpenAPI document of the route table
	gate *gate          // the admission limit
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}

	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	if cfg.Ping == nil {
		cfg.Ping = func(context.Context) error { return nil }
	}

	s := &server{cfg: cfg, mux: http.NewServeMux(), gate: newGate(cfg.Admission, cfg.MaxBodyBytes)}
	table := s.routes()
	described := make([]Route, 0, len(table))

	for _, rt := range table {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.handler(rt))
		described = append(described, rt.Route)
	}

	name, version := cfg.Service.Application()
	s.spec = OpenAPI(described, OpenAPIInfo{Title: name, Version: version, ServerURL: cfg.APIPathPrefix})

	return s
}

// requestInfo collects, while a request is served, what its audit line
// reports.
type requestInfo struct {
	busy     bool // refused by the admission limit, before identification
	action   string
	user     string
	metadata []slog.Attr // action_metadata_<key> entries
}

// requestInfoKey is the context key of the *requestInfo of a request.
type requestInfoKey struct{}

// statusRecorder remembers the status written to a response.
type statusRecorder struct {
	http.ResponseWriter
	status  int
	written bool
}

// WriteHeader records the status and writes it.
func (w *statusRecorder) WriteHeader(status int) {
	if !w.written {
		w.status = status
		w.written = true
	}

	w.ResponseWriter.WriteHeader(status)
}

// Write writes the body, with status 200 unless one was written.
func (w *statusRecorder) Write(b []byte) (int, error) {
	if !w.written {
		w.status = http.StatusOK
		w.written = true
	}

	return w.ResponseWriter.Write(b) //nolint:wrapcheck // a ResponseWriter's error as is
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP adds the CORS headers, serves the request, recovers a panic into
// a bare 500, and writes the audit line.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == metricsPath {
		// Scrapes are neither audited nor held back.
		s.mux.ServeHTTP(w, r)

		return
	}

	start := time.Now()
	info := &requestInfo{}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))

	h := rec.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET,POST,PUT,DELETE")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Expose-Headers", "Content-Type")

	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
				panic(p)
			}

			s.cfg.Logger.ErrorContext(r.Context(), "api panic", "method", r.Method, "path", r.URL.Path, "panic", p)

			if !rec.written {
				rec.WriteHeader(http.StatusInternalServerError)
			}

			rec.status = http.StatusInternalServerError
		}

		s.audit(r, info, rec.status, time.Since(start))
	}()

	s.gate.serve(rec, r, s.dispatch)
}

// dispatch serves r with its route. An unknown path, or a known path with
// another method, is a plain-text 404; a path that only differs from a route
// by a trailing slash is redirected to it.
func (s *server) dispatch(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)

		return
	}

	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		trimmed := r.Clone(r.Context())
		trimmed.URL.Path = strings.TrimRight(p, "/")
		trimmed.URL.RawPath = ""

		if _, pattern := s.mux.Handler(trimmed); pattern != "" && trimmed.URL.Path != "" {
			code := http.StatusTemporaryRedirect
			if r.Method == http.MethodGet {
				code = http.StatusMovedPermanently
			}

			target := trimmed.URL.Path
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}

			http.Redirect(w, r, target, code)

			return
		}
	}

	http.NotFound(w, r)
}

// audit writes the audit line of a request.
func (s *server) audit(r *http.Request, info *requestInfo, status int, d time.Duration) {
	level := slog.LevelInfo
	switch {
	case info.busy:
		// Back-pressure is expected under load: one error line per refusal
		// would flood the log when the server can least afford it.
		level = slog.LevelDebug
	case status >= http.StatusInternalServerError:
		level = slog.LevelError
	}

	attrs := append([]slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000), //nolint:mnd // µs to ms
		slog.String("user", info.user),
		slog.String("action", info.action),
	}, info.metadata...)

	s.cfg.Logger.LogAttrs(r.Context(), level, "api request", attrs...)
}

// setActionMetadata adds an action_metadata_<key> entry to the audit line of
// r.
func setActionMetadata(r *http.Request, key, value string) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok && value != "" {
		info.metadata = append(info.metadata, slog.String("action_metadata_"+key, value))
	}
}

// handler returns the handler of a route: identification, maintenance gate,
// then the route's own handler.
func (s *server) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := r.Context().Value(requestInfoKey{}).(*requestInfo)
		if info == nil {
			info = &requestInfo{}
		}

		info.action = rt.OperationID

		var id auth.Identity

		if rt.Auth {
			var err error

			id, err = s.cfg.Provider.Identify(r)
			if err != nil {
				var ch *auth.ChallengeError
				if errors.As(err, &ch) && ch.Challenge != "" {
					w.Header().Set("WWW-Authenticate", ch.Challenge)
				}

				if !errors.Is(err, auth.ErrUnauthenticated) {
					s.cfg.Logger.WarnContext(r.Context(), "identify caller", "err", err)
				}

				s.writeMessage(w, r, http.StatusUnauthorized, msgUnauthorized)

				return
			}

			info.user = id.Username
		}

		if rt.Admin && !s.cfg.Service.IsAdmin(id) {
			s.writeMessage(w, r, http.StatusUnauthorized, msgUnauthorized)

			return
		}

		if rt.Maintenance && s.cfg.Maintenance {
			s.writeMessage(w, r, http.StatusMethodNotAllowed, msgMaintenance)

			return
		}

		if err := rt.handle(w, r, id); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// statusOf returns the HTTP status of an error kind.
func statusOf(k service.Kind) int {
	switch k {
	case service.KindBadRequest:
		return http.StatusBadRequest
	case service.KindConflict:
		// A change the engine's running cycle, or a concurrent change of
		// the task, stands in the way of (µTask's NOWAIT lock answers 500).
		return http.StatusConflict
	case service.KindUnauthorized:
		return http.StatusUnauthorized
	case service.KindForbidden:
		return http.StatusForbidden
	case service.KindNotFound:
		return http.StatusNotFound
	case service.KindMaintenance:
		return http.StatusMethodNotAllowed
	case service.KindInternal:
		return http.StatusInternalServerError
	}

	return http.StatusInternalServerError
}

// statusClientClosedRequest is the status of a request its caller
// abandoned (nginx's 499): the access log tells it from a server failure.
const statusClientClosedRequest = 499

// writeError writes err as {"error": message}. An internal error is logged
// and answered with a generic message: its details never reach the caller.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(service.KindOf(err))
	if status == http.StatusInternalServerError && r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The caller went away (its request was cancelled): no fault of
		// the server's. Nobody reads the answer; the access log shows 499.
		s.cfg.Logger.InfoContext(r.Context(), "api request abandoned by its caller",
			"method", r.Method, "path", r.URL.Path, "err", err)
		s.writeMessage(w, r, statusClientClosedRequest, "Request abandoned by the caller")

		return
	}
	if status == http.StatusInternalServerError {
		s.cfg.Logger.ErrorContext(r.Context(), "api internal error",
			"method", r.Method, "path", r.URL.Path, "err", err)
		s.writeMessage(w, r, status, msgInternal)

		return
	}

	s.writeMessage(w, r, status, err.Error())
}

// writeMessage writes {"error": msg} with the given status.
func (s *server) writeMessage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.writeBody(w, r, status, map[string]string{"error": msg})
}
