package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/utask/utask/action"
	"github.com/utask/utask/resource"
	"github.com/utask/utask/state"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// defaultMaxRetries replaces a step's max_retries of 0 at its first run.
const defaultMaxRetries = 10000

// prepare runs the pre-checks of an attempt and renders what it will run:
// the pre-hook if the step has one, else the action. The attempt starts at
// the next flush.
func (c *cycle) prepare(sr *stepRun) {
	if sr.def.err != nil {
		c.fail(sr, sr.def.err.Error())
		return
	}
	if sr.row.MaxRetries == 0 {
		sr.row.MaxRetries = defaultMaxRetries
	}
	if sr.row.MaxRetries > 0 && sr.row.TryCount > sr.row.MaxRetries {
		c.fail(sr, fmt.Sprintf("Step reached max retries %d: %s", sr.row.MaxRetries, sr.row.Data.Error))
		return
	}
	sr.preHookOut = nil
	if sr.def.preHook != nil {
		req, _, err := c.render(sr, sr.def.preLevels, sr.def.prePlugin)
		if err != nil {
			c.fail(sr, "prehook: "+err.Error())
			return
		}
		sr.req = req
		sr.outputs = nil
		c.launches = append(c.launches, sr)
		return
	}
	c.prepareMain(sr)
}

func (c *cycle) prepareMain(sr *stepRun) {
	req, outputs, err := c.render(sr, sr.def.levels, sr.def.plugin)
	if err != nil {
		c.fail(sr, err.Error())
		return
	}
	sr.req = req
	sr.outputs = outputs
	c.launches = append(c.launches, sr)
}

// fail ends an attempt before anything ran: FATAL_ERROR with msg.
func (c *cycle) fail(sr *stepRun, msg string) {
	c.setState(sr, state.FatalError)
	c.setError(sr, msg)
	c.local = append(c.local, attemptDone{name: sr.row.Name, step: sr, kind: doneLocal})
}

// render templates an action chain for one attempt: the base configuration,
// each level's output format and configuration (a function level's
// configuration becomes .function_args of the next), and the plugin's
// context. It returns the request and the output specs, innermost first.
func (c *cycle) render(sr *stepRun, levels []template.Level, plugin action.Action) (action.Request, []outSpec, error) {
	req := action.Request{StepName: sr.row.Name, Logger: c.log.With("step_name", sr.row.Name)}
	scope := c.scope(sr)
	scope.Attempt = true
	if sr.preHookOut != nil {
		scope.PreHook = sr.preHookOut
	}
	if bc := levels[0].Action.BaseConfiguration; bc != "" {
		raw, ok := c.plan.tmpl.BaseConfigurations[bc]
		if !ok {
			return req, nil, fmt.Errorf("could not find base configuration '%s'", bc)
		}
		doc, err := values.DecodeJSON(raw)
		if err != nil {
			return req, nil, fmt.Errorf("failed to template base configuration: %w", err)
		}
		rendered, err := c.vals.RenderJSON(doc, scope)
		if err != nil {
			return req, nil, fmt.Errorf("failed to template base configuration: %w", err)
		}
		if req.BaseConfig, err = marshal(rendered); err != nil {
			return req, nil, fmt.Errorf("failed to template base configuration: %w", err)
		}
	}
	var outputs []outSpec
	var args map[string]any
	for _, lvl := range levels {
		sc := scope
		sc.FunctionArgs = args
		if o := lvl.Action.Output; o != nil {
			switch o.Strategy {
			case template.OutputMerge:
				f, err := c.vals.RenderJSON(o.Format, sc)
				if err != nil {
					return req, nil, fmt.Errorf("failed to template base output: %w", err)
				}
				if f != nil {
					m, ok := f.(map[string]any)
					if !ok {
						return req, nil, fmt.Errorf("failed to template merge output: merge output not a map")
					}
					outputs = append([]outSpec{{strategy: template.OutputMerge, format: m}}, outputs...)
				}
			case template.OutputTemplate:
				outputs = append([]outSpec{{strategy: template.OutputTemplate, format: o.Format}}, outputs...)
			}
		}
		var doc any
		if len(lvl.Action.Configuration) > 0 {
			var err error
			if doc, err = values.DecodeJSON(lvl.Action.Configuration); err != nil {
				return req, nil, fmt.Errorf("failed to template configuration: %w", err)
			}
		}
		rendered, err := c.vals.RenderJSON(doc, sc)
		if err != nil {
			return req, nil, fmt.Errorf("failed to template configuration: %w", err)
		}
		if lvl.Function != nil {
			m, ok := rendered.(map[string]any)
			if !ok && rendered != nil {
				return req, nil, fmt.Errorf("failed to template configuration: arguments of function %q must be an object", lvl.Function.Name)
			}
			args = m
			continue
		}
		if req.Config, err = marshal(rendered); err != nil {
			return req, nil, fmt.Errorf("failed to template configuration: %w", err)
		}
	}
	if cx, ok := plugin.(action.Contexter); ok {
		doc := map[string]any{}
		for k, v := range cx.Context(sr.row.Name) {
			doc[k] = v
		}
		rendered, err := c.vals.RenderJSON(doc, scope)
		if err != nil {
			return req, nil, fmt.Errorf("failed to template context: %w", err)
		}
		m, _ := rendered.(map[string]any)
		req.Context = m
	}
	return req, outputs, nil
}

