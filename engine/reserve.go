package engine

import (
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
			// TODO: the resolution stays RUNNING on this instance until the
			// instance stops and another takes it over, as a resolution
			// whose Launch fails stays AUTORUNNING; recording the failure
			// on the resolution would let it be retried at once.
			e.log.ErrorContext(e.ctx, "engine: start cycle", "resolution_id", res.PublicID, "err", err)
			r.Cancel()
			return
		}
		c := newCycle(e, res, task, p, nil)
		c.run() // releases the slot and the lock
	}()
}
