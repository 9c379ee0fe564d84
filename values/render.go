package values

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrTemplating marks every parse or execution error of a template. Its text makes errors read
// "Templating error: <go template error>".
var ErrTemplating = errors.New("Templating error") //nolint:gochecknoglobals,staticcheck // sentinel error; the capitalised text is part of the contract

// Scope carries the handles of one evaluation that are not part of the stored tree.
type Scope struct {
	// This names the step that .step.this aliases: .step.this is that step's own entry, with its
	// seven fields. Empty means no step: .step.this is then absent and prints "<no value>". The
	// alias only exists during the evaluation; it is removed afterwards rather than left with
	// null fields, so a later evaluation without a step that chains below .step.this prints
	// "<no value>" instead of failing. A step that has no entry gives an empty .step.this.
	This string

	// Iterator is the value of .iterator, the current foreach item. The key is always present:
	// when Iterator is nil, .iterator prints "<no value>" and chaining a field below it is an
	// error.
	Iterator any

	// PreHook is .pre_hook ({output, metadata} of the step's pre-hook); nil leaves it absent.
	PreHook map[string]any

	// FunctionArgs is .function_args; nil leaves it absent.
	FunctionArgs map[string]any

	// Attempt selects the per-attempt view of the tree, the one a step's main configuration,
	// context and outputs see: time values held by the stored handles (input, resolver_input,
	// config, task and steps) print as RFC 3339 with nanoseconds, as after a JSON round trip.
	// Otherwise they print in time.String form. Iterator, PreHook and FunctionArgs are used as
	// given in both views.
	Attempt bool
}

// Render evaluates the template text against the tree. A text without "{{" is returned as it
// is. Errors wrap [ErrTemplating].
func (v *Values) Render(text string, sc Scope) (out string, err error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}

	entry := v.cache.get(text, v.allowEnv)
	if entry.err != nil {
		return "", templatingError(entry.err)
	}

	root := v.enter(sc)
	defer v.leave()

	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("%w: template: %s: panic: %v", ErrTemplating, templateName, r)
		}
	}()

	var sb strings.Builder
	if entry.bound {
		bt := entry.acquire()
		defer entry.release(bt)

		*bt.b = binder{root: root, sc: sc, v: v}
		err = bt.tmpl.Execute(&sb, root)
	} else {
		err = entry.tmpl.Execute(&sb, root)
	}

	if err != nil {
		return "", templatingError(err)
	}

	return sb.String(), nil
}

// RenderJSON returns a copy of the decoded JSON document doc (as produced by [DecodeJSON]) in
// which every string inside an object or a list is replaced by its evaluation. Object keys are
// never evaluated, other values are kept, and a document that is not an object or a list (a
// bare string or number in particular) is returned unchanged. doc is not modified. Strings are
// evaluated in key order, and the first error is returned.
func (v *Values) RenderJSON(doc any, sc Scope) (any, error) {
	switch doc.(type) {
	case map[string]any, []any:
		return v.renderJSONValue(doc, sc)
	default:
		return doc, nil
	}
}

// RenderResult returns a copy of the result format m in which every key is evaluated first (a
// key whose text changes is renamed; when two keys end with the same text, the one whose
// original text sorts last wins), then every string value, nested string-keyed maps
// recursively. Lists and other values are kept. m is not modified. On error the entry is kept
// untemplated, the other entries are still processed, and the partially templated map is
// returned with the first error, in key order.
func (v *Values) RenderResult(m map[string]any, sc Scope) (map[string]any, error) {
	out := make(map[string]any, len(m))

	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}

	for _, k := range slices.Sorted(maps.Keys(m)) {
		key, err := v.Render(k, sc)
		if err != nil {
			keep(err)
			key = k
		}

		switch val := m[k].(type) {
		case string:
			s, err := v.Render(val, sc)
			if err != nil {
				keep(err)
				s = val
			}

			out[key] = s
		case map[string]any:
			sub, err := v.RenderResult(val, sc)
			if err != nil {
				keep(err)
			}

			out[key] = sub
		default:
			out[key] = val
		}
	}

	return out, first
}

// apply writes the handles of sc into the root and step tree of its view, and returns the root.
func (v *Values) apply(sc Scope) map[string]any {
	view := viewDirect
	if sc.Attempt {
		view = viewAttempt
	}

	root, steps := v.roots[view], v.stepTrees[view]

	v.fillRoot(root, steps, view, sc)

	want := baseRootKeys
	if sc.PreHook != nil {
		want++
	}

	if sc.FunctionArgs != nil {
		want++
	}

	if len(root) != want {
		// A template added keys to the root (Sprig's set): start again from a clean root.
		clear(root)
		v.fillRoot(root, steps, view, sc)
	}

	switch e, ok := v.steps[sc.This]; {
	case sc.This == "":
		delete(steps, keyThis)
	case ok:
		steps[keyThis] = e.views[view]
	default:
		steps[keyThis] = map[string]any{}
	}

	return root
}

// enter starts an evaluation with sc and returns the root to execute against.
func (v *Values) enter(sc Scope) map[string]any {
	v.scopes = append(v.scopes, sc)

	return v.apply(sc)
}

// fillRoot sets every handle of the root.
func (v *Values) fillRoot(root, steps map[string]any, view int, sc Scope) {
	root[keyConfig] = v.handles[handleConfig][view]
	root[keyInput] = v.handles[handleInput][view]
	root[keyIterator] = sc.Iterator
	root[keyResolverInput] = v.handles[handleResolverInput][view]
	root[keyStep] = steps
	root[keyTask] = v.handles[handleTask][view]

	if sc.PreHook != nil {
		root[keyPreHook] = sc.PreHook
	} else {
		delete(root, keyPreHook)
	}

	if sc.FunctionArgs != nil {
		root[keyFunctionArgs] = sc.FunctionArgs
	} else {
		delete(root, keyFunctionArgs)
	}
}

// leave ends the innermost evaluation, restoring the scope of the enclosing one, or removing
// the per-evaluation handles when none is left.
func (v *Values) leave() {
	v.scopes = v.scopes[:len(v.scopes)-1]
	if n := len(v.scopes); n > 0 {
		v.apply(v.scopes[n-1])

		return
	}

	for view := range v.roots {
		v.roots[view][keyIterator] = nil
		delete(v.roots[view], keyPreHook)
		delete(v.roots[view], keyFunctionArgs)
		delete(v.stepTrees[view], keyThis)
	}
}

// renderJSONValue is RenderJSON below the top level.
func (v *Values) renderJSONValue(x any, sc Scope) (any, error) {
	switch t := x.(type) {
	case string:
		return v.Render(t, sc)
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range slices.Sorted(maps.Keys(t)) {
			r, err := v.renderJSONValue(t[k], sc)
			if err != nil {
				return nil, err
			}

			out[k] = r
		}

		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := v.renderJSONValue(e, sc)
			if err != nil {
				return nil, err
			}

			out[i] = r
		}

		return out, nil
	default:
		return x, nil
	}
}

// templatingError wraps a template error in ErrTemplating.
func templatingError(err error) error {
	return fmt.Errorf("%w: %w", ErrTemplating, err)
}