// start runs a prepared attempt in its own goroutine; its result comes back
// on c.results. During shutdown nothing starts: the step is TO_RETRY.
func (c *cycle) start(sr *stepRun) {
	select {
	case <-c.e.shutdown:
		c.setState(sr, state.ToRetry)
		c.local = append(c.local, attemptDone{name: sr.row.Name, step: sr, kind: doneLocal})
		return
	default:
	}
	preHook := sr.def.preHook != nil && sr.preHookOut == nil
	plugin := sr.def.plugin
	kind := doneAttempt
	var delay time.Duration
	if preHook {
		plugin = sr.def.prePlugin
		kind = donePreHook
	} else {
		delay = sr.def.step.ExecutionDelay
	}
	req := sr.req
	sr.req = action.Request{} // the attempt owns it now: a huge foreach keeps no copy
	name := sr.row.Name
	ctx := c.e.ctx
	results := c.results
	var labels []string
	if !preHook {
		labels = sr.def.step.Resources
	}
	labels = resource.Labels(plugin.Resources(req.BaseConfig, req.Config), labels)
	effects := sr.def.effects
	if preHook {
		effects = sr.def.preEffects
	}
	if !effects && delay == 0 && len(labels) == 0 {
		// An action without effects (echo) is quick and holds nothing: it
		// runs here, without a goroutine and a hand-over of its result.
		res := c.e.actionRun(ctx, plugin, req)
		c.local = append(c.local, attemptDone{name: name, step: sr, kind: kind, result: res})
		return
	}
	limiter := c.e.cfg.Resources
	c.inflight++
	c.e.wg.Add(1)
	go func() {
		defer c.e.wg.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		var res action.Result
		release, err := limiter.Acquire(ctx, labels)
		if err != nil {
			// As in µTask: the action does not run, and the step retries later.
			req.Logger.WarnContext(ctx, "engine: resources not acquired", "err", err)
			res = action.Result{Output: "{}", Metadata: "", Err: action.RetryError(errors.New("failed to acquire resources not provisioned"))}
		} else {
			res = c.e.actionRun(ctx, plugin, req)
			release()
		}
		select {
		case results <- attemptDone{name: name, step: sr, kind: kind, result: res}:
		case <-ctx.Done():
		}
	}()
}

