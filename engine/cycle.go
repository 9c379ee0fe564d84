package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/utask/utask/action"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// errNothingToRun says that a cycle ended at its start without running
// anything (a crashed resolution that needs a human); it is not a failure.
var errNothingToRun = errors.New("nothing to run")

// errRelaunched says that a claimed resolution is still in a cycle in this
// process: its claimed cycle starts when that one ends.
var errRelaunched = errors.New("relaunched when its running cycle ends")

// errTakenOver says that another instance claimed the resolution while this
// one ran a cycle of it (this instance was taken for dead): the cycle must
// write nothing more and start nothing more.
var errTakenOver = errors.New("resolution taken over by another instance")

// cycle is one execution cycle of one resolution. Everything in it belongs
// to the goroutine running run: attempts run elsewhere and report on results.
type cycle struct {
	e    *Engine
	log  *slog.Logger
	res  *store.Resolution
	task *store.Task
	plan *plan
	vals *values.Values

	steps map[string]*stepRun
	order []string // every step name, static ones sorted, children after

	results  chan attemptDone
	inflight int
	local    []attemptDone // results known without running anything

	retryNow  map[string]bool // steps put in RETRY_NOW, to pick again
	dirty     map[string]bool
	urgent    bool // a dirty step has effects: commit at the next flush
	deleted   []string
	stored    map[string]bool // the steps that have a row in the database
	taskDirty bool
	launches  []*stepRun

	pendingEvents []pendingEvent // state changes reported once committed

	stopped bool // the loop gave up waiting (shutdown)
	lost    bool // another instance took the resolution over: write nothing

	passes  int // scheduling passes, bounds skip loops
	settled int // steps of the template (not children) in a final state
}

// stepRun is the live state of one step in a cycle.
type stepRun struct {
	def      *stepDef
	row      *store.Step
	executed bool // picked in this cycle; not picked again unless RETRY_NOW
	skipped  bool
	ran      bool // reported a result in this cycle: try_count is exposed
	children []string
	pending  int // children not final yet (foreach parents)
	// loopPasses counts the expansions and restarts of a foreach parent in
	// this cycle.
	loopPasses int

	// the attempt being prepared or in flight
	outputs    []outSpec
	preHookOut map[string]any
	req        action.Request
}

type outSpec struct {
	strategy template.OutputStrategy
	format   any
}

type doneKind int

const (
	doneAttempt  doneKind = iota // the action ran
	donePreHook                  // the pre-hook ran; the action comes next
	doneLocal                    // nothing ran (skip, pre-check failure)
	doneLoop                     // a foreach parent was expanded or contracted
	doneAfterrun                 // re-evaluate the check conditions only
)

type attemptDone struct {
	name string
	// step is the step the attempt was made for: a foreach restarted
	// meanwhile has new children of the same names, which the result of
	// an old one's attempt must not reach.
	step   *stepRun
	kind   doneKind
	result action.Result
}

