// Package action defines what a step runs: the Action interface, the error
// classes that decide a step's state, and the Registry the engine looks
// actions up in.
//
// Builtin actions live in sub-packages (action/echo, action/http, …) and are
// registered by cmd/utask the same way an embedder registers its own.
package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Action is one kind of step work.
type Action interface {
	// ValidateConfig checks a step's raw (untemplated) configuration when a
	// template is loaded. base is the step's base configuration (nil when it
	// has none); config overlays it.
	ValidateConfig(base, config json.RawMessage) error
	// Run executes the action once with templated configurations. It must
	// return when ctx is done.
	Run(ctx context.Context, req Request) Result
	// Resources names the resource labels (semaphores) a run with these
	// templated configurations holds, e.g. "socket" or "url:example.org".
	Resources(base, config json.RawMessage) []string
}

// SideEffectFree is implemented by actions whose runs change nothing outside
// the resolution (echo): their result depends only on their configuration.
// The engine runs such a step without committing its RUNNING mark first and
// lets its result reach the database with the next write of the resolution,
// which happens before any step with effects starts and at the end of the
// cycle. A crash in between makes the step run again, which no one outside
// can tell. Such an action must also be quick: unless its step has a delay
// or resources, the engine runs it in the cycle's own goroutine.
type SideEffectFree interface {
	SideEffectFree()
}

// HasEffects reports whether a run of a may change something outside the
// resolution: every action but those implementing SideEffectFree.
func HasEffects(a Action) bool {
	_, free := a.(SideEffectFree)
	return !free
}

// WokenOnly is implemented by actions whose WAITING steps progress only
// when something wakes their resolution (batch: its last child). The
// engine's recheck of WAITING steps at the end of a cycle leaves them
// alone: run again while what they wait for runs, a batch would start its
// next children before the wave is over.
type WokenOnly interface {
	WokenOnly()
}

// IsWokenOnly reports whether a implements WokenOnly.
func IsWokenOnly(a Action) bool {
	_, ok := a.(WokenOnly)
	return ok
}

// Contexter is implemented by actions that receive a context object: a map
// whose string values are templates the engine renders before Run, e.g.
// {"task_id": "{{ .task.task_id }}"}.
type Contexter interface {
	Context(stepName string) map[string]any
}

// Request is one run of an action.
type Request struct {
	StepName   string
	BaseConfig json.RawMessage // templated base configuration, nil when none
	Config     json.RawMessage // templated configuration
	Context    map[string]any  // rendered context (Contexter), nil otherwise
	Logger     *slog.Logger
}

// Result is what a run produced. Output and Metadata are kept even when Err
// is set; Tags are merged into the task's tags (an empty value removes one).
type Result struct {
	Output   any
	Metadata any
	Tags     map[string]string
	Err      error
}

// Kind classifies an action error; it decides the step's state.
type Kind int

// Error kinds.
const (
	// KindServer is any failure worth retrying later: SERVER_ERROR.
	KindServer Kind = iota
	// KindClient is a request the far end refused: CLIENT_ERROR.
	KindClient
	// KindWaiting means the step waits for something outside (a human, a
	// callback, another task): WAITING.
	KindWaiting
	// KindRetry means a resource was not available: TO_RETRY.
	KindRetry
)

type kindError struct {
	kind Kind
	err  error
}

func (e *kindError) Error() string { return e.err.Error() }
func (e *kindError) Unwrap() error { return e.err }

// ClientError marks err as a client error (CLIENT_ERROR).
func ClientError(err error) error { return &kindError{kind: KindClient, err: err} }

// WaitingError marks err as a wait for something outside (WAITING).
func WaitingError(err error) error { return &kindError{kind: KindWaiting, err: err} }

// RetryError marks err as a missing resource (TO_RETRY).
func RetryError(err error) error { return &kindError{kind: KindRetry, err: err} }

// Clientf formats a client error.
func Clientf(format string, args ...any) error { return ClientError(fmt.Errorf(format, args...)) }

// KindOf returns the kind of err: the kind given by ClientError, WaitingError
// or RetryError anywhere in its chain, else KindServer.
func KindOf(err error) Kind {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return KindServer
}

// Registry holds the actions by type name. It is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	actions map[string]Action
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{actions: map[string]Action{}}
}

// Register adds an action under name; a name may be registered once.
func (r *Registry) Register(name string, a Action) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.actions[name]; ok {
		return fmt.Errorf("register action %q: already registered", name)
	}
	r.actions[name] = a
	return nil
}

// Lookup returns the action registered under name.
func (r *Registry) Lookup(name string) (Action, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.actions[name]
	return a, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.actions))
	for n := range r.actions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Overlay decodes base then config into v, so that keys of config override
// those of base at the top level of v. Either may be empty. It is how
// actions combine a base configuration with a step's own.
func Overlay(base, config json.RawMessage, v any) error {
	if len(base) > 0 && string(base) != "null" {
		if err := json.Unmarshal(base, v); err != nil {
			return fmt.Errorf("unmarshal base configuration: %w", err)
		}
	}
	if len(config) == 0 {
		return fmt.Errorf("unmarshal configuration: EOF")
	}
	if err := json.Unmarshal(config, v); err != nil {
		return fmt.Errorf("unmarshal configuration: %w", err)
	}
	return nil
}
