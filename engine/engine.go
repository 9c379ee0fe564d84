package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/utask/utask/action"
	"github.com/utask/utask/resource"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// Config is what an Engine needs.
type Config struct {
	// Store holds tasks, resolutions and step states. Required.
	Store store.Store
	// Catalog resolves action types and functions. Required.
	Catalog *template.Catalog
	// Logger receives the engine's logs. Required.
	Logger *slog.Logger
	// InstanceID identifies this process among those sharing the store.
	// Required.
	InstanceID int64
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Region is exposed to templates as .task.region. Defaults to "default".
	Region string
	// TemplateConfig is exposed to templates as .config.
	TemplateConfig map[string]any
	// ValuesOptions configures the templating runtime (its cache is shared
	// by every resolution).
	ValuesOptions values.Options
	// MaxConcurrentExecutions caps the resolution cycles running at once in
	// this process; negative means unlimited. Defaults to 100 (0 is taken as
	// the default; use a negative value for no limit).
	MaxConcurrentExecutions int
	// NoExecutionSlots gives the engine no execution slot at all
	// (max_concurrent_executions: 0): it claims nothing, does not bid for
	// leadership (so takes over no dead instance's work and leaves the
	// maintenance to others), starts no cycle, and refuses RunNow
	// (ErrNoExecutionSlots); what this instance accepts waits for Stop to
	// hand it back. MaxConcurrentExecutions is then ignored.
	NoExecutionSlots bool
	// SingleInstance says that no other process shares the store (the
	// embedded store): at start every resolution another instance held is
	// recovered at once instead of after its owner's heartbeat expires.
	SingleInstance bool
	// ShutdownGrace is how long Stop lets running steps finish before their
	// resolutions are left CRASHED. Defaults to 3 seconds.
	ShutdownGrace time.Duration
	// PollInterval bounds how long the engine sleeps between two looks for
	// due work when nothing wakes it. Defaults to 10 seconds.
	PollInterval time.Duration
	// RunNowWait is how long RunNow waits for a cycle to start (an execution
	// slot to free) before it lets it start in the background. Defaults to 5
	// seconds.
	RunNowWait time.Duration
	// Resources limits the steps holding each resource label (resource
	// limits of the configuration) in this process. Defaults to no limit.
	Resources *resource.Limiter
	// Events, when set, is told of every step state change and of the end
	// of every cycle. It is called from the goroutine running the cycle and
	// must not block.
	Events func(Event)

	// HeartbeatInterval is how often the instance records that it is alive.
	// Defaults to 30 seconds.
	HeartbeatInterval time.Duration
	// DeadAfter is how old the heartbeat of a dead instance is: the leader
	// takes over its resolutions then. Defaults to twice HeartbeatInterval.
	DeadAfter time.Duration
	// ElectInterval is how often an instance bids for leadership, and the
	// leader renews its lease (each wait randomised by up to a fifth).
	// Defaults to 5 seconds.
	ElectInterval time.Duration
	// LeaderTTL is how long a lease lasts unless renewed: after a leader
	// dies, another is elected within LeaderTTL plus ElectInterval. Defaults
	// to ElectInterval plus 10 seconds.
	LeaderTTL time.Duration
	// MaintenanceInterval is how often the leader recovers dead instances'
	// work and collects old tasks (each wait randomised by up to a fifth).
	// Defaults to 10 seconds.
	MaintenanceInterval time.Duration
	// CompletedTaskExpiration is how long finished tasks (DONE, CANCELLED,
	// WONTFIX) are kept after their last activity; negative keeps them
	// forever. Defaults to 720 hours.
	CompletedTaskExpiration time.Duration
	// MaxConcurrentExecutionsFromCrashed caps the recovered resolutions
	// running at once, on top of MaxConcurrentExecutions; negative means
	// unlimited. Defaults to 20.
	MaxConcurrentExecutionsFromCrashed int
	// DelayBetweenCrashedTasksResolution is the pause between the starts of
	// two recovered resolutions; 0 means none (utask-cfg's default, 1 s, is
	// passed by the server).
	DelayBetweenCrashedTasksResolution time.Duration
}