// startCycle claims the resolution for a cycle: it checks its state,
// recovers a crash, marks it RUNNING and loads its steps. With claimed, the
// resolution must still be held by this instance in a claimed state
// (AUTORUNNING, RETRY, CRASHED), or nothing happens. A RUNNING resolution is
// always refused, whoever runs it: one that a dead instance ran is taken
// over through a claim (CRASHED) first. Every refusal happens before
// anything is written.
func (e *Engine) startCycle(ctx context.Context, id string, claimed bool) (c *cycle, err error) {
	if !e.lockRunning(id, claimed) {
		if claimed {
			return nil, errRelaunched
		}
		return nil, ErrAlreadyRunning
	}
	slot := false
	defer func() {
		if err != nil {
			if slot {
				e.releaseSlot()
			}
			e.unlockRunning(id)
		}
	}()
	if err := e.acquireSlot(ctx); err != nil {
		return nil, err
	}
	slot = true

	tx, err := e.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	res, err := tx.ResolutionLock(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load resolution: %w", err)
	}
	switch res.State {
	case state.ResCancelled:
		return nil, ErrCancelled
	case state.ResRunning:
		return nil, ErrAlreadyRunning
	case state.ResDone:
		return nil, ErrAlreadyDone
	}
	if claimed && !e.holds(res) {
		e.log.InfoContext(ctx, "engine: resolution taken over by another instance",
			"resolution_id", id, "resolution_state", res.State, "holder", res.InstanceID)
		return nil, errNothingToRun
	}
	task, err := tx.TaskLock(ctx, res.TaskID)
	if err != nil {
		return nil, fmt.Errorf("load task: %w", err)
	}
	p, err := e.plan(ctx, tx, task.TemplateVersion)
	if err != nil {
		return nil, err
	}
	rows, err := tx.StepList(ctx, res.ID)
	if err != nil {
		return nil, fmt.Errorf("load steps: %w", err)
	}
	if p, err = p.withOverrides(rows, e.cfg.Catalog); err != nil {
		return nil, err
	}
	c = newCycle(e, res, task, p, rows)
	now := e.cfg.Now().UTC()

	if res.State == state.ResCrashed {
		blocked := false
		for _, name := range c.order {
			sr := c.steps[name]
			if sr.row.State != state.Running {
				continue
			}
			if sr.def.step.Idempotent {
				c.setState(sr, state.Todo)
			} else {
				c.setState(sr, state.Crashed)
				blocked = true
			}
		}
		if blocked {
			res.State = state.ResBlockedToCheck
			res.LastStop = &now
			task.State = state.TaskBlocked
			task.LastActivity = now
			if err := c.writeTx(ctx, tx, true); err != nil {
				return nil, err
			}
			if err := tx.Commit(ctx); err != nil {
				return nil, fmt.Errorf("commit: %w", err)
			}
			e.log.InfoContext(ctx, "engine: crashed steps need a check", "resolution_id", id)
			// The resolution needs a human now, as at the end of a cycle:
			// observers are told, and a parent waiting for it is woken.
			c.flushEvents()
			c.emit("", res.State, "")
			c.wakeParent()
			return nil, errNothingToRun // the deferred cleanup frees the slot
		}
	}

	res.State = state.ResRunning
	res.InstanceID = &e.cfg.InstanceID
	res.LastStart = &now
	res.RunCount++
	task.State = state.TaskRunning
	task.LastActivity = now
	if err := c.writeTx(ctx, tx, true); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	c.dirty = map[string]bool{}
	c.urgent = false
	c.deleted = nil
	c.taskDirty = false
	return c, nil
}

// holds reports whether res is claimed by this instance and not started.
func (e *Engine) holds(res *store.Resolution) bool {
	if res.InstanceID == nil || *res.InstanceID != e.cfg.InstanceID {
		return false
	}
	switch res.State {
	case state.ResAutorunning, state.ResRetry, state.ResCrashed:
		return true
	}
	return false
}

func newCycle(e *Engine, res *store.Resolution, task *store.Task, p *plan, rows []*store.Step) *cycle {
	c := &cycle{
		e:        e,
		log:      e.log.With("resolution_id", res.PublicID, "task_id", task.PublicID, "template_name", task.TemplateName),
		res:      res,
		task:     task,
		plan:     p,
		steps:    make(map[string]*stepRun, len(p.steps)),
		results:  make(chan attemptDone, 64),
		dirty:    map[string]bool{},
		retryNow: map[string]bool{},
		stored:   make(map[string]bool, len(rows)),
	}
	byName := make(map[string]*store.Step, len(rows))
	for _, r := range rows {
		byName[r.Name] = r
		c.stored[r.Name] = true
	}
	for _, name := range p.names {
		def := p.steps[name]
		row := byName[name]
		if row == nil {
			row = &store.Step{Name: name, State: state.Todo, MaxRetries: def.step.MaxRetries}
		}
		c.steps[name] = &stepRun{def: def, row: row}
		c.order = append(c.order, name)
	}
	// Foreach children are known from their parent's row.
	for _, name := range p.names {
		parent := c.steps[name]
		if !parent.def.isLoop {
			continue
		}
		for i, cname := range parent.row.Data.ChildrenSteps {
			row := byName[cname]
			if row == nil {
				row = &store.Step{Name: cname, State: state.Todo, MaxRetries: parent.def.step.MaxRetries}
			}
			c.addChild(parent, i, row)
		}
	}
	c.vals = values.New(e.cfg.ValuesOptions)
	c.vals.SetInput(task.Input)
	c.vals.SetResolverInput(res.ResolverInput)
	c.vals.SetConfig(e.cfg.TemplateConfig)
	c.vals.SetTask(c.taskValues())
	vars := make([]values.Variable, 0, len(p.tmpl.Variables))
	for _, v := range p.tmpl.Variables {
		vars = append(vars, values.Variable{Name: v.Name, Value: v.Value, Expression: v.Expression, ExpressionTimeout: v.ExpressionTimeout})
	}
	c.vals.SetVariables(vars)
	for _, name := range c.order {
		c.exposeStep(c.steps[name])
	}
	for _, name := range p.names {
		if state.IsFinal(c.steps[name].row.State) {
			c.settled++
		}
	}
	return c
}

