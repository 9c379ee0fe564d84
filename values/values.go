package values

import (
	"maps"
	"slices"
	"time"
)

// Keys of the data tree.
const (
	keyConfig        = "config"
	keyFunctionArgs  = "function_args"
	keyInput         = "input"
	keyIterator      = "iterator"
	keyPreHook       = "pre_hook"
	keyResolverInput = "resolver_input"
	keyStep          = "step"
	keyTask          = "task"
	keyThis          = "this"
)

// Keys of a step entry under .step.NAME.
const (
	stepKeyChildren   = "children"
	stepKeyError      = "error"
	stepKeyMaxRetries = "max_retries"
	stepKeyMetadata   = "metadata"
	stepKeyOutput     = "output"
	stepKeyState      = "state"
	stepKeyTryCount   = "try_count"
)

// Indexes of the handles set as a whole.
const (
	handleInput = iota
	handleResolverInput
	handleConfig
	handleTask
	numHandles
)

// Indexes of the two views of the tree.
const (
	viewDirect  = 0 // times print in time.String form
	viewAttempt = 1 // times print as RFC 3339 with nanoseconds
)

// baseRootKeys is the number of keys always present at the root: input, resolver_input, step,
// config, task and iterator.
const baseRootKeys = 6

// Values is the data tree of one resolution, against which templates are evaluated. It is not
// safe for concurrent use: one resolution uses it from a single goroutine. Its [Cache] is shared
// and safe for concurrent use.
//
// The maps given to the setters are kept, not copied: they must not be modified while the
// Values uses them. Templates can modify them through Sprig functions such as set and unset,
// as they always could.
type Values struct {
	cache    *Cache
	allowEnv bool

	// handles holds the two views (direct, attempt) of input, resolver_input, config and task.
	// The attempt view is the same object unless the value holds times.
	handles [numHandles][2]map[string]any

	steps     map[string]*stepEntry
	stepTrees [2]map[string]any // .step of each view

	roots  [2]map[string]any // root of each view, refreshed at each evaluation
	scopes []Scope           // scopes of the evaluations in progress, innermost last

	vars      map[string]*variable
	evalDepth int
}

// Options configures a [Values].
type Options struct {
	// Cache holds the parsed templates. Give the same Cache to every Values so that a template
	// is parsed once for all resolutions. Defaults to a new Cache of [DefaultCacheSize].
	Cache *Cache

	// AllowEnv makes Sprig's env and expandenv read the process environment. When false, env
	// returns "" and expandenv replaces every variable by "", so that templates cannot read
	// secrets passed to the server by environment. Defaults to false.
	AllowEnv bool
}

// New returns an empty Values: every handle is an empty map, there are no steps and no
// variables.
func New(opts Options) *Values {
	c := opts.Cache
	if c == nil {
		c = NewCache(DefaultCacheSize)
	}

	v := &Values{
		allowEnv:  opts.AllowEnv,
		cache:     c,
		roots:     [2]map[string]any{make(map[string]any, baseRootKeys+2), make(map[string]any, baseRootKeys+2)},
		stepTrees: [2]map[string]any{make(map[string]any), make(map[string]any)},
		steps:     make(map[string]*stepEntry),
		vars:      make(map[string]*variable),
	}
	for h := range numHandles {
		v.setHandle(h, nil)
	}

	return v
}

// DeleteStep removes the step called name from .step.
func (v *Values) DeleteStep(name string) {
	delete(v.steps, name)
	delete(v.stepTrees[viewDirect], name)
	delete(v.stepTrees[viewAttempt], name)
}

// SetConfig sets .config, the configuration-store items.
func (v *Values) SetConfig(m map[string]any) {
	v.setHandle(handleConfig, m)
}

// SetInput sets .input, the requester inputs.
func (v *Values) SetInput(m map[string]any) {
	v.setHandle(handleInput, m)
}

// SetResolverInput sets .resolver_input, the resolver inputs.
func (v *Values) SetResolverInput(m map[string]any) {
	v.setHandle(handleResolverInput, m)
}

// SetStep sets every field of .step.NAME from d, replacing what the entry held. The name "this"
// is reserved for the alias of [Scope.This].
func (v *Values) SetStep(name string, d StepData) {
	e := &stepEntry{data: d}
	e.views[viewDirect] = stepMap(d)
	v.putStep(name, e)
}

// SetStepError sets .step.NAME.error only, creating the entry (with only that field) when the
// step has none.
func (v *Values) SetStepError(name, msg string) {
	v.setStepField(name, stepKeyError, msg, func(d *StepData) { d.Error = msg })
}

// SetStepState sets .step.NAME.state only, creating the entry (with only that field) when the
// step has none.
func (v *Values) SetStepState(name, state string) {
	v.setStepField(name, stepKeyState, state, func(d *StepData) { d.State = state })
}