// handle processes one attempt result: output strategies, state, check
// conditions, pruning, and the scheduling of what it unblocked.
func (c *cycle) handle(d attemptDone) {
	sr := c.steps[d.name]
	if sr == nil || sr != d.step {
		// A child whose parent was contracted meanwhile, or expanded again
		// (restarted by RETRY_NOW) into a new child of the same name.
		return
	}
	switch d.kind {
	case donePreHook:
		if d.result.Err != nil {
			c.setState(sr, state.FatalError)
			c.setError(sr, "prehook: "+d.result.Err.Error())
			break
		}
		out, _ := normalize(d.result.Output)
		meta, _ := normalize(d.result.Metadata)
		sr.preHookOut = map[string]any{"output": out, "metadata": meta}
		c.prepareMain(sr)
		return
	case doneAttempt:
		c.apply(sr, d.result)
	}
	if d.kind != doneLoop {
		now := c.e.cfg.Now().UTC()
		sr.row.LastRun = &now
		c.markDirty(sr)
	}
	c.exposeStep(sr)
	modified := []string{sr.row.Name}
	if d.kind != doneLoop && !sr.skipped {
		switch sr.row.State {
		case state.Done, state.ClientError, state.AfterrunError:
			_, mod, err := c.evalConditions(sr, template.ConditionCheck, func(*template.Condition) bool { return true })
			modified = append(modified, mod...)
			if err != nil {
				c.setState(sr, state.AfterrunError)
				c.setError(sr, err.Error())
			}
		}
	}
	modified = c.prune(modified)
	if d.kind != doneLoop {
		sr.executed = true
	}
	c.taskDirty = true
	c.schedule(modified, nil)
}

// apply records what the action returned on the step.
func (c *cycle) apply(sr *stepRun, r action.Result) {
	defer func() {
		sr.row.TryCount++
		sr.ran = true
	}()
	meta, err := normalize(r.Metadata)
	if err != nil {
		meta = fmt.Sprint(r.Metadata)
	}
	sr.row.Data.Metadata = meta
	for k, v := range r.Tags {
		if c.task.Tags == nil {
			c.task.Tags = map[string]string{}
		}
		if v == "" {
			delete(c.task.Tags, k)
		} else {
			c.task.Tags[k] = v
		}
	}
	out, err := normalize(r.Output)
	if err != nil {
		sr.row.Data.Output = fmt.Sprint(r.Output)
		c.setState(sr, state.FatalError)
		c.setError(sr, fmt.Sprintf("plugin output can't be json.Marshal: %v", err))
		return
	}
	for _, spec := range sr.outputs {
		switch spec.strategy {
		case template.OutputMerge:
			format, _ := spec.format.(map[string]any)
			merged := make(map[string]any, len(format))
			for k, v := range format {
				merged[k] = v
			}
			if m, ok := out.(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
			out = merged
		case template.OutputTemplate:
			sr.row.Data.Output = out
			c.exposeStep(sr)
			scope := c.scope(sr)
			scope.Attempt = true
			rendered, err := c.vals.RenderJSON(spec.format, scope)
			if err != nil {
				c.setState(sr, state.FatalError)
				c.setError(sr, fmt.Sprintf("unable to format output: %v", err))
				return
			}
			out = rendered
		}
	}
	sr.row.Data.Output = out
	if r.Err != nil {
		switch action.KindOf(r.Err) {
		case action.KindClient:
			c.setState(sr, state.ClientError)
		case action.KindWaiting:
			c.setState(sr, state.Waiting)
		case action.KindRetry:
			c.setState(sr, state.ToRetry)
		default:
			c.setState(sr, state.ServerError)
		}
		c.setError(sr, r.Err.Error())
		return
	}
	if sr.def.schema != nil {
		if err := sr.def.schema.Validate(out); err != nil {
			c.setState(sr, state.FatalError)
			c.setError(sr, err.Error())
			return
		}
	}
	if sr.row.State == state.Running {
		c.setState(sr, state.Done)
		c.setError(sr, "")
	}
}

// normalize passes a value through JSON so that it holds only JSON types
// with exact numbers, as it will when read back from the store.
func normalize(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := marshal(v)
	if err != nil {
		return nil, err
	}
	return values.DecodeJSON(b)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