// addChild registers the i-th child of a foreach parent.
func (c *cycle) addChild(parent *stepRun, i int, row *store.Step) *stepRun {
	sr := &stepRun{def: parent.def.child(i), row: row}
	c.steps[row.Name] = sr
	c.order = append(c.order, row.Name)
	parent.children = append(parent.children, row.Name)
	if !state.IsFinal(row.State) {
		parent.pending++
	}
	return sr
}

// taskValues is the .task map of the cycle's templates: the task as the
// cycle sees it, with its resolution's resolver.
func (c *cycle) taskValues() map[string]any {
	t := *c.task
	t.ResolutionPublicID = c.res.PublicID
	t.ResolverUsername = c.res.ResolverUsername
	return t.TemplateValues(c.e.cfg.Region)
}

// exposeStep copies a step's state into the value tree.
func (c *cycle) exposeStep(sr *stepRun) {
	d := values.StepData{
		Output:   sr.row.Data.Output,
		Metadata: sr.row.Data.Metadata,
		Children: sr.row.Data.Children,
		Error:    sr.row.Data.Error,
		State:    sr.row.State,
	}
	if sr.ran {
		tc, mr := sr.row.TryCount, sr.row.MaxRetries
		d.TryCount, d.MaxRetries = &tc, &mr
	}
	c.vals.SetStep(sr.row.Name, d)
}

// setState changes a step's state, keeping its parent's count of unsettled
// children and the value tree up to date.
func (c *cycle) setState(sr *stepRun, s string) {
	old := sr.row.State
	if old == s {
		return
	}
	sr.row.State = s
	if s == state.RetryNow {
		c.retryNow[sr.row.Name] = true
	}
	delta := 0
	switch {
	case state.IsFinal(old) && !state.IsFinal(s):
		delta = 1
	case !state.IsFinal(old) && state.IsFinal(s):
		delta = -1
	}
	if sr.def.parent != "" {
		if p := c.steps[sr.def.parent]; p != nil {
			p.pending += delta
		}
	} else {
		c.settled -= delta
	}
	c.vals.SetStepState(sr.row.Name, s)
	c.markDirty(sr)
	c.log.Debug("engine: step state", "step_name", sr.row.Name, "step_state", s)
	if c.e.cfg.Events != nil {
		c.pendingEvents = append(c.pendingEvents, pendingEvent{step: sr, state: s})
	}
}

// emit tells the observers of a change.
func (c *cycle) emit(step, st, errText string) {
	if c.e.cfg.Events != nil {
		c.e.cfg.Events(Event{
			ResolutionID: c.res.PublicID, TaskID: c.task.PublicID, Step: step, State: st, Error: errText,
			Template: c.task.TemplateName, TaskCreated: c.task.Created, ResolutionCreated: c.res.Created,
		})
	}
}

func (c *cycle) setError(sr *stepRun, msg string) {
	sr.row.Data.Error = msg
	c.vals.SetStepError(sr.row.Name, msg)
	c.markDirty(sr)
}

// markDirty notes that a step's row must be written.
func (c *cycle) markDirty(sr *stepRun) {
	c.dirty[sr.row.Name] = true
	if sr.def.effects || sr.def.preEffects {
		c.urgent = true
	}
}

