package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

// newTask returns a task of version ready to insert.
func newTask(version int64) *store.Task {
	return &store.Task{
		PublicID: uuid.NewString(), TemplateName: "fixture", TemplateVersion: version,
		State: "TODO", Input: map[string]any{"k": "v"},
	}
}

// Concurrent transactions share commits; each one's work is kept when it
// commits and dropped when it rolls back, whatever the others do.
func TestGroupCommitKeepsEachTransactionsOutcome(t *testing.T) {
	t.Parallel()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	ctx := t.Context()
	version, err := s.TemplateVersionPut(ctx, "fixture", []byte(`{}`))
	require.NoError(t, err)
	before := s.commits.Load()

	const workers, each = 16, 25
	tasks := make([][]*store.Task, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				task := newTask(version)
				tx, err := s.Begin(ctx)
				if err != nil {
					errs[w] = err
					return
				}
				if err := tx.TaskInsert(ctx, task); err != nil {
					_ = tx.Rollback(ctx)
					errs[w] = err
					return
				}
				if i%3 == 2 {
					errs[w] = tx.Rollback(ctx)
				} else {
					errs[w] = tx.Commit(ctx)
				}
				if errs[w] != nil {
					return
				}
				tasks[w] = append(tasks[w], task)
			}
		})
	}
	wg.Wait()
	kept := 0
	for w := range workers {
		require.NoError(t, errs[w])
		for i, task := range tasks[w] {
			_, err := s.TaskGet(ctx, task.PublicID)
			if i%3 == 2 {
				require.ErrorIs(t, err, store.ErrNotFound, "a rolled back insert is gone")
				continue
			}
			require.NoError(t, err, "a committed insert is kept")
			kept++
		}
	}
	require.Equal(t, workers*(each-each/3), kept)
	commits := s.commits.Load() - before
	require.Positive(t, commits)
	require.Less(t, commits, int64(kept), "concurrent transactions shared commits")
}

// A caller that gives up waiting for the writer after the holder handed the
// turn over to it does not leave the open group without anyone to commit
// it.
func TestGroupCommitSurvivesAnAbandonedWait(t *testing.T) {
	t.Parallel()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	ctx := t.Context()
	version, err := s.TemplateVersionPut(ctx, "fixture", []byte(`{}`))
	require.NoError(t, err)

	first, err := s.Begin(ctx)
	require.NoError(t, err)
	task := newTask(version)
	require.NoError(t, first.TaskInsert(ctx, task))

	// A caller is counted as waiting: the commit hands the turn over to it
	// and waits for the group's outcome.
	s.waiting.Add(1)
	committed := make(chan error, 1)
	go func() { committed <- first.Commit(ctx) }()
	require.Eventually(t, func() bool { return len(s.turn) == 0 }, 10*time.Second, time.Millisecond)
	select {
	case err := <-committed:
		t.Fatalf("commit returned before its group ended: %v", err)
	default:
	}
	// The caller gives up instead of taking the turn.
	s.abandonWait()
	select {
	case err := <-committed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the group was never committed")
	}
	_, err = s.TaskGet(ctx, task.PublicID)
	require.NoError(t, err)

	// A caller that gives up while the turn is held changes nothing.
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Begin(wctx)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, tx.Rollback(ctx))
	tx, err = s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
}

// A Tx's methods fail after Commit, and Rollback after Commit does nothing.
func TestTxIsDoneAfterCommit(t *testing.T) {
	t.Parallel()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	ctx := t.Context()
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.ErrorIs(t, tx.Commit(ctx), errTxDone)
	require.NoError(t, tx.Rollback(ctx))
}
