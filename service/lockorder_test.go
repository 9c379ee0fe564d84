package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/store/postgres"
	"github.com/utask/utask/store/postgres/pgtest"
	"github.com/utask/utask/store/storetest"
	"github.com/utask/utask/template"
)

type lockHookKey struct{}

// lockHookStore lets a test stop the transaction of a chosen request
// right after its TaskLock, and see when another one is about to take it.
type lockHookStore struct {
	store.Store
	mu       sync.Mutex
	heldTask chan struct{} // closed when the marked request holds its task lock
	goOn     chan struct{} // closed by the test to let it continue
}

func (s *lockHookStore) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &lockHookTx{Tx: tx, s: s}, nil
}

type lockHookTx struct {
	store.Tx
	s *lockHookStore
}

func (t *lockHookTx) TaskLock(ctx context.Context, id int64) (*store.Task, error) {
	marked := ctx.Value(lockHookKey{}) != nil
	task, err := t.Tx.TaskLock(ctx, id)
	if marked && err == nil {
		close(t.s.heldTask)
		<-t.s.goOn
	}
	return task, err
}

const lockOrderTemplate = `
name: lock-order
description: waits for a human
title_format: "lock order"
allowed_resolver_usernames: [owner]
inputs:
  - name: why
    description: the reason
    optional: true
steps:
  one:
    description: one
    action: {type: echo, configuration: {output: {}}}
`

// lockOrderService is a service on a fresh PostgreSQL schema, behind a
// lockHookStore, with the template lockOrderTemplate.
func lockOrderService(t *testing.T) (string, *postgres.Store, *lockHookStore, *service.Service) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.FreshSchema(t)
	db, err := postgres.Open(ctx, postgres.Config{URL: url, Sealer: storetest.NewSealer(t),
		Logger: slog.New(slog.DiscardHandler), MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	tt, err := template.Parse([]byte(lockOrderTemplate))
	require.NoError(t, err)
	doc, err := json.Marshal(tt)
	require.NoError(t, err)
	version, err := db.TemplateVersionPut(ctx, tt.Name, doc)
	require.NoError(t, err)

	hs := &lockHookStore{Store: db, heldTask: make(chan struct{}), goOn: make(chan struct{})}
	svc := service.New(service.Config{
		Store:     hs,
		Runner:    &recordingRunner{},
		Templates: service.NewTemplates([]*template.Template{tt}, map[string]int64{tt.Name: version}),
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
	})
	return url, db, hs, svc
}

// waitForALockWait waits until a session of the database at url waits for
// a lock.
func waitForALockWait(t *testing.T, url, msg string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		require.NoError(t, conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n))
		if n > 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), msg)
		time.Sleep(20 * time.Millisecond)
	}
}

// PUT /task/{id} and a cancel of the same task, at the same time, do not
// deadlock on PostgreSQL: every change of a task locks its resolution first,
// then the task, as the engine and the changes of a resolution do. Here the
// edit stops once it holds both locks, the cancel waits for it, and both
// succeed.
func TestEditTaskAndCancelDoNotDeadlock(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url, db, hs, svc := lockOrderService(t)
	root := auth.Identity{Username: "root"}

	task, res := lockOrderTask(t, svc)
	// Paused before its first cycle (the test runner runs nothing).
	require.NoError(t, svc.PauseResolution(ctx, root, res.ID, false))
	r, err := db.ResolutionGet(ctx, res.ID)
	require.NoError(t, err)
	require.Equal(t, state.ResPaused, r.State)

	var editErr, cancelErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, editErr = svc.EditTask(context.WithValue(ctx, lockHookKey{}, true), root, task.ID,
			service.EditTaskRequest{Input: map[string]any{"why": "edited"}})
	}()
	<-hs.heldTask
	go func() {
		defer wg.Done()
		cancelErr = svc.CancelResolution(ctx, root, res.ID)
	}()
	// Wait until the cancel waits for a lock the edit holds.
	waitForALockWait(t, url, "the cancel never waited for the edit")
	close(hs.goOn)
	wg.Wait()

	t.Logf("edit: %v; cancel: %v", editErr, cancelErr)
	require.NoError(t, editErr, "PUT /task")
	require.NoError(t, cancelErr, "POST /resolution/{id}/cancel")
}

// A task deleted while its callback is called, at the same time, does not
// deadlock on PostgreSQL: the call locks the task before the callback, as
// the deletion does (it removes the callback). Here the deletion stops once
// it holds the task, the call waits for it, and then finds the callback gone.
func TestDeleteTaskAndCallbackDoNotDeadlock(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url, db, hs, svc := lockOrderService(t)
	root := auth.Identity{Username: "root"}

	task, _ := lockOrderTask(t, svc)
	// The task waits for its callback (a step of a real run would).
	stored, err := db.TaskGet(ctx, task.ID)
	require.NoError(t, err)
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	locked, err := tx.TaskLock(ctx, stored.ID)
	require.NoError(t, err)
	locked.State = state.TaskWaiting
	require.NoError(t, tx.TaskUpdate(ctx, locked))
	require.NoError(t, tx.Commit(ctx))
	cb, err := svc.Callbacks().CreateCallback(ctx, task.ID, nil)
	require.NoError(t, err)

	var deleteErr, callErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		deleteErr = svc.DeleteTask(context.WithValue(ctx, lockHookKey{}, true), root, task.ID)
	}()
	<-hs.heldTask
	go func() {
		defer wg.Done()
		_, callErr = svc.HandleCallback(ctx, cb.ID, cb.Secret, map[string]any{"ok": true})
	}()
	waitForALockWait(t, url, "the call never waited for the deletion")
	close(hs.goOn)
	wg.Wait()

	require.NoError(t, deleteErr, "DELETE /task/{id}")
	require.Equal(t, service.KindNotFound, service.KindOf(callErr),
		"the call finds its callback gone: %v", callErr)
}

// lockOrderTask creates a task of the lock-order template and its
// resolution, by a manager.
func lockOrderTask(t *testing.T, svc *service.Service) (*service.Task, *service.Resolution) {
	t.Helper()
	ctx := context.Background()
	task, err := svc.CreateTask(ctx, auth.Identity{Username: "bob"},
		service.CreateTaskRequest{TemplateName: "lock-order"})
	require.NoError(t, err)
	res, err := svc.CreateResolution(ctx, auth.Identity{Username: "owner"},
		service.CreateResolutionRequest{TaskID: task.ID})
	require.NoError(t, err)
	return task, res
}