// templateLockDelay is how long a resolution waits when its template's
// resource is not available.
const templateLockDelay = 10 * time.Minute

// run schedules every eligible step and handles results until nothing is in
// flight, then ends the cycle.
func (c *cycle) run() {
	defer c.e.releaseSlot()
	defer c.e.unlockRunning(c.res.PublicID)

	// The template's own resource is held for the whole cycle; without it
	// the resolution waits ten minutes, as in µTask.
	release, err := c.e.cfg.Resources.Acquire(c.e.ctx, []string{"template:" + c.task.TemplateName})
	if err != nil && c.e.stopping() {
		// The stop came while the cycle waited for the resource: the run
		// was cut short, not refused. It is not counted, and the
		// resolution is due at once.
		now := c.e.cfg.Now().UTC()
		c.res.State = state.ResToAutorunDelayed
		c.res.NextRetry = &now
		c.res.RunCount = max(0, c.res.RunCount-1)
		c.res.LastStop = &now
		c.task.LastActivity = now
		c.save(true)
		return
	}
	if err != nil {
		now := c.e.cfg.Now().UTC()
		next := now.Add(templateLockDelay)
		c.res.State = state.ResToAutorunDelayed
		c.res.NextRetry = &next
		c.res.LastStop = &now
		c.task.State = state.TaskBlocked
		c.task.LastActivity = now
		c.log.Warn("engine: template resource not acquired", "err", err)
		c.save(true)
		return
	}
	defer release()

	c.pruneStale()
	recheckWaiting := true
	for {
		c.schedule(nil, nil)
		c.loop()
		if c.lost {
			c.log.Warn("engine: cycle abandoned: another instance took the resolution over")
			return
		}
		if c.stopped {
			break
		}
		end := c.endState()
		if end == state.ResWaiting && recheckWaiting {
			recheckWaiting = false
			again := false
			for _, name := range c.order {
				sr := c.steps[name]
				if sr.row.State == state.Waiting && !sr.def.wokenOnly {
					sr.executed = false
					again = true
				}
			}
			if again {
				continue
			}
		}
		break
	}
	c.finish()
}

// loop handles results until no attempt is in flight.
func (c *cycle) loop() {
	for {
		for len(c.local) > 0 {
			d := c.local[0]
			c.local = c.local[1:]
			c.handle(d)
		}
		c.flush()
		if len(c.local) > 0 {
			continue
		}
		if c.inflight == 0 && len(c.launches) == 0 {
			return
		}
		select {
		case d := <-c.results:
			c.inflight--
			c.handle(d)
			// Results that finished together share one commit.
			for more := true; more; {
				select {
				case d := <-c.results:
					c.inflight--
					c.handle(d)
				default:
					more = false
				}
			}
		case <-c.e.ctx.Done():
			// Steps still in flight are abandoned: they stay RUNNING and the
			// resolution ends CRASHED, to be recovered later.
			c.stopped = true
			return
		}
	}
}

// flush commits what changed, then starts the attempts waiting for that
// commit: no step starts before the results it depends on are durable.
//
// Changes that only concern steps without effects (echo) wait for the next
// commit: nothing outside the resolution can have seen them, and a crash
// before that commit runs those steps again.
func (c *cycle) flush() {
	pending := len(c.dirty) > 0 || len(c.deleted) > 0 || c.taskDirty
	if pending && (c.urgent || c.launchesHaveEffects()) {
		c.save(false)
		if c.lost {
			c.launches = nil
			c.pendingEvents = nil
			return
		}
		c.flushEvents()
	}
	for len(c.launches) > 0 && c.inflight < maxInflight {
		sr := c.launches[0]
		c.launches = c.launches[1:]
		c.start(sr)
	}
}

// launchesHaveEffects reports whether one of the attempts the next flush
// starts may change something outside the resolution.
func (c *cycle) launchesHaveEffects() bool {
	for i, sr := range c.launches {
		if c.inflight+i >= maxInflight {
			break
		}
		preHook := sr.def.preHook != nil && sr.preHookOut == nil
		if (preHook && sr.def.preEffects) || (!preHook && sr.def.effects) {
			return true
		}
	}
	return false
}

