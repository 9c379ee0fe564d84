package service_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/action/batch"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// cancelOnCommitStore cancels the request's context as soon as a transaction
// commits: an API client that goes away (or times out) right after its
// write was committed.
type cancelOnCommitStore struct {
	store.Store
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (s *cancelOnCommitStore) arm(cancel context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancel = cancel
}

func (s *cancelOnCommitStore) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &cancelOnCommitTx{Tx: tx, s: s}, nil
}

type cancelOnCommitTx struct {
	store.Tx
	s *cancelOnCommitStore
}

func (t *cancelOnCommitTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	t.s.mu.Lock()
	if t.s.cancel != nil {
		t.s.cancel()
	}
	t.s.mu.Unlock()
	return err
}

// wakeRecorder records the wake-ups it is asked for with a live
// context (the engine's WakeResolution needs one to write next_retry).
type wakeRecorder struct {
	recordingRunner
	mu    sync.Mutex
	woken []string
}

func (r *wakeRecorder) WakeResolution(ctx context.Context, id string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.woken = append(r.woken, id)
	return nil
}

func (r *wakeRecorder) wakes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.woken...)
}

const (
	wakeParentTemplate = `
name: wake-parent
description: a parent
title_format: wake parent
auto_runnable: true
allow_all_resolver_usernames: true
steps: {}
`
	wakeManualChild = `
name: wake-manual-child
description: a child a human must resolve
title_format: wake manual child
steps: {}
`
)

// Refusing (wontfix) the last unfinished task of a batch must wake the
// batch's parent even when the caller's request context ends right after
// the refusal is committed: the refusal is durable, and a parent not woken
// then waits forever (a batch step is only re-run when woken).
func TestWontfixWakesTheParentAfterTheCallerLeft(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	st := openStore(t)

	var tmpls []*template.Template
	versions := map[string]int64{}
	for _, src := range []string{wakeParentTemplate, wakeManualChild} {
		tt, err := template.Parse([]byte(src))
		require.NoError(t, err)
		doc, err := json.Marshal(tt)
		require.NoError(t, err)
		versions[tt.Name], err = st.TemplateVersionPut(ctx, tt.Name, doc)
		require.NoError(t, err)
		tmpls = append(tmpls, tt)
	}

	cs := &cancelOnCommitStore{Store: st}
	runner := &wakeRecorder{}
	svc := service.New(service.Config{
		Store:     cs,
		Runner:    runner,
		Templates: service.NewTemplates(tmpls, versions),
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
	})
	alice := auth.Identity{Username: "alice"}

	parent, err := svc.CreateTask(ctx, alice, service.CreateTaskRequest{TemplateName: "wake-parent"})
	require.NoError(t, err)
	require.NotEmpty(t, parent.Resolution)

	batchID := uuid.NewString()
	require.NoError(t, svc.Batches().PopulateBatch(ctx, batch.PopulateRequest{
		BatchID: batchID, CreateBatch: true, ParentTaskID: parent.ID, Template: "wake-manual-child",
		Inputs: []map[string]any{{}}, RequesterUsername: "alice",
	}))
	page, err := svc.ListTasks(ctx, alice, service.ListTasksRequest{Batch: batchID})
	require.NoError(t, err)
	require.Len(t, page.Tasks, 1)
	childID := page.Tasks[0].ID

	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs.arm(cancel)
	require.NoError(t, svc.WontfixTask(reqCtx, alice, childID), "the refusal succeeds")

	n, err := st.BatchCountRunning(ctx, batchID)
	require.NoError(t, err)
	require.Zero(t, n, "no task of the batch is left unfinished")
	require.Equal(t, []string{parent.Resolution}, runner.wakes(), "the parent was not woken")
}
