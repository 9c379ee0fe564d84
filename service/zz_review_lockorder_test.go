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

type reviewCtxKey struct{}

// reviewHookStore lets a test stop the transaction of a chosen request
// right after its TaskLock, and see when another one is about to take it.
type reviewHookStore struct {
	store.Store
	mu          sync.Mutex
	heldTask    chan struct{} // closed when the marked request holds its task lock
	goOn        chan struct{} // closed by the test to let it continue
	otherTaking chan struct{} // closed when an unmarked request is about to lock the task
	otherOnce   sync.Once
}

func (s *reviewHookStore) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &reviewHookTx{Tx: tx, s: s}, nil
}

type reviewHookTx struct {
	store.Tx
	s *reviewHookStore
}

func (t *reviewHookTx) TaskLock(ctx context.Context, id int64) (*store.Task, error) {
	marked := ctx.Value(reviewCtxKey{}) != nil
	if !marked {
		t.s.otherOnce.Do(func() { close(t.s.otherTaking) })
	}
	task, err := t.Tx.TaskLock(ctx, id)
	if marked && err == nil {
		close(t.s.heldTask)
		<-t.s.goOn
	}
	return task, err
}

const reviewLockTemplate = `
name: review-lock
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

// PUT /task/{id} (EditTask) locks the task, then the resolution; pause,
// cancel and extend (changeResolution) lock the resolution, then the task,
// as the engine's startCycle does. On PostgreSQL two such requests on the
// same task deadlock: PostgreSQL aborts one of them ("deadlock detected"),
// answered 500. (CreateResolution with start_over has the same order as
// EditTask.)
func TestReviewEditTaskAndCancelDeadlock(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	url := pgtest.FreshSchema(t)
	db, err := postgres.Open(ctx, postgres.Config{URL: url, Sealer: storetest.NewSealer(t),
		Logger: slog.New(slog.DiscardHandler), MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	tt, err := template.Parse([]byte(reviewLockTemplate))
	require.NoError(t, err)
	doc, err := json.Marshal(tt)
	require.NoError(t, err)
	version, err := db.TemplateVersionPut(ctx, tt.Name, doc)
	require.NoError(t, err)

	hs := &reviewHookStore{Store: db, heldTask: make(chan struct{}), goOn: make(chan struct{}),
		otherTaking: make(chan struct{})}
	svc := service.New(service.Config{
		Store:     hs,
		Runner:    &recordingRunner{},
		Templates: service.NewTemplates([]*template.Template{tt}, map[string]int64{tt.Name: version}),
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
	})
	root := auth.Identity{Username: "root"}

	task, err := svc.CreateTask(ctx, auth.Identity{Username: "bob"}, service.CreateTaskRequest{TemplateName: "review-lock"})
	require.NoError(t, err)
	res, err := svc.CreateResolution(ctx, auth.Identity{Username: "owner"}, service.CreateResolutionRequest{TaskID: task.ID})
	require.NoError(t, err)
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
		_, editErr = svc.EditTask(context.WithValue(ctx, reviewCtxKey{}, true), root, task.ID,
			service.EditTaskRequest{Input: map[string]any{"why": "edited"}})
	}()
	<-hs.heldTask
	go func() {
		defer wg.Done()
		cancelErr = svc.CancelResolution(ctx, root, res.ID)
	}()
	<-hs.otherTaking
	// Wait until the cancel waits for the task's row lock, holding the
	// resolution's.
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		require.NoError(t, conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n))
		if n > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the cancel never waited for the task lock")
		time.Sleep(20 * time.Millisecond)
	}
	close(hs.goOn)
	wg.Wait()

	t.Logf("edit: %v; cancel: %v", editErr, cancelErr)
	require.NoError(t, editErr, "PUT /task")
	require.NoError(t, cancelErr, "POST /resolution/{id}/cancel")
}