// Event is a change in a resolution that observers (the local runner, the
// dashboard, notifications) follow.
type Event struct {
	ResolutionID string
	TaskID       string
	// Step is the step whose state changed; empty for the end of a cycle.
	Step string
	// State is the step's new state, or the resolution's state at the end
	// of a cycle.
	State string
	// Error is the step's error text, if any.
	Error string
	// Template is the task's template; TaskCreated and ResolutionCreated
	// are when the task and its resolution were created, so that an
	// observer can time a resolution without reading it back.
	Template          string
	TaskCreated       time.Time
	ResolutionCreated time.Time
}

// Engine runs resolutions: it claims due work, runs execution cycles and
// records every step result in the store before anything that depends on it
// runs.
type Engine struct {
	cfg Config
	log *slog.Logger

	plansMu sync.Mutex
	plans   map[int64]*plan

	slots        chan struct{} // execution slots; nil = unlimited
	crashedSlots chan struct{} // slots of recovered resolutions; nil = unlimited
	// launching counts the launched cycles that have not taken their
	// execution slot yet: they take the next ones that free.
	launching atomic.Int64
	// slotFreed tells claimLoop, when it waits for one, that an execution
	// slot may have freed.
	slotFreed chan struct{}

	// recovering holds the recovered resolutions waiting for a crash slot;
	// recoverWake tells recoverLoop that it grew.
	recoverMu   sync.Mutex
	recovering  []string
	recoverWake chan struct{}

	runningMu sync.Mutex
	running   map[string]bool // resolutions in a cycle in this process
	rewake    map[string]bool // running ones woken meanwhile
	// relaunch holds the running ones this instance claimed again
	// meanwhile: their claimed cycle starts once the running one ends.
	relaunch map[string]bool

	wake chan struct{}

	leading atomic.Bool // this instance holds the leader lease
	// epoch and trustUntil bound the leadership in monotonic time: the
	// lease may have expired trustUntil after epoch (a duration).
	epoch      time.Time
	trustUntil atomic.Int64

	// ctx is cancelled when Stop's grace period is over: attempts still in
	// flight are interrupted. shutdown is closed when Stop begins, and
	// stopCtx cancelled with it, for the background loops' I/O.
	ctx        context.Context
	cancel     context.CancelFunc
	shutdown   chan struct{}
	stopCtx    context.Context
	stopCancel context.CancelFunc
	stopOnce   sync.Once
	wg         sync.WaitGroup
	// The heartbeat outlives the other loops: it goes on while Stop lets
	// the cycles finish, or the instance would be taken for dead and its
	// resolutions taken over with steps still in flight. hbStop ends it,
	// hbDone says it ended (once Start started it).
	hbStop  chan struct{}
	hbDone  chan struct{}
	started atomic.Bool
}

// Errors of RunNow that callers branch on.
var (
	// ErrAlreadyRunning: the resolution is in a cycle.
	ErrAlreadyRunning = errors.New("Can't run resolution: already running")
	// ErrCancelled: the resolution was cancelled.
	ErrCancelled = errors.New("Can't run resolution: cancelled")
	// ErrAlreadyDone: the resolution is done.
	ErrAlreadyDone = errors.New("Can't run resolution: already done")
	// ErrShuttingDown: the engine is stopping.
	ErrShuttingDown = errors.New("instance is shutting down")
	// ErrNoExecutionSlots: the engine has no execution slot
	// (Config.NoExecutionSlots): it runs nothing.
	ErrNoExecutionSlots = errors.New("instance runs no resolution (max_concurrent_executions is 0)")
)

