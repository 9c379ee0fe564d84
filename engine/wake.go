package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/utask/utask/state"
)

// ParentTaskTag is the tag that links a subtask to the task that created it.
const ParentTaskTag = "_utask_parent_task_id"

// WakeResolution makes a resolution that waits (WAITING, ERROR, delayed)
// due now: its next_retry moves to now, never later. A resolution in a
// cycle in this process is woken when that cycle ends, so the wake-up is
// not lost under the cycle's final save.
func (e *Engine) WakeResolution(ctx context.Context, id string) error {
	e.runningMu.Lock()
	if e.running[id] {
		e.rewake[id] = true
		e.runningMu.Unlock()
		return nil
	}
	e.runningMu.Unlock()

	tx, err := e.cfg.Store.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	res, err := tx.ResolutionLock(ctx, id)
	if err != nil {
		return fmt.Errorf("load resolution: %w", err)
	}
	switch res.State {
	case state.ResWaiting, state.ResError, state.ResToAutorunDelayed:
	case state.ResRunning:
		// In a cycle on another instance: the moved next_retry survives
		// that cycle's final save (the store keeps the earlier one), and
		// makes the resolution due once the cycle ends.
	default:
		return nil // claimed and about to start, paused, blocked or over: nothing to wake
	}
	now := e.cfg.Now().UTC()
	if res.LastStart != nil && !now.After(*res.LastStart) {
		// This instance's clock is behind the one that started the last
		// cycle: the wake-up must still come after that start, or the
		// cycle's final save drops it.
		now = res.LastStart.Add(time.Microsecond)
	}
	if res.NextRetry != nil && res.NextRetry.Before(now) && (res.LastStart == nil || res.NextRetry.After(*res.LastStart)) {
		return nil // already due
	}
	res.NextRetry = &now
	if err := tx.ResolutionUpdate(ctx, res); err != nil {
		return fmt.Errorf("update resolution: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	e.Wake()
	return nil
}

// wakeParent wakes the resolution of the task that created this one, in
// the background: a subtask's parent resumes as soon as the subtask ends,
// whatever state it ends in; a batch's parent once no task of the batch is
// left unfinished.
func (c *cycle) wakeParent() {
	parent := c.task.Tags[ParentTaskTag]
	if parent == "" {
		return
	}
	e := c.e
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		// The child's end is committed: the wake-up must outlive the
		// engine's grace period, or the parent waits for good.
		ctx := context.WithoutCancel(e.ctx)
		if batch := c.task.Batch; batch != "" {
			// A batch waits for all its tasks: the last one to finish
			// wakes the parent, the others would wake it for nothing.
			n, err := e.cfg.Store.BatchCountRunning(ctx, batch)
			if err != nil {
				e.log.WarnContext(ctx, "engine: count running tasks of batch", "batch_id", batch, "err", err)
			} else if n > 0 {
				return
			}
		}
		t, err := e.cfg.Store.TaskGet(ctx, parent)
		if err != nil {
			e.log.WarnContext(ctx, "engine: wake parent task", "task_id", parent, "err", err)
			return
		}
		if t.ResolutionPublicID == "" {
			return
		}
		if err := e.WakeResolution(ctx, t.ResolutionPublicID); err != nil {
			e.log.WarnContext(ctx, "engine: wake parent resolution", "resolution_id", t.ResolutionPublicID, "err", err)
		}
	}()
}

// endsWait reports whether a resolution state ends what a parent waits
// for: the subtask is over, or needs a human.
func endsWait(s string) bool {
	switch s {
	case state.ResDone, state.ResCancelled, state.ResBlockedBadRequest, state.ResBlockedFatal,
		state.ResBlockedDeadlock, state.ResBlockedMaxRetries, state.ResBlockedToCheck:
		return true
	}
	return false
}
