package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/utask/utask/state"
)

// ValidationError is the error of Validate: a template that cannot be
// used. Its text is "Invalid task template: <reason>".
type ValidationError struct {
	Err error // the reason
}

// Error returns "Invalid task template: " followed by the reason.
func (e *ValidationError) Error() string { return "Invalid task template: " + e.Err.Error() }

// Unwrap returns the reason.
func (e *ValidationError) Unwrap() error { return e.Err }

// Length limits of template fields.
const (
	minStringLength = 3
	maxStringLength = 1000
	maxTextLength   = 100000
	maxExecDelay    = 20 * time.Second
)

// parentTaskTag is set by the engine on subtasks; templates may not set it.
const parentTaskTag = "_utask_parent_task_id"

// Validate normalises t in place and validates it against c, in µTask's
// order, with µTask's error texts, every error being a *ValidationError.
//
// Normalisation: the name is trimmed and lower-cased; a foreach step gets
// the parallel strategy when it has none, and its skip conditions without
// foreach target the children; a json_schema gets an explicit $schema
// (NormalizeSchema); a deprecated base_output becomes a merge output.
//
// Unlike µTask, which visits steps in map order, steps are validated in
// sorted name order, so that the reported error is deterministic. A nil
// catalog is an empty one.
func Validate(t *Template, c *Catalog) error {
	if c == nil {
		c = &Catalog{}
	}
	v := &validator{t: t, c: c, schemas: map[string]*jsonschema.Schema{}}
	if err := v.validate(); err != nil {
		return &ValidationError{Err: err}
	}
	return nil
}

// validator holds what validating one template gathers.
type validator struct {
	t       *Template
	c       *Catalog
	schemas map[string]*jsonschema.Schema
	anc     map[string]map[string]bool // ancestors per step, computed on demand
	cyclic  map[string]bool            // steps on a dependency cycle
}

// ancestors returns the transitive ancestors of step name (see ancestors).
func (v *validator) ancestors(name string) map[string]bool {
	if a, ok := v.anc[name]; ok {
		return a
	}
	if v.anc == nil {
		v.anc = map[string]map[string]bool{}
	}
	a := ancestors(v.t.Steps, name)
	v.anc[name] = a
	return a
}