// New checks cfg and returns an engine; Start makes it look for work.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Logger == nil {
		return nil, errors.New("new engine: Store, Catalog and Logger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Region == "" {
		cfg.Region = "default"
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 3 * time.Second
	}
	if cfg.Resources == nil {
		cfg.Resources, _ = resource.NewLimiter(nil, 0)
	}
	if cfg.RunNowWait == 0 {
		cfg.RunNowWait = 5 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Second
	}
	if cfg.MaxConcurrentExecutions == 0 {
		cfg.MaxConcurrentExecutions = 100
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 2 * cfg.HeartbeatInterval
	}
	if cfg.ElectInterval <= 0 {
		cfg.ElectInterval = 5 * time.Second
	}
	if cfg.LeaderTTL <= 0 {
		cfg.LeaderTTL = cfg.ElectInterval + 10*time.Second
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = 10 * time.Second
	}
	switch {
	case cfg.DeadAfter <= cfg.HeartbeatInterval:
		// Every instance would be taken for dead between two heartbeats.
		return nil, fmt.Errorf("new engine: DeadAfter %s must exceed HeartbeatInterval %s", cfg.DeadAfter, cfg.HeartbeatInterval)
	case cfg.LeaderTTL <= cfg.ElectInterval:
		// The lease would expire between two renewals.
		return nil, fmt.Errorf("new engine: LeaderTTL %s must exceed ElectInterval %s", cfg.LeaderTTL, cfg.ElectInterval)
	}
	if cfg.CompletedTaskExpiration == 0 {
		cfg.CompletedTaskExpiration = 720 * time.Hour
	}
	if cfg.MaxConcurrentExecutionsFromCrashed == 0 {
		cfg.MaxConcurrentExecutionsFromCrashed = 20
	}
	if cfg.ValuesOptions.Cache == nil {
		cfg.ValuesOptions.Cache = values.NewCache(4096)
	}
	e := &Engine{
		epoch:     time.Now(),
		cfg:       cfg,
		log:       cfg.Logger.With("component", "engine", "instance_id", cfg.InstanceID),
		plans:     map[int64]*plan{},
		running:   map[string]bool{},
		rewake:    map[string]bool{},
		relaunch:  map[string]bool{},
		wake:      make(chan struct{}, 1),
		slotFreed: make(chan struct{}, 1),
		shutdown:  make(chan struct{}),

		recoverWake: make(chan struct{}, 1),
		hbStop:      make(chan struct{}),
		hbDone:      make(chan struct{}),
	}
	switch {
	case cfg.NoExecutionSlots:
		e.slots = make(chan struct{}) // no room: a slot is never taken
	case cfg.MaxConcurrentExecutions > 0:
		e.slots = make(chan struct{}, cfg.MaxConcurrentExecutions)
	}
	if cfg.MaxConcurrentExecutionsFromCrashed > 0 {
		e.crashedSlots = make(chan struct{}, cfg.MaxConcurrentExecutionsFromCrashed)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.stopCtx, e.stopCancel = context.WithCancel(context.Background())
	return e, nil
}

// IsLeader reports whether this instance holds the leader lease, and so
// runs the maintenance (see Start).
func (e *Engine) IsLeader() bool {
	return e.leading.Load() && time.Since(e.epoch) < time.Duration(e.trustUntil.Load())
}

// InstanceID returns the id of this engine instance.
func (e *Engine) InstanceID() int64 { return e.cfg.InstanceID }

// Start begins the engine's background work until Stop: claiming due
// resolutions (retries, delayed tasks), the heartbeat, the wake-ups from
// other instances, and the bid for leadership, whose holder recovers the
// work of dead instances and collects old tasks. With SingleInstance, the
// resolutions that a previous process held are recovered at once.
func (e *Engine) Start(ctx context.Context) error {
	if e.cfg.SingleInstance && !e.cfg.NoExecutionSlots {
		// No other process can use the store: whoever held work is gone.
		orphans, err := e.cfg.Store.ResolutionClaimOrphans(ctx, e.cfg.InstanceID, e.cfg.Now().Add(24*time.Hour))
		if err != nil {
			return fmt.Errorf("recover resolutions: %w", err)
		}
		e.recover(orphans)
	}
	e.started.Store(true)
	go func() {
		defer close(e.hbDone)
		e.heartbeatLoop()
	}()
	e.wg.Add(4)
	go e.claimLoop()
	go e.leaderLoop()
	go e.recoverLoop()
	go func() {
		defer e.wg.Done()
		if err := e.cfg.Store.Listen(e.stopCtx, e.Wake); err != nil {
			e.log.ErrorContext(e.stopCtx, "engine: listen for wake-ups", "err", err)
		}
	}()
	return nil
}

