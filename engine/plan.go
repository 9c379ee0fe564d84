package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/utask/utask/action"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// plan is a template version compiled for execution: every step with its
// resolved action chain, effective conditions, parsed dependencies and
// compiled schema, plus the static dependency graph. A plan is immutable and
// shared by every resolution of the version.
type plan struct {
	tmpl       *template.Template
	steps      map[string]*stepDef
	names      []string            // sorted step names
	dependents map[string][]string // step → steps that depend on it
	// ancestors holds the transitive dependencies of the steps that ANY
	// dependencies name, the only steps whose ancestry the scheduler reads.
	// Computing it for every step would cost O(n²) on a long chain.
	ancestors map[string][]string
}

// decodeStep reads the stored JSON form of a step definition (an edited
// step's override) and normalises it as template validation does: a
// deprecated base_output becomes a merge output, and the skip conditions of
// a foreach step without a target apply to its children.
func decodeStep(doc []byte) (*template.Step, error) {
	var s template.Step
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode step definition: %w", err)
	}
	if err := s.Action.NormalizeOutput(); err != nil {
		return nil, fmt.Errorf("decode step definition: %w", err)
	}
	for _, cond := range s.Conditions {
		if cond != nil && s.Foreach != "" && cond.Type == template.ConditionSkip && cond.Foreach == "" {
			cond.Foreach = template.ForeachChildren
		}
	}
	return &s, nil
}

// withOverrides returns the plan of one resolution whose stored rows carry
// definitions of their own (steps an administrator edited): p itself when
// none does, else a plan compiled from the template with those steps
// replaced. Only steps of the template can be overridden; a foreach child
// always derives from its parent.
func (p *plan) withOverrides(rows []*store.Step, c *template.Catalog) (*plan, error) {
	var steps map[string]*template.Step
	for _, r := range rows {
		if len(r.Data.Definition) == 0 {
			continue
		}
		if _, ok := p.steps[r.Name]; !ok {
			continue
		}
		s, err := decodeStep(r.Data.Definition)
		if err != nil {
			return nil, fmt.Errorf("step %s: %w", r.Name, err)
		}
		if steps == nil {
			steps = make(map[string]*template.Step, len(p.tmpl.Steps))
			for name, def := range p.tmpl.Steps {
				steps[name] = def
			}
		}
		steps[r.Name] = s
	}
	if steps == nil {
		return p, nil
	}
	t := *p.tmpl
	t.Steps = steps
	q, err := buildPlan(&t, c)
	if err != nil {
		return nil, fmt.Errorf("compile edited steps of template %s: %w", t.Name, err)
	}
	return q, nil
}

// stepDef is the immutable definition of one step, foreach children included.
type stepDef struct {
	name         string
	step         *template.Step
	deps         []template.Dependency
	levels       []template.Level
	plugin       action.Action
	conditions   []*template.Condition
	customStates []string
	preHook      *template.Action
	preLevels    []template.Level // resolved chain of the pre-hook
	prePlugin    action.Action
	schema       *jsonschema.Schema
	isLoop       bool
	err          error  // why the step cannot run (unknown action, bad schema)
	parent       string // for foreach children
	index        int
	// effects and preEffects say whether the action and the pre-hook may
	// change something outside the resolution (action.HasEffects): the
	// state changes of a step with effects are committed at once, and no
	// such attempt starts before what it depends on is committed.
	effects    bool
	preEffects bool
	// wokenOnly: the end-of-cycle recheck of WAITING steps leaves the
	// step alone (action.WokenOnly).
	wokenOnly bool
}

// decodeTemplate reads the stored JSON form of a template version.
func decodeTemplate(doc []byte) (*template.Template, error) {
	var t template.Template
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	return &t, nil
}

