package server

import (
	"context"
	"errors"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/service"
)

// runner presents the engine to the service, turning the engine's
// refusals into the service's error kinds.
type runner struct {
	*engine.Engine
}

// RunNow runs a cycle now; a resolution that cannot run in its state is a
// bad request, and an engine that is stopping or runs nothing a refusal
// that another instance may not make.
func (r runner) RunNow(ctx context.Context, id string) error {
	err := r.Engine.RunNow(ctx, id)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrAlreadyRunning), errors.Is(err, engine.ErrAlreadyDone), errors.Is(err, engine.ErrCancelled):
		return service.Errorf(service.KindBadRequest, "%s", err.Error())
	case errors.Is(err, engine.ErrShuttingDown), errors.Is(err, engine.ErrNoExecutionSlots):
		return service.Errorf(service.KindMaintenance, "%s", err.Error())
	}
	return err
}

// Reserve reserves a cycle of a new resolution (service.Starter).
func (r runner) Reserve(id string) (service.Reservation, bool) {
	rsv, ok := r.Engine.Reserve(id)
	if !ok {
		return nil, false
	}
	return rsv, true
}
