package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
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

// A committed Tx must not wait for ever while other callers keep taking the
// writer only to roll back (read-only or refused transactions): the group
// it joined must end.
func TestGroupCommitNotStarvedByRollbacks(t *testing.T) {
	t.Parallel()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	ctx := t.Context()
	version, err := s.TemplateVersionPut(ctx, "fixture", []byte(`{}`))
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := s.Begin(ctx)
				if err != nil {
					return
				}
				_ = tx.Rollback(ctx)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		tx, err := s.Begin(ctx)
		if err != nil {
			done <- err
			return
		}
		if err := tx.TaskInsert(ctx, newTask(version)); err != nil {
			done <- err
			return
		}
		done <- tx.Commit(ctx)
	}()
	var committed bool
	select {
	case err := <-done:
		require.NoError(t, err)
		committed = true
	case <-time.After(3 * time.Second):
	}
	close(stop)
	wg.Wait()
	if !committed {
		<-done
	}
	require.True(t, committed, "Commit still waiting after 3s while others only rolled back")
}

// A caller that gives up waiting for the writer must not leave a group
// open with a member waiting for its outcome and nobody left to end it.
func TestGroupCommitSurvivesAbandonedWaits(t *testing.T) {
	t.Parallel()
	s := testStore(t, filepath.Join(t.TempDir(), "utask.db"), storetest.NewSealer(t), nil)
	ctx := t.Context()
	version, err := s.TemplateVersionPut(ctx, "fixture", []byte(`{}`))
	require.NoError(t, err)

	var hung atomic.Int32
	for i := range 1000 {
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.TaskInsert(ctx, newTask(version)))
		wctx, cancel := context.WithCancel(ctx)
		waiterDone := make(chan struct{})
		go func() {
			defer close(waiterDone)
			wtx, err := s.Begin(wctx)
			if err == nil {
				_ = wtx.Rollback(ctx)
			}
		}()
		// Let the waiter count itself, then race its cancellation against
		// the commit handing the writer over.
		for s.writers.waiting() == 0 {
			time.Sleep(time.Microsecond)
		}
		commitDone := make(chan error, 1)
		go func() { commitDone <- tx.Commit(ctx) }()
		if i%2 == 0 {
			time.Sleep(time.Duration(i%7) * time.Microsecond)
		}
		cancel()
		<-waiterDone
		select {
		case err := <-commitDone:
			require.NoError(t, err)
		case <-time.After(2 * time.Second):
			hung.Add(1)
			// Unblock it so the test can end: a new caller ends the group.
			tx2, err := s.Begin(ctx)
			require.NoError(t, err)
			require.NoError(t, tx2.Rollback(ctx))
			require.NoError(t, <-commitDone)
			t.Fatalf("iteration %d: Commit hung with no caller left (lost wake-up)", i)
		}
	}
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
