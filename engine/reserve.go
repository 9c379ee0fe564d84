package engine

import (
	"context"
	"time"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// Reservation is a cycle of a new resolution reserved before the resolution
// is stored: its caller stores the resolution RUNNING, held by this
// instance, in the transaction that creates it, and the cycle starts
// without a transaction of its own. Exactly one of Start and Cancel must be
// called.
type Reservation struct {
	e  *Engine
	id string
}

// Reserve reserves a cycle of the resolution id, not stored yet, without
// waiting: it takes the resolution's in-process lock and an execution slot.
// It returns false when no slot is free or the engine is stopping; the
// caller then stores the resolution AUTORUNNING and launches it as usual.
func (e *Engine) Reserve(id string) (*Reservation, bool) {
	select {
	case <-e.shutdown:
		return nil, false
	default:
	}
	if !e.lockRunning(id, false) {
		return nil, false
	}
	if e.slots != nil {
		select {
		case e.slots <- struct{}{}:
		default:
			e.unlockRunning(id)
			return nil, false
		}
	}
	return &Reservation{e: e, id: id}, true
}

// Cancel gives the reservation up: the resolution was not stored.
func (r *Reservation) Cancel() {
	r.e.releaseSlot()
	r.e.unlockRunning(r.id)
}

// Start runs the cycle of the resolution, committed with its task as the
// caller of Reserve stored them: RUNNING, held by this instance, run once,
// with no step row yet. The engine owns task and res from then on.
func (r *Reservation) Start(task *store.Task, res *store.Resolution) {
	e := r.e
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		p, err := e.plan(e.ctx, e.cfg.Store, task.TemplateVersion)
		if err != nil {
			e.log.ErrorContext(e.ctx, "engine: start cycle", "resolution_id", res.PublicID, "err", err)
			r.Cancel()
			e.giveBack(res.PublicID)
			return
		}
		c := newCycle(e, res, task, p, nil)
		c.run() // releases the slot and the lock
	}()
}

// giveBack makes a resolution stored RUNNING for a reserved cycle that could
// not start runnable by any instance again (TO_AUTORUN, held by none, the
// run not counted), so that it is retried at once rather than once this
// instance is seen dead. It does nothing to a resolution that changed
// meanwhile; a failure is logged, and the resolution is then recovered
// with this instance's work.
func (e *Engine) giveBack(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := func() error {
		tx, err := e.cfg.Store.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
		res, err := tx.ResolutionLock(ctx, id)
		if err != nil {
			return err
		}
		if res.State != state.ResRunning || res.InstanceID == nil || *res.InstanceID != e.cfg.InstanceID {
			return nil
		}
		res.State, res.InstanceID, res.RunCount = state.ResToAutorun, nil, max(0, res.RunCount-1)
		if err := tx.ResolutionUpdate(ctx, res); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}()
	if err != nil {
		e.log.ErrorContext(ctx, "engine: give back a resolution that did not start",
			"resolution_id", id, "err", err)
		return
	}
	e.Wake()
}