// SetTask sets .task, the task information. Its time values print in time.String form, or as
// RFC 3339 with nanoseconds in the per-attempt view (see [Scope]).
func (v *Values) SetTask(m map[string]any) {
	v.setHandle(handleTask, m)
}

// SetVariables replaces the variable registry by vars (the last of several variables with the
// same name wins) and forgets every value memoised by evalCache.
func (v *Values) SetVariables(vars []Variable) {
	v.vars = make(map[string]*variable, len(vars))
	for _, vr := range vars {
		v.vars[vr.Name] = &variable{def: vr}
	}
}

// Step returns what SetStep, SetStepState and SetStepError recorded for the step called name,
// and whether it has an entry.
func (v *Values) Step(name string) (StepData, bool) {
	e, ok := v.steps[name]
	if !ok {
		return StepData{}, false
	}

	return e.data, true
}

// putStep stores e as the entry of name, computing its attempt view.
func (v *Values) putStep(name string, e *stepEntry) {
	e.views[viewAttempt] = jsonTimes(e.views[viewDirect])
	v.steps[name] = e
	v.stepTrees[viewDirect][name] = e.views[viewDirect]
	v.stepTrees[viewAttempt][name] = e.views[viewAttempt]
}

// setHandle stores both views of handle h; a nil map becomes an empty one.
func (v *Values) setHandle(h int, m map[string]any) {
	if m == nil {
		m = map[string]any{}
	}

	v.handles[h] = [2]map[string]any{m, jsonTimes(m)}
}

// setStepField sets one field of the entry of name, creating a partial entry if needed.
func (v *Values) setStepField(name, key, value string, update func(*StepData)) {
	e, ok := v.steps[name]
	if !ok {
		e = &stepEntry{}
		e.views[viewDirect] = map[string]any{}
		v.putStep(name, e)
	}

	update(&e.data)
	e.views[viewDirect][key] = value
	e.views[viewAttempt][key] = value
}

// StepData is what .step.NAME exposes: output, metadata, children, error and state, plus
// try_count and max_retries when set. A nil Output, Metadata or Children is exposed as an empty
// map, so that chaining fields below it is safe.
type StepData struct {
	// Output is the step output, after output strategies.
	Output any
	// Metadata is the plugin metadata.
	Metadata any
	// Children holds the results of a foreach step.
	Children any
	// Error is the error text or condition message.
	Error string
	// State is the step state.
	State string
	// TryCount is the execution counter; nil leaves try_count absent.
	TryCount *int
	// MaxRetries is the effective maximum number of retries; nil leaves max_retries absent.
	MaxRetries *int
}

// stepEntry is one step of the tree.
type stepEntry struct {
	data  StepData
	views [2]map[string]any // the .step.NAME map of each view
}

// stepMap builds the .step.NAME map of d.
func stepMap(d StepData) map[string]any {
	m := map[string]any{
		stepKeyChildren: emptyIfNil(d.Children),
		stepKeyError:    d.Error,
		stepKeyMetadata: emptyIfNil(d.Metadata),
		stepKeyOutput:   emptyIfNil(d.Output),
		stepKeyState:    d.State,
	}
	if d.TryCount != nil {
		m[stepKeyTryCount] = *d.TryCount
	}

	if d.MaxRetries != nil {
		m[stepKeyMaxRetries] = *d.MaxRetries
	}

	return m
}

// emptyIfNil returns x, or a new empty map when x is nil.
func emptyIfNil(x any) any {
	if x == nil {
		return map[string]any{}
	}

	return x
}

// jsonTimes returns m with every time value, at any depth of maps and lists, replaced by its
// JSON text (RFC 3339 with nanoseconds), as a JSON round trip would. Maps and lists are copied
// only where they contain a time; m itself is returned when it holds none.
func jsonTimes(m map[string]any) map[string]any {
	out, _ := convertTimes(m)

	return out.(map[string]any) //nolint:forcetypeassert // a map stays a map
}

// convertTimes is jsonTimes for any value; it also reports whether x held a time.
func convertTimes(x any) (any, bool) {
	switch t := x.(type) {
	case time.Time:
		return t.Format(time.RFC3339Nano), true
	case *time.Time:
		if t == nil {
			return x, false
		}

		return t.Format(time.RFC3339Nano), true
	case map[string]any:
		var out map[string]any
		for k, val := range t {
			c, ok := convertTimes(val)
			if !ok {
				continue
			}

			if out == nil {
				out = maps.Clone(t)
			}

			out[k] = c
		}

		if out == nil {
			return t, false
		}

		return out, true
	case []any:
		var out []any
		for i, val := range t {
			c, ok := convertTimes(val)
			if !ok {
				continue
			}

			if out == nil {
				out = slices.Clone(t)
			}

			out[i] = c
		}

		if out == nil {
			return t, false
		}

		return out, true
	default:
		return x, false
	}
}