// maxInflight bounds the attempts of one cycle running at once; the others
// wait their turn in order. A 10,000-item foreach thus holds a few hundred
// goroutines, not 10,000.
const maxInflight = 256

type pendingEvent struct {
	step  *stepRun
	state string
}

// flushEvents reports the state changes committed since the last flush; a
// step's error text goes with its latest state.
func (c *cycle) flushEvents() {
	for _, p := range c.pendingEvents {
		errText := ""
		if p.state == p.step.row.State {
			errText = p.step.row.Data.Error
		}
		c.emit(p.step.row.Name, p.state, errText)
	}
	c.pendingEvents = nil
}

// save writes dirty steps (and the task and resolution when final is set or
// the task changed), retrying until it succeeds or the engine stops.
func (c *cycle) save(final bool) {
	if c.lost {
		return
	}
	ctx := context.WithoutCancel(c.e.ctx)
	delay := 100 * time.Millisecond
	for {
		err := c.trySave(ctx, final)
		if err == nil {
			for name := range c.dirty {
				c.stored[name] = true
			}
			for _, name := range c.deleted {
				delete(c.stored, name)
			}
		}
		if err == nil || errors.Is(err, errTakenOver) {
			c.lost = err != nil
			c.dirty = map[string]bool{}
			c.urgent = false
			c.deleted = nil
			c.taskDirty = false
			return
		}
		c.log.ErrorContext(ctx, "engine: save resolution", "err", err)
		select {
		case <-time.After(delay):
		case <-c.e.ctx.Done():
			if final {
				// One last try without waiting: the process is stopping.
				if err := c.trySave(ctx, final); err != nil {
					c.log.ErrorContext(ctx, "engine: resolution state lost at shutdown", "err", err)
				}
			}
			return
		}
		delay = min(2*delay, 30*time.Second)
	}
}

func (c *cycle) trySave(ctx context.Context, final bool) error {
	tx, err := c.e.cfg.Store.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	// The row lock also orders this write after a concurrent claim. The
	// store keeps a run limit a step raised during the cycle (a batch makes
	// up for the runs its wake-ups used): the cycle's copy cannot undo it.
	if err := tx.ResolutionHold(ctx, c.res.ID, c.e.cfg.InstanceID); err != nil {
		return holdError(err)
	}
	if err := c.writeTx(ctx, tx, final); err != nil {
		return holdError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return holdError(err)
	}
	return nil
}

// holdError is errTakenOver when err says that another instance holds the
// resolution (a store may report it from any call after ResolutionHold, up
// to Commit).
func holdError(err error) error {
	if errors.Is(err, store.ErrNotHeld) {
		return errTakenOver
	}
	return fmt.Errorf("save: %w", err)
}