// TODO: an instance that cannot record its heartbeat for DeadAfter (a
// partition, a long pause) keeps its attempts in flight while the leader
// hands its resolutions to others, which may replay an idempotent step
// while the first attempt still runs. Its cycles stop writing and starting
// at their next save (errTakenOver), but that is after the fact; the
// heartbeat loop should interrupt this instance's attempts once its last
// recorded heartbeat nears DeadAfter.

// heartbeatLoop records the instance's heartbeat every HeartbeatInterval
// until hbStop, which Stop closes once every cycle has ended.
func (e *Engine) heartbeatLoop() {
	t := time.NewTicker(e.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-e.hbStop:
			return
		case <-t.C:
			e.heartbeat()
		}
	}
}

// heartbeat records one heartbeat, given at most a heartbeat interval.
func (e *Engine) heartbeat() {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.HeartbeatInterval)
	defer cancel()
	err := e.cfg.Store.InstanceHeartbeat(ctx, e.cfg.InstanceID, e.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		// The instance was taken for dead while it could not heartbeat,
		// and its row removed: without it, everything it claims from now
		// on would be taken over as orphaned.
		e.log.WarnContext(ctx, "engine: instance was taken for dead, rejoining")
		err = e.cfg.Store.InstanceRejoin(ctx, e.cfg.InstanceID, e.cfg.Now())
	}
	if err != nil {
		e.log.ErrorContext(ctx, "engine: heartbeat", "err", err)
	}
}

// claimBatch is the most resolutions one claim takes.
const claimBatch = 64

// claimLoop claims due resolutions, as many as there are free execution
// slots: what this instance could not start at once is left to the others.
// It sleeps until the next one is due, a Wake, or the poll interval; when
// no slot is free, until one frees.
func (e *Engine) claimLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.shutdown:
			return // Launch runs nothing once the engine stops: claim nothing
		default:
		}
		limit := e.claimLimit()
		if limit > 0 {
			// Stop cancels a claim in flight (stopCtx): what it would take
			// could not start.
			ids, err := e.cfg.Store.ResolutionClaimRunnable(e.stopCtx, e.cfg.InstanceID, e.cfg.Now(), limit)
			if err != nil && !errors.Is(err, context.Canceled) {
				e.log.ErrorContext(e.ctx, "engine: claim resolutions", "err", err)
			}
			for _, id := range ids {
				e.Launch(id)
			}
			if len(ids) == limit {
				continue
			}
		}
		wait := jitter(e.cfg.PollInterval)
		var freed chan struct{}
		if limit > 0 {
			if next, err := e.cfg.Store.ResolutionNextWakeup(e.ctx); err == nil && next != nil {
				wait = min(wait, max(next.Sub(e.cfg.Now()), 0))
			}
		} else {
			freed = e.slotFreed
		}
		t := time.NewTimer(wait)
		select {
		case <-e.shutdown:
			t.Stop()
			return
		case <-e.wake:
		case <-freed:
		case <-t.C:
		}
		t.Stop()
	}
}

// claimLimit is how many resolutions claimLoop may claim now: the free
// execution slots but those the launched cycles will take, at most
// claimBatch.
func (e *Engine) claimLimit() int {
	if e.slots == nil {
		return claimBatch
	}
	free := cap(e.slots) - len(e.slots) - int(e.launching.Load())
	return max(0, min(claimBatch, free))
}

