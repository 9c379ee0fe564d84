package engine

import (
	"fmt"
	"slices"
	"sort"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// maxLoopPasses bounds how often one foreach step is expanded or restarted
// in one cycle (conditions that keep putting it in RETRY_NOW).
const maxLoopPasses = 1000

// maxPasses bounds the scheduling passes of one cycle: a skip condition that
// keeps putting its step back in RETRY_NOW would otherwise never stop.
const maxPasses = 100000

// schedule picks the steps that may run now among the candidates, marks
// them RUNNING, evaluates their skip conditions and queues their attempts
// for the next flush. With no modified steps every step is a candidate;
// otherwise the dependents of the modified ones are, plus the steps put in
// RETRY_NOW and the new foreach children.
func (c *cycle) schedule(modified, newChildren []string) {
	c.passes++
	cands := c.candidates(modified, newChildren)
	var eligible []*stepRun
	loops := map[string]bool{}
	for _, name := range cands {
		sr := c.steps[name]
		if sr != nil && c.eligible(sr) {
			eligible = append(eligible, sr)
			if sr.def.isLoop {
				loops[name] = true
			}
		}
	}
	var skipModified, kids []string
	for _, sr := range eligible {
		if sr.def.parent != "" && loops[sr.def.parent] {
			continue
		}
		if sr.def.isLoop {
			mod, created := c.handleLoop(sr)
			skipModified = append(skipModified, mod...)
			kids = append(kids, created...)
			continue
		}
		sr.executed = true
		if sr.row.State == state.AfterrunError {
			c.local = append(c.local, attemptDone{name: sr.row.Name, step: sr, kind: doneAfterrun})
			continue
		}
		c.setState(sr, state.Running)
		sr.ran = false
		if c.passes > maxPasses {
			c.setState(sr, state.FatalError)
			c.setError(sr, "skip conditions keep re-running the step: stopped")
			c.local = append(c.local, attemptDone{name: sr.row.Name, step: sr, kind: doneLocal})
			continue
		}
		if skipped, mod := c.evalSkips(sr); skipped {
			sr.skipped = true
			skipModified = append(skipModified, mod...)
			c.local = append(c.local, attemptDone{name: sr.row.Name, step: sr, kind: doneLocal})
			continue
		}
		sr.skipped = false
		c.prepare(sr)
	}
	if len(skipModified) > 0 || len(kids) > 0 {
		skipModified = c.prune(skipModified)
		c.schedule(skipModified, kids)
	}
}

func (c *cycle) candidates(modified, newChildren []string) []string {
	if len(modified) == 0 {
		out := append([]string(nil), c.order...)
		return out
	}
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, m := range modified {
		for _, d := range c.dependentsOf(m) {
			add(d)
		}
	}
	for name := range c.retryNow {
		sr := c.steps[name]
		delete(c.retryNow, name)
		if sr != nil && sr.executed && sr.row.State == state.RetryNow {
			sr.executed = false
			add(name)
		}
	}
	for _, n := range newChildren {
		add(n)
	}
	sort.Strings(out)
	return out
}

// dependentsOf lists the steps whose dependencies name step n: its static
// dependents, the next child of a sequence and the foreach parent of a child.
func (c *cycle) dependentsOf(n string) []string {
	out := append([]string(nil), c.plan.dependents[n]...)
	sr := c.steps[n]
	if sr == nil || sr.def.parent == "" {
		return out
	}
	parent := c.steps[sr.def.parent]
	out = append(out, sr.def.parent)
	if parent != nil && parent.def.step.ForeachStrategy == template.ForeachSequence && sr.def.index+1 < len(parent.children) {
		out = append(out, parent.children[sr.def.index+1])
	}
	return out
}

// eligible reports whether a step may be picked now.
func (c *cycle) eligible(sr *stepRun) bool {
	if sr.executed || !state.IsRunnable(sr.row.State) {
		return false
	}
	if sr.def.isLoop && sr.row.State == state.Expanded {
		// A foreach parent waits for every child (it depends on each with ANY).
		return sr.pending == 0
	}
	for _, dep := range sr.def.deps {
		d := c.steps[dep.Step]
		if d == nil {
			continue
		}
		if isAny(dep) {
			if !state.IsFinal(d.row.State) || !c.ancestorsFinal(d) {
				return false
			}
			continue
		}
		if !contains(dep.States, d.row.State) {
			return false
		}
	}
	return true
}

// ancestorsFinal reports whether every transitive dependency of a step is
// settled.
func (c *cycle) ancestorsFinal(sr *stepRun) bool {
	name := sr.row.Name
	if sr.def.parent != "" {
		name = sr.def.parent
	}
	for _, a := range c.plan.ancestorsOf(name) {
		if d := c.steps[a]; d != nil && !state.IsFinal(d.row.State) {
			return false
		}
	}
	return true
}

// evalSkips evaluates the skip conditions of a step just marked RUNNING. A
// step skipped without a condition giving it a state is DONE (µTask leaves
// it RUNNING, which ends the cycle CRASHED).
func (c *cycle) evalSkips(sr *stepRun) (bool, []string) {
	skipped, mod, err := c.evalConditions(sr, template.ConditionSkip, func(cond *template.Condition) bool {
		return sr.def.parent != "" || cond.Foreach != template.ForeachParent
	})
	if err != nil {
		c.setState(sr, state.ServerError)
		c.setError(sr, err.Error())
		return true, append(mod, sr.row.Name)
	}
	if skipped && sr.row.State == state.Running {
		c.setState(sr, state.Done)
		c.setError(sr, "")
	}
	return skipped, mod
}

// evalConditions evaluates a step's conditions of type typ (those keep
// accepts) in order and applies the met ones. It returns whether one was
// met, the steps whose state changed, and the first evaluation error.
func (c *cycle) evalConditions(sr *stepRun, typ string, keep func(*template.Condition) bool) (bool, []string, error) {
	scope := c.scope(sr)
	var modified []string
	met := false
	for _, cond := range sr.def.conditions {
		if cond.Type != typ || !keep(cond) {
			continue
		}
		ok := true
		for _, a := range cond.If {
			held, _, err := c.vals.EvalAssert(values.Assert(a), scope)
			if err != nil {
				return met, modified, err
			}
			if !held {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		met = true
		msg := cond.Message
		if msg != "" {
			if rendered, err := c.vals.Render(msg, scope); err != nil {
				msg = fmt.Sprintf("%s (TEMPLATING ERROR: %v)", msg, err)
			} else {
				msg = rendered
			}
		}
		targets := make([]string, 0, len(cond.Then))
		for t := range cond.Then {
			targets = append(targets, t)
		}
		sort.Strings(targets)
		for _, t := range targets {
			name := t
			if name == template.ThisStep {
				name = sr.row.Name
			}
			target := c.steps[name]
			if target == nil {
				continue
			}
			c.setState(target, cond.Then[t])
			c.setError(target, msg)
			modified = append(modified, name)
		}
		if cond.Final {
			break
		}
	}
	return met, modified, nil
}

// scope is the templating scope of a step: .step.this, and .iterator for a
// foreach child.
func (c *cycle) scope(sr *stepRun) values.Scope {
	return values.Scope{This: sr.row.Name, Iterator: sr.row.Data.Item}
}

// prune gives PRUNE to the steps that can no longer run because a settled
// step they depend on (without ANY) is not in a state they accept, and so on
// down the graph. It returns modified plus the steps it pruned.
func (c *cycle) prune(modified []string) []string {
	return c.pruneFrom(modified, false)
}

// pruneStale prunes, at the start of a cycle, the steps that wait for a
// settled step in a state they do not accept: a state an administrator set
// by hand while the resolution was paused. Only steps still TODO are
// pruned; what already ran stays as it ended. (µTask does no pruning there,
// and the resolution ends BLOCKED_DEADLOCK.)
func (c *cycle) pruneStale() {
	var settled []string
	for _, name := range c.order {
		if state.IsFinal(c.steps[name].row.State) {
			settled = append(settled, name)
		}
	}
	c.pruneFrom(settled, true)
}

// pruneFrom is prune; with onlyTodo it leaves alone the steps that are not
// TODO.
func (c *cycle) pruneFrom(modified []string, onlyTodo bool) []string {
	queue := append([]string(nil), modified...)
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		ms := c.steps[m]
		if ms == nil || !state.IsFinal(ms.row.State) {
			continue
		}
		for _, dn := range c.dependentsOf(m) {
			d := c.steps[dn]
			if d == nil || d.row.State == state.Prune || d.row.State == state.Running {
				continue
			}
			if onlyTodo && d.row.State != state.Todo {
				continue
			}
			for _, dep := range d.def.deps {
				if dep.Step != m || isAny(dep) {
					continue
				}
				if ms.row.State == state.Prune || !contains(dep.States, ms.row.State) {
					c.setState(d, state.Prune)
					queue = append(queue, dn)
					modified = append(modified, dn)
				}
				break
			}
		}
	}
	return modified
}

// handleLoop advances a foreach parent: its parent skips, then expansion
// (TODO, or TO_RETRY without children) or contraction (EXPANDED with every
// child settled, or TO_RETRY with children). It returns the steps whose
// state changed and the children it created.
func (c *cycle) handleLoop(sr *stepRun) (modified, created []string) {
	sr.loopPasses++
	if sr.loopPasses > maxLoopPasses {
		c.setState(sr, state.FatalError)
		c.setError(sr, fmt.Sprintf("foreach step restarted %d times in one cycle: stopped", maxLoopPasses))
		sr.executed = true
		c.exposeStep(sr)
		c.local = append(c.local, attemptDone{name: sr.row.Name, step: sr, kind: doneLoop})
		return []string{sr.row.Name}, nil
	}
	if sr.row.State == state.RetryNow {
		// Restart the loop now: collect what the children did, expand again.
		if len(sr.children) > 0 {
			c.contract(sr)
			sr.row.Data.Output = nil
		}
		c.setState(sr, state.ToRetry)
	}
	if st := sr.row.State; st == state.Todo || st == state.ToRetry {
		_, mod, err := c.evalConditions(sr, template.ConditionSkip, func(cond *template.Condition) bool {
			return cond.Foreach == template.ForeachParent
		})
		modified = append(modified, mod...)
		if err != nil {
			c.setState(sr, state.ServerError)
			c.setError(sr, err.Error())
			modified = append(modified, sr.row.Name)
		}
	}
	switch st := sr.row.State; {
	case (st == state.Todo || st == state.ToRetry) && len(sr.children) == 0:
		created = c.expand(sr)
		if sr.row.State == state.Expanded && len(created) == 0 {
			// Nothing to wait for: an empty loop is done at once.
			c.contract(sr)
			c.setState(sr, state.Done)
		}
	case st == state.Expanded && sr.pending == 0:
		c.contract(sr)
		c.setState(sr, state.Done)
	case st == state.ToRetry && len(sr.children) > 0:
		c.contract(sr)
		sr.row.Data.Output = nil
	}
	if st := sr.row.State; st != state.Todo && st != state.ToRetry && st != state.Expanded {
		sr.executed = true
	}
	c.exposeStep(sr)
	c.local = append(c.local, attemptDone{name: sr.row.Name, step: sr, kind: doneLoop})
	return modified, created
}

// expand creates the children of a foreach parent from its foreach list.
func (c *cycle) expand(sr *stepRun) []string {
	fail := func(err error) []string {
		c.setState(sr, state.FatalError)
		c.setError(sr, err.Error())
		return nil
	}
	text, err := c.vals.Render(sr.def.step.Foreach, values.Scope{})
	if err != nil {
		return fail(err)
	}
	doc, err := values.DecodeJSON([]byte(text))
	if err != nil {
		return fail(fmt.Errorf("decode foreach list: %w", err))
	}
	var items []any
	switch v := doc.(type) {
	case nil:
	case []any:
		items = v
	default:
		return fail(fmt.Errorf("decode foreach list: cannot unmarshal %T into a list", v))
	}
	names := make([]string, len(items))
	sr.children = nil
	sr.pending = 0
	for i, item := range items {
		row := &store.Step{Name: childName(sr.row.Name, i), State: state.Todo, MaxRetries: sr.def.step.MaxRetries}
		row.Data.Item = item
		child := c.addChild(sr, i, row)
		names[i] = row.Name

		c.markDirty(child)
		c.exposeStep(child)
	}
	if len(c.deleted) > 0 {
		// A child of an earlier expansion by the same name (a restarted
		// loop) has its row replaced by the new child's, not deleted after.
		recreated := make(map[string]bool, len(names))
		for _, n := range names {
			recreated[n] = true
		}
		c.deleted = slices.DeleteFunc(c.deleted, func(n string) bool { return recreated[n] })
	}
	sr.row.Data.ChildrenSteps = names
	sr.row.Data.Error = ""
	c.setState(sr, state.Expanded)
	return names
}

// contract collects the children's results into the parent's children
// list and removes the children.
func (c *cycle) contract(sr *stepRun) {
	results := make([]any, 0, len(sr.children))
	for _, name := range sr.children {
		child := c.steps[name]
		if child == nil {
			continue
		}
		if child.row.State != state.Prune {
			meta, ok := child.row.Data.Metadata.(map[string]any)
			m := make(map[string]any, len(meta)+1)
			if ok {
				for k, v := range meta {
					m[k] = v
				}
			}
			m["iterator"] = child.row.Data.Item
			entry := map[string]any{"metadata": m, "state": child.row.State}
			if child.row.Data.Output != nil {
				entry["output"] = child.row.Data.Output
			}
			results = append(results, entry)
		}
		delete(c.steps, name)
		delete(c.dirty, name)
		c.vals.DeleteStep(name)
		if c.stored[name] {
			// A child whose row was never written (echo children commit
			// with the next write) has nothing to delete.
			c.deleted = append(c.deleted, name)
		}
	}
	if len(sr.children) > 0 {
		kept := c.order[:0]
		gone := make(map[string]bool, len(sr.children))
		for _, n := range sr.children {
			gone[n] = true
		}
		for _, n := range c.order {
			if !gone[n] {
				kept = append(kept, n)
			}
		}
		c.order = kept
	}
	sr.children = nil
	sr.pending = 0
	sr.row.Data.Children = results
	sr.row.Data.ChildrenSteps = nil
	c.setError(sr, "")
	c.markDirty(sr)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
