package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/utask/utask/store"
)

// Leadership and maintenance.
//
// Every instance bids for a lease in the store every ElectInterval; the one
// holding it (the leader) renews it on the same rhythm and runs the
// maintenance: it takes over the resolutions of dead instances (their
// heartbeat is older than DeadAfter), removes dead instances that hold
// nothing, and deletes finished tasks older than CompletedTaskExpiration.
// The lease is a row with an expiry, never a session lock, so it survives
// connection poolers and is lost when its holder stops renewing it. A leader
// trusts its lease only until it would have expired had the last renewal
// been lost (IsLeader says so, and the maintenance stops then); it resigns
// when it stops.

// jitter returns d lengthened by a random part of up to a fifth of it, so
// that instances started together do not poll in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + rand.N(d/5+1) //nolint:gosec // spreading polls, not a secret
}

// leaderLoop bids for leadership, renews it, and runs the maintenance while
// it leads, until Stop; then it resigns.
func (e *Engine) leaderLoop() {
	defer e.wg.Done()
	if e.cfg.NoExecutionSlots {
		// An instance that runs nothing does not lead: a leader takes over
		// the work of dead instances, which it could not run, and would keep
		// the instances that can from doing it.
		return
	}
	ctx := e.stopCtx
	var (
		term       *store.LeaderTerm
		trustUntil time.Time // monotonic: when the lease may have expired
		nextMaint  time.Time
	)
	defer func() {
		e.leading.Store(false)
		if term == nil {
			return
		}
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.cfg.Store.LeaderResign(rctx, *term); err != nil {
			e.log.WarnContext(rctx, "engine: resign leadership", "err", err)
		} else {
			e.log.InfoContext(rctx, "engine: resigned leadership")
		}
	}()
	for {
		attempt := time.Now()
		var (
			t   *store.LeaderTerm
			err error
		)
		if term == nil {
			t, err = e.cfg.Store.LeaderElect(ctx, e.cfg.InstanceID, e.cfg.Now(), e.cfg.LeaderTTL)
		} else {
			t, err = e.cfg.Store.LeaderReelect(ctx, *term, e.cfg.Now(), e.cfg.LeaderTTL)
		}
		switch {
		case err != nil:
			if !errors.Is(err, context.Canceled) {
				e.log.WarnContext(ctx, "engine: leader election", "err", err)
			}
			if term != nil && time.Now().After(trustUntil) {
				e.log.WarnContext(ctx, "engine: stepping down: the lease could not be renewed")
				term = nil
			}
		case t == nil && term != nil:
			e.log.WarnContext(ctx, "engine: lost leadership")
			term = nil
		case t != nil:
			if term == nil {
				e.log.InfoContext(ctx, "engine: elected leader")
				nextMaint = time.Now()
			}
			term = t
			// A margin for the clocks of the instances: a second, or a
			// quarter of a short lease.
			trustUntil = attempt.Add(e.cfg.LeaderTTL - min(time.Second, e.cfg.LeaderTTL/4))
			e.trustUntil.Store(int64(trustUntil.Sub(e.epoch)))
		}

		e.leading.Store(term != nil)
		if term != nil && !time.Now().Before(nextMaint) {
			// The lease is not renewed while the maintenance runs: it stops
			// when the lease may have expired, before another instance can
			// be elected and run its own.
			mctx, cancel := context.WithTimeout(ctx, time.Until(trustUntil))
			e.maintain(mctx)
			cancel()
			nextMaint = time.Now().Add(jitter(e.cfg.MaintenanceInterval))
		}
		wait := jitter(e.cfg.ElectInterval)
		if term != nil {
			wait = min(wait, max(time.Until(nextMaint), 0))
		}
		timer := time.NewTimer(wait)
		select {
		case <-e.shutdown:
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// maintain runs one round of the leader's maintenance. Errors are logged:
// the next round tries again.
func (e *Engine) maintain(ctx context.Context) {
	now := e.cfg.Now()
	aliveSince := now.Add(-e.cfg.DeadAfter)
	orphans, err := e.cfg.Store.ResolutionClaimOrphans(ctx, e.cfg.InstanceID, aliveSince)
	if err != nil {
		e.log.ErrorContext(ctx, "engine: claim resolutions of dead instances", "err", err)
	}
	e.recover(orphans)
	if n, err := e.cfg.Store.InstanceDeleteDead(ctx, e.cfg.InstanceID, aliveSince); err != nil {
		e.log.ErrorContext(ctx, "engine: delete dead instances", "err", err)
	} else if n > 0 {
		e.log.InfoContext(ctx, "engine: deleted dead instances", "count", n)
	}
	if e.cfg.CompletedTaskExpiration > 0 {
		n, err := e.cfg.Store.TaskDeleteFinished(ctx, now.Add(-e.cfg.CompletedTaskExpiration))
		if err != nil {
			e.log.ErrorContext(ctx, "engine: delete finished tasks", "err", err)
		} else if n > 0 {
			e.log.InfoContext(ctx, "engine: deleted finished tasks", "count", n)
		}
	}
}

// recover queues resolutions this instance claimed from dead instances
// (CRASHED): recoverLoop starts them.
func (e *Engine) recover(ids []string) {
	if len(ids) == 0 {
		return
	}
	e.recoverMu.Lock()
	e.recovering = append(e.recovering, ids...)
	e.recoverMu.Unlock()
	for _, id := range ids {
		e.log.Info("engine: recovering resolution", "resolution_id", id)
	}
	select {
	case e.recoverWake <- struct{}{}:
	default:
	}
}

// recoverLoop starts the queued recovered resolutions one by one, each once
// a crash slot (MaxConcurrentExecutionsFromCrashed) is free, pausing
// DelayBetweenCrashedTasksResolution between two, until Stop. Those still
// queued then stay CRASHED, held by this instance, for the leader to take
// over once this instance is seen dead.
func (e *Engine) recoverLoop() {
	defer e.wg.Done()
	for {
		e.recoverMu.Lock()
		var id string
		if len(e.recovering) > 0 {
			id = e.recovering[0]
			e.recovering = e.recovering[1:]
		}
		e.recoverMu.Unlock()
		if id == "" {
			select {
			case <-e.shutdown:
				return
			case <-e.recoverWake:
				continue
			}
		}
		if e.crashedSlots != nil {
			select {
			case <-e.shutdown:
				return
			case e.crashedSlots <- struct{}{}:
			}
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer e.releaseCrashedSlot()
			c, err := e.startCycle(e.ctx, id, true)
			if err != nil {
				switch {
				case errors.Is(err, ErrShuttingDown):
					// Recovered again once this instance is seen dead.
					e.log.DebugContext(e.ctx, "engine: recovered resolution not started, stopping",
						"resolution_id", id)
				case !errors.Is(err, errNothingToRun):
					e.log.ErrorContext(e.ctx, "engine: start recovered cycle", "resolution_id", id, "err", err)
				}
				return
			}
			c.run()
		}()
		if d := e.cfg.DelayBetweenCrashedTasksResolution; d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-e.shutdown:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
	}
}

func (e *Engine) releaseCrashedSlot() {
	if e.crashedSlots != nil {
		<-e.crashedSlots
	}
}