// Wake makes the engine look for due work now.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Launch runs a cycle of a resolution this instance has claimed, in the
// background. The cycle does not start unless the resolution is still
// claimed by this instance (AUTORUNNING, RETRY or CRASHED with its
// instance_id): another instance may have taken it over meanwhile.
func (e *Engine) Launch(resolutionID string) {
	select {
	case <-e.shutdown:
		return
	default:
	}
	e.launching.Add(1)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		c, err := e.startCycle(e.ctx, resolutionID, true)
		// Started, the cycle holds its slot; refused, it gave it back.
		e.launching.Add(-1)
		e.signalSlotFreed()
		if err != nil {
			switch {
			case errors.Is(err, ErrShuttingDown):
				// Stop hands it back once every cycle has ended.
				e.log.DebugContext(e.ctx, "engine: not started, stopping", "resolution_id", resolutionID)
			case !errors.Is(err, errNothingToRun) && !errors.Is(err, errRelaunched):
				e.log.ErrorContext(e.ctx, "engine: start cycle", "resolution_id", resolutionID, "err", err)
			}
			return
		}
		c.run()
	}()
}

// RunNow starts a cycle of the resolution and returns once it has started
// or been refused, or after Config.RunNowWait while it waits for an execution
// slot; the cycle goes on in the background.
func (e *Engine) RunNow(ctx context.Context, resolutionID string) error {
	select {
	case <-e.shutdown:
		return ErrShuttingDown
	default:
	}
	if e.cfg.NoExecutionSlots {
		return ErrNoExecutionSlots
	}
	started := make(chan error, 1)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		c, err := e.startCycle(e.ctx, resolutionID, false)
		if errors.Is(err, errNothingToRun) {
			err = nil
			c = nil
		}
		if errors.Is(err, ErrShuttingDown) {
			// The engine stopped while the run waited for a slot: a
			// wake-up keeps it for another instance, or this one's next
			// start, where it can be one (a resolution waiting or in
			// error).
			e.wakeAtStop(resolutionID)
		}
		started <- err
		if c != nil {
			c.run()
		}
	}()
	t := time.NewTimer(e.cfg.RunNowWait)
	defer t.Stop()
	select {
	case err := <-started:
		return err
	case <-t.C:
		return nil
	case <-ctx.Done():
		return nil
	}
}

// wakeAtStop records a wake-up of the resolution id, whose run the stopping
// engine could not start.
func (e *Engine) wakeAtStop(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WakeResolution(ctx, id); err != nil {
		e.log.WarnContext(ctx, "engine: keep a run asked before the stop", "resolution_id", id, "err", err)
	}
}

// RunSync runs one cycle of the resolution and returns when it ends (tests
// and the local runner use it).
func (e *Engine) RunSync(ctx context.Context, resolutionID string) error {
	c, err := e.startCycle(ctx, resolutionID, false)
	if errors.Is(err, errNothingToRun) {
		return nil
	}
	if err != nil {
		return err
	}
	c.run()
	return nil
}

// Stop stops claiming work, lets running steps finish for the grace period
// (the instance goes on heartbeating meanwhile, so that no other takes its
// resolutions over), then interrupts them; resolutions left with steps in
// flight end CRASHED.
// Once every goroutine of the engine has ended, it hands back the accepted
// or claimed resolutions that did not start (AUTORUNNING), and records a
// wake-up of those a RunNow left waiting for a slot, then returns. A retry
// (RETRY) claimed as Stop began, a rare case since Stop cancels the claim
// in flight, waits for the instance to be seen dead.
func (e *Engine) Stop() {
	e.stopOnce.Do(func() {
		close(e.shutdown)
		e.stopCancel()
		done := make(chan struct{})
		go func() {
			e.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(e.cfg.ShutdownGrace):
			e.cancel()
			<-done
		}
		e.cancel()
		e.releaseClaims()
		close(e.hbStop)
		if e.started.Load() {
			<-e.hbDone
		}
	})
}