// writeTx writes the dirty steps, the task and (when withResolution) the
// resolution in tx.
func (c *cycle) writeTx(ctx context.Context, tx store.Tx, withResolution bool) error {
	if len(c.dirty) > 0 {
		rows := make([]*store.Step, 0, len(c.dirty))
		for name := range c.dirty {
			if sr, ok := c.steps[name]; ok {
				rows = append(rows, sr.row)
			}
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
		if err := tx.StepUpsert(ctx, c.res, rows); err != nil {
			return fmt.Errorf("write steps: %w", err)
		}
	}
	if len(c.deleted) > 0 {
		if err := tx.StepDelete(ctx, c.res.ID, c.deleted); err != nil {
			return fmt.Errorf("delete steps: %w", err)
		}
	}
	if c.taskDirty || withResolution {
		c.task.StepsDone = c.settled
		if err := tx.TaskUpdate(ctx, c.task); err != nil {
			return fmt.Errorf("write task: %w", err)
		}
	}
	if withResolution {
		if err := tx.ResolutionUpdate(ctx, c.res); err != nil {
			return fmt.Errorf("write resolution: %w", err)
		}
	}
	return nil
}

// cutByStop reports whether the instance is stopping and no step of the
// resolution failed: an end in ERROR or CRASHED is then the stop's doing.
func (c *cycle) cutByStop() bool {
	if !c.e.stopping() {
		return false
	}
	for _, name := range c.order {
		switch c.steps[name].row.State {
		case state.ServerError, state.AfterrunError, state.ClientError, state.FatalError:
			return false
		}
	}
	return true
}

// endState is the resolution state the steps call for (DONE when every step
// is settled).
func (c *cycle) endState() string {
	var crashed, fatal, badRequest, errored, waiting, deadlock bool
	shuttingDown := c.stopped
	for _, name := range c.order {
		switch c.steps[name].row.State {
		case state.ClientError:
			badRequest = true
		case state.FatalError:
			fatal = true
		case state.ServerError, state.ToRetry, state.AfterrunError:
			errored = true
		case state.Running:
			crashed = true
		case state.Waiting:
			waiting = true
		case state.Todo:
			if shuttingDown {
				crashed = true
			} else {
				deadlock = true
			}
		}
	}
	switch {
	case crashed:
		return state.ResCrashed
	case fatal:
		return state.ResBlockedFatal
	case badRequest:
		return state.ResBlockedBadRequest
	case errored:
		return state.ResError
	case waiting:
		return state.ResWaiting
	case deadlock:
		return state.ResBlockedDeadlock
	}
	return state.ResDone
}

// readRunMax takes the stored run limit when it is higher than the cycle's:
// a step may have raised it during the cycle (a batch makes up for the runs
// its wake-ups used). The final save keeps the higher one anyway; this lets
// the end of the cycle count on it before it blocks the resolution.
func (c *cycle) readRunMax() {
	stored, err := c.e.cfg.Store.ResolutionGet(context.WithoutCancel(c.e.ctx), c.res.PublicID)
	if err != nil {
		c.log.Warn("engine: read run limit", "err", err)
		return
	}
	c.res.RunMax = max(c.res.RunMax, stored.RunMax)
}

// finish records the end of the cycle: the resolution's and the task's
// states, the result when DONE, and when to try again.
func (c *cycle) finish() {
	now := c.e.cfg.Now().UTC()
	end := c.endState()
	res, task := c.res, c.task
	res.State = end
	res.LastStop = &now
	task.LastActivity = now
	switch end {
	case state.ResDone:
		task.State = state.TaskDone
		result, err := c.vals.RenderResult(task.Result, values.Scope{})
		if err != nil {
			c.log.Warn("engine: render result", "err", err)
		}
		task.Result = result
	case state.ResError, state.ResCrashed:
		if c.cutByStop() {
			// The steps the stopping instance did not start end TO_RETRY,
			// those it interrupted stay RUNNING, and none failed: this run
			// was cut short, not failed. It does not count against the run
			// limit, and the resolution is due at once, for another
			// instance or this one's next start (a CRASHED one is recovered
			// once this instance is seen dead).
			res.RunCount = max(0, res.RunCount-1)
			if end == state.ResError {
				res.NextRetry = &now
			}
			break
		}
		if res.RunCount >= res.RunMax {
			c.readRunMax()
		}
		if res.RunCount >= res.RunMax {
			res.State = state.ResBlockedMaxRetries
			task.State = state.TaskBlocked
			break
		}
		var rs []retriable
		for _, name := range c.order {
			sr := c.steps[name]
			if state.IsRetriable(sr.row.State) {
				rs = append(rs, retriable{pattern: sr.def.step.RetryPattern, tryCount: sr.row.TryCount})
			}
		}
		next := now.Add(nextRetryDelay(rs))
		res.NextRetry = &next
	case state.ResWaiting:
		task.State = state.TaskWaiting
	default:
		task.State = state.TaskBlocked
	}
	c.save(true)
	if c.lost {
		// Another instance took the resolution over: nothing of this cycle
		// was kept, so nothing of it is reported and no parent is woken.
		c.pendingEvents = nil
		c.log.Warn("engine: cycle abandoned at its end: another instance took the resolution over")
		return
	}
	if endsWait(res.State) {
		c.wakeParent()
	}
	c.flushEvents()
	c.emit("", res.State, "")
	c.log.Debug("engine: cycle ended", "resolution_state", res.State, "task_state", task.State)
	if res.NextRetry != nil {
		c.e.Wake()
	}
}
