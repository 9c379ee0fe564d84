package service

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/utask/utask/action/callback"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// Messages of the callback route.
const (
	// CallbackResolved is the message of a successful call.
	CallbackResolved = "The callback has been resolved"
	// msgCallbackNotFound answers both an unknown id and a wrong token, so
	// that a caller cannot tell one from the other.
	msgCallbackNotFound = "failed to load callback from public id: callback not found"
)

// CallbackMessage is the answer of a successful call of a callback.
type CallbackMessage struct {
	Message string `json:"message"`
}

// HandleCallback resolves callback publicID for a caller presenting token:
// the body (the decoded JSON object the caller sent, nil when it sent none)
// is checked against the callback's schema, stored with the call time, and
// the resolution that created the callback is made to run. A callback is
// resolved once; its task must be BLOCKED, RUNNING or WAITING.
//
// An unknown id and a wrong token give the same 404, and the token is
// compared in constant time.
func (s *Service) HandleCallback(ctx context.Context, publicID, token string, body any) (*CallbackMessage, error) {
	if token == "" {
		return nil, Errorf(KindBadRequest, "binding error: query parameter 't' is required")
	}

	if err := checkPublicID("callback", publicID); err != nil {
		return nil, err
	}

	bodyJSON, err := json.Marshal(body)
	if err != nil {
		return nil, wrap(KindBadRequest, "binding error: error parsing request body", err)
	}

	// The callback is read, then its task and the callback itself are
	// locked in that order: the order of a task's deletion, which removes
	// its callbacks, so that the two never wait for each other.
	found, err := s.cfg.Store.CallbackGet(ctx, publicID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Errorf(KindNotFound, msgCallbackNotFound)
	}

	if err != nil {
		return nil, wrap(KindInternal, "load callback", err)
	}

	if subtle.ConstantTimeCompare([]byte(token), []byte(found.Secret)) != 1 {
		return nil, Errorf(KindNotFound, msgCallbackNotFound)
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	t, err := tx.TaskLock(ctx, found.TaskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Errorf(KindNotFound, msgCallbackNotFound) // deleted with its task meanwhile
	}

	if err != nil {
		return nil, wrap(KindBadRequest, "unable to fetch related task", err)
	}

	cb, err := tx.CallbackLock(ctx, publicID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Errorf(KindNotFound, msgCallbackNotFound)
	}

	if err != nil {
		return nil, wrap(KindInternal, "load callback", err)
	}

	if cb.Called != nil {
		return nil, Errorf(KindBadRequest, "callback has already been resolved")
	}

	switch t.State {
	case state.TaskBlocked, state.TaskRunning, state.TaskWaiting:
	default:
		return nil, Errorf(KindBadRequest, "related task is not in a valid state: %s", t.State)
	}

	if cb.Schema != nil {
		if err := callback.ValidateBody(cb.Schema, bodyJSON); err != nil {
			return nil, wrap(KindBadRequest, "unable to validate body", err)
		}
	}

	now := s.now()
	cb.Called, cb.Updated, cb.Body = &now, now, bodyJSON

	if err := tx.CallbackUpdate(ctx, cb); err != nil {
		return nil, wrap(KindInternal, "update callback", err)
	}

	if err := tx.Commit(ctx); err != nil {
		return nil, wrap(KindInternal, "commit callback", err)
	}

	s.runCalledBack(ctx, cb.ResolutionPublicID)

	return &CallbackMessage{Message: CallbackResolved}, nil
}

// runCalledBack makes the resolution of a called callback run: at once when
// it is not running, else when its current cycle ends. A PAUSED resolution
// stays paused: pausing is a decision of its managers, which a call from
// outside does not override; the call is recorded and the run that resumes
// the resolution reads it. Failures are only logged, for the same reason.
func (s *Service) runCalledBack(ctx context.Context, resolutionPublicID string) {
	ctx = context.WithoutCancel(ctx)

	if r, err := s.cfg.Store.ResolutionGet(ctx, resolutionPublicID); err == nil && r.State == state.ResPaused {
		s.cfg.Logger.InfoContext(ctx, "service: callback recorded for a paused resolution", "resolution_id", resolutionPublicID)
		return
	}

	err := s.cfg.Runner.RunNow(ctx, resolutionPublicID)
	if err == nil {
		return
	}

	s.cfg.Logger.DebugContext(ctx, "service: run called back resolution", "resolution_id", resolutionPublicID, "err", err)

	// Running already (here or on another instance), or claimed: a wake-up
	// makes it due once more after its current cycle.
	if err := s.cfg.Runner.WakeResolution(ctx, resolutionPublicID); err != nil {
		s.cfg.Logger.WarnContext(ctx, "service: wake called back resolution", "resolution_id", resolutionPublicID,
			"err", err)
	}
}

// Callbacks lets the callback action create and read callbacks through the
// service.
type Callbacks struct{ s *Service }

// Callbacks returns the service as the callback action's Store.
func (s *Service) Callbacks() Callbacks { return Callbacks{s: s} }

// CreateCallback stores a new callback for the resolution of task taskID,
// with a new public id and a new random secret (a UUID v4, from the
// system's cryptographic source). Its resolver is the task's requester.
func (cs Callbacks) CreateCallback(ctx context.Context, taskID string, schema []byte) (*callback.Callback, error) {
	s := cs.s

	t, err := s.loadTask(ctx, taskID)
	if err != nil {
		return nil, err
	}

	if t.ResolutionPublicID == "" {
		return nil, Errorf(KindNotFound, "task %s has no resolution", taskID)
	}

	r, err := s.loadResolution(ctx, t.ResolutionPublicID)
	if err != nil {
		return nil, err
	}

	secret, err := uuid.NewRandom()
	if err != nil {
		return nil, wrap(KindInternal, "generate secret", err)
	}

	now := s.now()
	cb := &store.Callback{
		PublicID:         s.cfg.NewID(),
		TaskID:           t.ID,
		ResolutionID:     r.ID,
		Created:          now,
		Updated:          now,
		ResolverUsername: t.RequesterUsername,
		Schema:           schema,
		Secret:           secret.String(),
	}

	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return nil, wrap(KindInternal, "begin transaction", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to do after Commit or a failure

	if err := tx.CallbackInsert(ctx, cb); err != nil {
		return nil, storeError("Failed to create callback", err)
	}

	if err := tx.Commit(ctx); err != nil {
		return nil, wrap(KindInternal, "commit callback", err)
	}

	return &callback.Callback{ID: cb.PublicID, Secret: cb.Secret}, nil
}

// Callback reads a callback.
func (cs Callbacks) Callback(ctx context.Context, id string) (*callback.Callback, error) {
	if err := checkPublicID("callback", id); err != nil {
		return nil, err
	}

	cb, err := cs.s.cfg.Store.CallbackGet(ctx, id)
	if err != nil {
		return nil, storeError(fmt.Sprintf("load callback %s", id), err)
	}

	return &callback.Callback{ID: cb.PublicID, Secret: cb.Secret, Called: cb.Called, Body: cb.Body}, nil
}
