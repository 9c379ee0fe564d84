// Package service implements the operations of the HTTP API: one method per
// operation, taking the caller's identity and a request, returning a view
// ready to be encoded. Authorisation, validation and persistence happen
// here; the api package only decodes, calls and encodes.
//
// Every error a method returns is an [*Error] whose [Kind] decides the HTTP
// status; its message is the one µTask gives for the same case.
package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// Runner is the engine as the service sees it.
type Runner interface {
	// Launch starts an execution cycle of a resolution this instance has
	// already claimed (state AUTORUNNING, instance_id = this instance) in the
	// background; it never blocks the caller.
	Launch(resolutionPublicID string)
	// RunNow runs a cycle of the resolution (API "run"). It returns the
	// cycle's start error (an *Error, e.g. of kind KindBadRequest when the
	// resolution is already running) as soon as the cycle has started or
	// refused, and lets the cycle continue in the background.
	RunNow(ctx context.Context, resolutionPublicID string) error
	// Wake tells the engine that new delayed work exists.
	Wake()
	// WakeResolution makes a waiting resolution due now (a subtask of its
	// task ended).
	WakeResolution(ctx context.Context, resolutionPublicID string) error
	// Steps returns the steps of a resolution as step objects (definition
	// and state, output…), keyed by name.
	Steps(ctx context.Context, r *store.Resolution) (map[string]*template.Step, error)
	// InstanceID returns the id of this engine instance.
	InstanceID() int64
}

// Starter is implemented by a Runner that can start the cycle of a new
// resolution without a transaction of its own: the resolution is stored
// RUNNING in the transaction that creates it. The engine implements it.
type Starter interface {
	// Reserve reserves a cycle of the resolution, not stored yet, without
	// waiting; false means none is free, and the resolution is launched as
	// usual.
	Reserve(resolutionPublicID string) (Reservation, bool)
}

// Reservation is a reserved cycle: Start it once the resolution is
// committed, or Cancel it.
type Reservation interface {
	// Start runs the cycle of the committed resolution; the runner owns
	// task and res from then on.
	Start(task *store.Task, res *store.Resolution)
	// Cancel gives the reservation up.
	Cancel()
}

// Config holds what a Service needs.
type Config struct {
	// Store is the database. Required.
	Store store.Store
	// Runner is the engine. Required.
	Runner Runner
	// Templates is the set of loaded templates. Required.
	Templates *Templates
	// Functions are the loaded functions, by name, listed by ListFunctions.
	// Nil means none. They are shared, never modified.
	Functions map[string]*template.Function
	// Policy holds the administrators.
	Policy auth.Policy
	// Catalog holds the actions and functions that steps edited by an
	// administrator are validated against. Nil means a catalog of
	// Functions only, where no step using a plugin action validates.
	Catalog *template.Catalog
	// Values returns a fresh data tree with .config set, used to template
	// titles and tags at task creation. Defaults to an empty tree.
	Values func() *values.Values
	// Region is exposed to templates as .task.region. Defaults to "default".
	Region string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger receives the service's logs. Defaults to discarding them.
	Logger *slog.Logger
	// NewID returns a new public id (a UUID v4). Defaults to uuid.NewString.
	NewID func() string

	// ApplicationName is reported by Meta.
	ApplicationName string
	// Version is the build version reported by Meta.
	Version string
	// Commit is the build commit reported by Meta.
	Commit string
}

// DefaultRegion is the region of an instance started without one.
const DefaultRegion = "default"

// Service runs the API operations.
type Service struct {
	cfg Config
}

// New returns a Service; the zero fields of cfg that have defaults get them.
func New(cfg Config) *Service {
	if cfg.Values == nil {
		cfg.Values = func() *values.Values { return values.New(values.Options{}) }
	}

	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}

	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}

	return &Service{cfg: cfg}
}

// now returns the current time as the store keeps it: UTC, microseconds.
func (s *Service) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}

// checkPublicID refuses an id that is not a UUID, as the reference database
// does, so that such a request is a 400 and not a 404.
func checkPublicID(what, id string) *Error {
	if _, err := uuid.Parse(id); err != nil {
		return Errorf(KindBadRequest, "Failed to load %s from public id: invalid input syntax for type uuid: %q",
			what, id)
	}

	return nil
}

// loadTask returns a task by public id.
func (s *Service) loadTask(ctx context.Context, publicID string) (*store.Task, error) {
	if err := checkPublicID("task", publicID); err != nil {
		return nil, err
	}

	t, err := s.cfg.Store.TaskGet(ctx, publicID)
	if err != nil {
		return nil, storeError("Failed to load task from public id", err)
	}

	return t, nil
}

// loadResolution returns a resolution by public id.
func (s *Service) loadResolution(ctx context.Context, publicID string) (*store.Resolution, error) {
	if err := checkPublicID("resolution", publicID); err != nil {
		return nil, err
	}

	r, err := s.cfg.Store.ResolutionGet(ctx, publicID)
	if err != nil {
		return nil, storeError("Failed to load resolution from public id", err)
	}

	return r, nil
}

// currentTemplate returns the template that rules task t now: the loaded
// template of that name, or, when it is no longer loaded, the version the
// task was created from.
func (s *Service) currentTemplate(ctx context.Context, q versionReader, t *store.Task) (*template.Template, error) {
	if tt, _, ok := s.cfg.Templates.Get(t.TemplateName); ok {
		return tt, nil
	}

	return s.versionTemplate(ctx, q, t)
}

// versionReader reads template versions: the store, or the transaction in
// progress (a transaction must not wait for a second connection of the
// pool, which could all be held by transactions waiting the same way).
type versionReader interface {
	TemplateVersionGet(ctx context.Context, id int64) ([]byte, error)
}

// versionTemplate returns the template version task t was created from,
// which holds the step definitions, base configurations and retry_max its
// resolution runs with.
func (s *Service) versionTemplate(ctx context.Context, q versionReader, t *store.Task) (*template.Template, error) {
	if tt, v, ok := s.cfg.Templates.Get(t.TemplateName); ok && v == t.TemplateVersion {
		return tt, nil
	}

	doc, err := q.TemplateVersionGet(ctx, t.TemplateVersion)
	if err != nil {
		return nil, wrap(KindInternal, fmt.Sprintf("load template %q version %d", t.TemplateName, t.TemplateVersion), err)
	}

	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()

	var tt template.Template
	if err := dec.Decode(&tt); err != nil {
		return nil, wrap(KindInternal, fmt.Sprintf("decode template %q version %d", t.TemplateName, t.TemplateVersion), err)
	}

	return &tt, nil
}

// templateVariables converts the variables of a template for the values
// package.
func templateVariables(vars []template.Variable) []values.Variable {
	out := make([]values.Variable, 0, len(vars))
	for _, v := range vars {
		out = append(out, values.Variable{
			Name:              v.Name,
			Value:             v.Value,
			Expression:        v.Expression,
			ExpressionTimeout: v.ExpressionTimeout,
		})
	}

	return out
}

// deepCopy copies the maps and slices of a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}

		return out
	}

	return v
}

// deepCopyMap copies m and every map and slice inside it; nil stays nil.
func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}

	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}

	return out
}

// normalisePageSize applies the paging rules: 0 means 1000, and the size is
// kept within 10..10000.
func normalisePageSize(n uint64) int {
	switch {
	case n == 0:
		return DefaultPageSize
	case n < MinPageSize:
		return MinPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}

	return int(n)
}

// Page sizes of the listings.
const (
	DefaultPageSize = 1000
	MinPageSize     = 10
	MaxPageSize     = 10000
)