// buildPlan compiles a validated template against the catalog.
func buildPlan(t *template.Template, c *template.Catalog) (*plan, error) {
	p := &plan{
		tmpl:       t,
		steps:      make(map[string]*stepDef, len(t.Steps)),
		dependents: map[string][]string{},
		ancestors:  map[string][]string{},
	}
	for name, s := range t.Steps {
		d, err := buildStepDef(name, s, c)
		if err != nil {
			// The step fails when it runs (FATAL_ERROR), not the whole
			// resolution when it loads: an action or function may have gone
			// since the task was created.
			d = &stepDef{name: name, step: s, err: err, isLoop: s.Foreach != ""}
			for _, dep := range s.Dependencies {
				d.deps = append(d.deps, template.ParseDependency(dep))
			}
		}
		p.steps[name] = d
		p.names = append(p.names, name)
	}
	sort.Strings(p.names)
	for _, name := range p.names {
		for _, dep := range p.steps[name].deps {
			p.dependents[dep.Step] = append(p.dependents[dep.Step], name)
		}
	}
	for _, name := range p.names {
		for _, dep := range p.steps[name].deps {
			if _, done := p.ancestors[dep.Step]; !done && isAny(dep) {
				p.ancestors[dep.Step] = p.transitiveDeps(dep.Step)
			}
		}
	}
	return p, nil
}

func buildStepDef(name string, s *template.Step, c *template.Catalog) (*stepDef, error) {
	levels, plugin, err := c.Resolve(s.Action)
	if err != nil {
		return nil, err
	}
	d := &stepDef{
		name:         name,
		step:         s,
		levels:       levels,
		plugin:       plugin,
		conditions:   c.EffectiveConditions(s),
		customStates: c.EffectiveCustomStates(s),
		preHook:      c.EffectivePreHook(s),
		isLoop:       s.Foreach != "",
		effects:      action.HasEffects(plugin),
		wokenOnly:    action.IsWokenOnly(plugin),
	}
	if d.preHook != nil {
		d.preLevels, d.prePlugin, err = c.Resolve(*d.preHook)
		if err != nil {
			return nil, fmt.Errorf("resolve pre_hook: %w", err)
		}
		d.preEffects = action.HasEffects(d.prePlugin)
	}
	for _, dep := range s.Dependencies {
		d.deps = append(d.deps, template.ParseDependency(dep))
	}
	if len(s.JSONSchema) > 0 {
		d.schema, err = template.CompileSchema(name, s.JSONSchema)
		if err != nil {
			return nil, fmt.Errorf("compile json_schema: %w", err)
		}
	}
	return d, nil
}

// ancestorsOf returns the transitive dependencies of a step of the
// template.
func (p *plan) ancestorsOf(name string) []string {
	if a, ok := p.ancestors[name]; ok {
		return a
	}
	return p.transitiveDeps(name)
}

func (p *plan) transitiveDeps(name string) []string {
	seen := map[string]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		d, ok := p.steps[n]
		if !ok {
			continue
		}
		for _, dep := range d.deps {
			if !seen[dep.Step] {
				seen[dep.Step] = true
				queue = append(queue, dep.Step)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// isAny reports whether a dependency accepts any final state of its step
// once all the step's ancestors are settled.
func isAny(d template.Dependency) bool {
	return len(d.States) == 1 && d.States[0] == state.Any
}

// childName is the name of the i-th child of a foreach step.
func childName(parent string, i int) string {
	return parent + "-" + strconv.Itoa(i)
}

// child derives the definition of the i-th child of a foreach step: the
// parent's action, schema, retries, dependencies, custom states and
// resources, its check conditions and children skips, but no pre-hook, no
// execution delay and no foreach. In sequence strategy a child also depends
// on the previous one.
func (d *stepDef) child(i int) *stepDef {
	s := *d.step
	s.Description = strconv.Itoa(i) + " - " + d.step.Description
	s.Foreach = ""
	s.ForeachStrategy = ""
	s.PreHook = nil
	s.ExecutionDelay = 0
	c := *d
	c.name = childName(d.name, i)
	c.step = &s
	c.isLoop = false
	c.parent = d.name
	c.index = i
	c.preHook = nil
	c.preEffects = false
	c.deps = append([]template.Dependency(nil), d.deps...)
	if d.step.ForeachStrategy == template.ForeachSequence && i > 0 {
		c.deps = append(c.deps, template.Dependency{Step: childName(d.name, i-1), States: []string{state.Done}})
	}
	c.conditions = nil
	for _, cond := range d.conditions {
		if cond.Type == template.ConditionCheck || (cond.Type == template.ConditionSkip && cond.Foreach == template.ForeachChildren) {
			c.conditions = append(c.conditions, cond)
		}
	}
	return &c
}

// allowsState reports whether s may be given to the step: a builtin state or
// one of its custom states.
func (d *stepDef) allowsState(s string) bool {
	if state.IsReserved(s) {
		return true
	}
	for _, cs := range d.customStates {
		if cs == s {
			return true
		}
	}
	return false
}