// validate runs the checks of Validate in order.
func (v *validator) validate() error {
	t := v.t
	t.Name = normaliseName(t.Name)
	if err := validString("template name", t.Name, maxStringLength); err != nil {
		return err
	}
	if err := validString("template description", t.Description, maxStringLength); err != nil {
		return err
	}
	if err := validString("template title format", t.TitleFormat, maxStringLength); err != nil {
		return err
	}
	if t.DocLink != nil {
		if err := validString("template doc link", *t.DocLink, maxStringLength); err != nil {
			return err
		}
	}
	if _, ok := t.Tags[parentTaskTag]; ok {
		return fmt.Errorf("tag name %q not allowed", parentTaskTag)
	}
	if t.LongDescription != nil {
		if err := validString("template long description", *t.LongDescription, maxTextLength); err != nil {
			return err
		}
	}

	if t.AutoRunnable && len(t.ResolverInputs) > 0 {
		return errors.New("A template can't be auto runnable if it has resolver inputs") //nolint:staticcheck // exact µTask text
	}
	if t.AllowAllResolverUsernames && !t.AutoRunnable {
		return errors.New("A template that can be resolved by everybody have to be auto-runnable") //nolint:staticcheck // exact µTask text
	}

	for _, in := range t.Inputs {
		if err := validateDefinition(in); err != nil {
			return err
		}
	}
	for _, in := range t.ResolverInputs {
		if err := validateDefinition(in); err != nil {
			return err
		}
	}
	for _, vr := range t.Variables {
		if err := validateVariable(vr); err != nil {
			return err
		}
	}

	names := make([]string, 0, len(t.Steps))
	for name, s := range t.Steps {
		if s == nil {
			t.Steps[name] = &Step{}
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if parent := childOf(t.Steps, name); parent != "" {
			return fmt.Errorf("Invalid step %s: the name is that of a child of foreach step %q", name, parent) //nolint:staticcheck // capitalised like µTask's texts
		}
		if err := v.step(name, t.Steps[name]); err != nil {
			return fmt.Errorf("Invalid step %s: %w", name, err) //nolint:staticcheck // exact µTask text
		}
	}

	l := &linter{t: t, c: v.c, schemas: v.schemas, graphs: map[string]propertyGraph{}, metaGraphs: map[string]propertyGraph{}}
	if err := l.lint(); err != nil {
		return fmt.Errorf("Invalid text-template handles within task template: %w", err) //nolint:staticcheck // exact µTask text
	}
	if v.c.Syntax != nil {
		if err := v.syntax(); err != nil {
			return err
		}
	}
	return nil
}

// syntax parses every templated string of the template (µTask only finds a
// broken one when it runs, and then blames the caller or fails the step).
func (v *validator) syntax() error {
	doc, err := json.Marshal(v.t)
	if err != nil {
		return fmt.Errorf("encode template: %w", err)
	}
	tree, err := decodeExact(doc)
	if err != nil {
		return fmt.Errorf("encode template: %w", err)
	}
	return walkStrings(tree, "", func(path, s string) error {
		if err := v.c.Syntax(s); err != nil {
			return fmt.Errorf("Invalid template in %s: %w", path, err) //nolint:staticcheck // capitalised like µTask's texts
		}
		return nil
	})
}

// walkStrings calls fn on every string leaf of a decoded JSON document,
// with its dotted path, keys in sorted order.
func walkStrings(x any, path string, fn func(path, s string) error) error {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := x.(type) {
	case string:
		return fn(path, v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := walkStrings(v[k], join(k), fn); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := walkStrings(e, join(strconv.Itoa(i)), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// validString checks that s is between 3 and limit bytes long.
func validString(field, s string, limit int) error {
	if len(s) < minStringLength {
		return fmt.Errorf("%s can't be shorter than %d characters", field, minStringLength)
	}
	if len(s) > limit {
		return fmt.Errorf("%s can't be longer than %d characters", field, limit)
	}
	return nil
}

// validateVariable checks one variable declaration.
func validateVariable(vr Variable) error {
	switch {
	case vr.Name == "":
		return errors.New("variable name can't be empty")
	case vr.Value != nil && vr.Expression != "":
		return fmt.Errorf("variable %q can't have both value and expression defined", vr.Name)
	case vr.Value == nil && vr.Expression == "":
		return fmt.Errorf("variable %q expression and value can't be empty at the same time", vr.Name)
	case vr.Value != nil && vr.ExpressionTimeout != "":
		return fmt.Errorf("variable %q expression timeout cannot be defined when value is defined", vr.Name)
	}
	if vr.ExpressionTimeout != "" {
		if _, err := time.ParseDuration(vr.ExpressionTimeout); err != nil {
			return fmt.Errorf("variable %q %w", vr.Name, err)
		}
	}
	return nil
}

// step validates and normalises one step, then checks that it carries none
// of the fields the engine owns.
func (v *validator) step(name string, s *Step) error {
	if err := v.stepDefinition(name, s); err != nil {
		return err
	}
	return newStepCheck(s)
}

// stepDefinition validates and normalises the author-facing fields of one
// step, in µTask's order.
func (v *validator) stepDefinition(name string, s *Step) error {
	if name == ThisStep {
		return errors.New("'this' step name is reserved")
	}

	if err := s.Action.NormalizeOutput(); err != nil {
		return fmt.Errorf("Invalid executor action: %w", err) //nolint:staticcheck // exact µTask text
	}
	if err := v.c.validateExecutor(&s.Action, v.t.BaseConfigurations, s.PreHook != nil, false); err != nil {
		return fmt.Errorf("Invalid executor action: %w", err) //nolint:staticcheck // exact µTask text
	}
	if s.PreHook != nil {
		if err := s.PreHook.NormalizeOutput(); err != nil {
			return fmt.Errorf("Invalid prehook action: %w", err) //nolint:staticcheck // exact µTask text
		}
	}
	if ph := v.c.EffectivePreHook(s); ph != nil {
		err := v.c.validateExecutor(ph, v.t.BaseConfigurations, false, true)
		switch {
		case errors.Is(err, errPrehookOnPrehook):
			return err
		case err != nil:
			return fmt.Errorf("Invalid prehook action: %w", err) //nolint:staticcheck // exact µTask text
		}
	}

	if s.Foreach == "" && s.ForeachStrategy != "" {
		return errors.New("step foreach_strategy can't be set without foreach")
	}
	if s.Foreach != "" {
		if s.ForeachStrategy == "" {
			s.ForeachStrategy = ForeachParallel
		}
		if s.ForeachStrategy != ForeachParallel && s.ForeachStrategy != ForeachSequence {
			return fmt.Errorf("step foreach_strategy %q is not a valid value", s.ForeachStrategy)
		}
	}
	if s.ExecutionDelay < 0 || s.ExecutionDelay > maxExecDelay {
		return fmt.Errorf("execution_delay: expected %s to be a duration between 0s and %s", s.ExecutionDelay, maxExecDelay)
	}
	switch s.RetryPattern {
	case "", RetrySeconds, RetryMinutes, RetryHours:
	default:
		return fmt.Errorf("Invalid retry pattern: %s Expecting(%s|%s|%s)", s.RetryPattern, RetrySeconds, RetryMinutes, RetryHours) //nolint:staticcheck // exact µTask text
	}
	for _, cs := range s.CustomStates {
		if state.IsReserved(cs) {
			return fmt.Errorf("Custom state %q is not allowed as it's a reserved state. Reserved state are: %s", cs, quotedList(state.Reserved())) //nolint:staticcheck // exact µTask text
		}
	}

	if err := v.conditions(name, s); err != nil {
		return err
	}

	if len(s.JSONSchema) > 0 && string(s.JSONSchema) == "null" {
		s.JSONSchema = nil
	}
	if len(s.JSONSchema) > 0 {
		norm, err := NormalizeSchema(s.JSONSchema)
		if err != nil {
			return fmt.Errorf("Jsonschema: step %s: %w", name, err) //nolint:staticcheck // exact µTask text
		}
		s.JSONSchema = norm
		sch, err := CompileSchema(name, norm)
		if err != nil {
			return fmt.Errorf("Jsonschema: step %s: %w", name, err) //nolint:staticcheck // exact µTask text
		}
		v.schemas[name] = sch
	}

	if err := validateDependencies(v.t.Steps, s); err != nil {
		return err
	}
	if v.onCycle()[name] {
		return circularError(name, v.ancestors(name))
	}
	return nil
}

// childOf returns the foreach step whose children would be named name
// (<step>-<index>), or "". µTask lets such a step be overwritten by the
// child; here the template is refused.
func childOf(steps map[string]*Step, name string) string {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	for _, r := range name[i+1:] {
		if r < '0' || r > '9' {
			return ""
		}
	}
	if p, ok := steps[name[:i]]; ok && p != nil && p.Foreach != "" {
		return name[:i]
	}
	return ""
}

// onCycle returns the steps that lie on a dependency cycle, computed once
// per template in linear time (the ancestors of a step are only gathered
// for the error message).
func (v *validator) onCycle() map[string]bool {
	if v.cyclic == nil {
		v.cyclic = cycleMembers(v.t.Steps)
	}
	return v.cyclic
}

// quotedList renders names as "A", "B", "C".
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// conditionOperators lists the assertion operators, as the condition
// evaluator accepts them (compared case-insensitively).
func conditionOperators() []string {
	return []string{"EQ", "NE", "GT", "LT", "GE", "LE", "REGEXP", "NOTREGEXP", "IN", "NOTIN"}
}

// conditions normalises and validates the step's own conditions (those its
// functions contribute are not validated).
func (v *validator) conditions(name string, s *Step) error {
	for i, cond := range s.Conditions {
		if cond == nil {
			cond = &Condition{}
			s.Conditions[i] = cond
		}
		if s.Foreach != "" && cond.Type == ConditionSkip && cond.Foreach == "" {
			cond.Foreach = ForeachChildren
		}
	}
	for _, cond := range s.Conditions {
		if cond.Type != ConditionSkip && cond.Type != ConditionCheck {
			return fmt.Errorf("Unknown condition type: %s", cond.Type) //nolint:staticcheck // exact µTask text
		}
		if cond.Foreach != "" && cond.Foreach != ForeachChildren && cond.Foreach != ForeachParent {
			return fmt.Errorf("Unknown condition foreach: %s", cond.Foreach) //nolint:staticcheck // exact µTask text
		}
		for _, a := range cond.If {
			op := strings.ToUpper(a.Operator)
			if !slices.Contains(conditionOperators(), op) {
				return fmt.Errorf("Unknown condition operator: %s", a.Operator) //nolint:staticcheck // exact µTask text
			}
			if op == "REGEXP" || op == "NOTREGEXP" {
				if _, err := regexp.Compile(a.Expected); err != nil {
					return err
				}
			}
		}
		keys := make([]string, 0, len(cond.Then))
		for k := range cond.Then {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			if key == name && s.Foreach == "" {
				return errors.New("Step condition should not reference itself, use 'this'") //nolint:staticcheck // exact µTask text
			}
			target := key
			if key == ThisStep {
				target = name
			}
			ts, ok := v.t.Steps[target]
			if !ok {
				return fmt.Errorf("Step condition points to non-existing step: %s", target) //nolint:staticcheck // exact µTask text
			}
			if !v.inChain(name, target) {
				return fmt.Errorf("Step condition cannot impact the state of step %s, only those who belong to the dependency chain are allowed", target) //nolint:staticcheck // exact µTask text
			}
			st := cond.Then[key]
			if !slices.Contains(state.ConditionTargets(), st) && !slices.Contains(v.c.EffectiveCustomStates(ts), st) {
				return fmt.Errorf("Step condition implies invalid state for step %s: %s", target, st) //nolint:staticcheck // exact µTask text
			}
		}
		if cond.Foreach != "" && s.Foreach == "" {
			return errors.New("Step condition cannot set foreach on a non-foreach step") //nolint:staticcheck // exact µTask text
		}
		if cond.Foreach != "" && cond.Type == ConditionCheck {
			return errors.New("Step condition can set foreach on a skip condition") //nolint:staticcheck // exact µTask text
		}
	}
	return nil
}

// inChain reports whether target is name itself, one of its transitive
// ancestors or one of its transitive descendants.
func (v *validator) inChain(name, target string) bool {
	return target == name || v.ancestors(name)[target] || v.ancestors(target)[name]
}

// newStepCheck rejects the fields the engine owns.
func newStepCheck(s *Step) error {
	var msg string
	switch {
	case s.State != "":
		msg = "step state must not be set"
	case s.ChildrenSteps != nil:
		msg = "step children_steps must not be set"
	case s.ChildrenStepsMap != nil:
		msg = "step children_steps_map must not be set"
	case s.Output != nil:
		msg = "step output must not be set"
	case s.Metadata != nil:
		msg = "step metadatas must not be set"
	case s.Tags != nil:
		msg = "step tags must not be set"
	case s.Children != nil:
		msg = "step children must not be set"
	case s.Error != "":
		msg = "step error must not be set"
	case s.TryCount != 0:
		msg = "step try_count must not be set"
	case s.LastRun != nil && !s.LastRun.IsZero():
		msg = "step last_time must not be set"
	case s.Item != nil:
		msg = "step item must not be set"
	default:
		return nil
	}
	return errors.New(msg)
}