// releaseClaims hands back the resolutions this instance claimed and did
// not start (their cycles waited for a slot when it stopped), so that
// another instance, or this one when it starts again, runs them at once
// rather than once this instance is seen dead.
func (e *Engine) releaseClaims() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ids, err := e.cfg.Store.ResolutionRelease(ctx, e.cfg.InstanceID)
	if err != nil {
		e.log.ErrorContext(ctx, "engine: hand back unstarted claims", "err", err)
		return
	}
	if len(ids) > 0 {
		e.log.InfoContext(ctx, "engine: handed back unstarted claims", "count", len(ids))
	}
}

// acquireSlot takes an execution slot, waiting if all are used.
func (e *Engine) acquireSlot(ctx context.Context) error {
	if e.slots == nil {
		return nil
	}
	select {
	case e.slots <- struct{}{}:
		return nil
	case <-e.shutdown:
		return ErrShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) releaseSlot() {
	if e.slots != nil {
		<-e.slots
		e.signalSlotFreed()
	}
}

// stopping reports whether Stop has begun.
func (e *Engine) stopping() bool {
	select {
	case <-e.shutdown:
		return true
	default:
		return false
	}
}

// signalSlotFreed wakes claimLoop if it waits for a free slot.
func (e *Engine) signalSlotFreed() {
	select {
	case e.slotFreed <- struct{}{}:
	default:
	}
}

// versionReader reads template versions: the store, or a transaction of
// it.
type versionReader interface {
	TemplateVersionGet(ctx context.Context, id int64) ([]byte, error)
}

// plan returns the compiled plan of a template version, reading the version
// through q when it is not cached yet. A cycle's transaction passes itself:
// reading through the pool while holding one of its connections could wait
// forever once every connection is held that way.
func (e *Engine) plan(ctx context.Context, q versionReader, versionID int64) (*plan, error) {
	e.plansMu.Lock()
	p, ok := e.plans[versionID]
	e.plansMu.Unlock()
	if ok {
		return p, nil
	}
	doc, err := q.TemplateVersionGet(ctx, versionID)
	if err != nil {
		return nil, fmt.Errorf("load template version %d: %w", versionID, err)
	}
	t, err := decodeTemplate(doc)
	if err != nil {
		return nil, err
	}
	p, err = buildPlan(t, e.cfg.Catalog)
	if err != nil {
		return nil, fmt.Errorf("compile template %s: %w", t.Name, err)
	}
	e.plansMu.Lock()
	e.plans[versionID] = p
	e.plansMu.Unlock()
	return p, nil
}

// lockRunning marks a resolution as in a cycle in this process. When it
// already is and claimed is set, this instance claimed the resolution again
// while its cycle was ending (its final save made it due): the claimed
// cycle is launched once the running one is over, rather than left claimed
// and never run.
func (e *Engine) lockRunning(id string, claimed bool) bool {
	e.runningMu.Lock()
	defer e.runningMu.Unlock()
	if e.running[id] {
		if claimed {
			e.relaunch[id] = true
		}
		return false
	}
	e.running[id] = true
	return true
}

func (e *Engine) unlockRunning(id string) {
	e.runningMu.Lock()
	delete(e.running, id)
	woken := e.rewake[id]
	delete(e.rewake, id)
	relaunch := e.relaunch[id]
	delete(e.relaunch, id)
	e.runningMu.Unlock()
	if relaunch {
		e.Launch(id)
	}
	if woken {
		ctx := context.WithoutCancel(e.ctx) // the wake-up outlives the grace period
		if err := e.WakeResolution(ctx, id); err != nil {
			e.log.WarnContext(ctx, "engine: wake resolution", "resolution_id", id, "err", err)
		}
	}
}

// actionRun runs an action with the engine's logger.
func (e *Engine) actionRun(ctx context.Context, a action.Action, req action.Request) (res action.Result) {
	defer func() {
		if r := recover(); r != nil {
			res = action.Result{Err: fmt.Errorf("action panicked: %v", r)}
		}
	}()
	return a.Run(ctx, req)
}
