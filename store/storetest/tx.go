package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

func txBehaviours() []behaviour {
	return []behaviour{
		{"RollbackDiscards", func(t *testing.T, b *bundle) {
			kept, keptRes := b.taskWithResolution(t)
			b.upsertSteps(t, keptRes, fullStep("kept", b.now))

			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			added := b.newTask()
			require.NoError(t, tx.TaskInsert(b.ctx, added))
			addedRes := b.newResolution(added)
			require.NoError(t, tx.ResolutionInsert(b.ctx, addedRes))
			require.NoError(t, tx.StepUpsert(b.ctx, addedRes, []*store.Step{fullStep("added", b.now)}))
			changed := *kept
			changed.Title = "changed"
			require.NoError(t, tx.TaskUpdate(b.ctx, &changed))
			changedRes := *keptRes
			changedRes.State = "DONE"
			require.NoError(t, tx.ResolutionUpdate(b.ctx, &changedRes))
			require.NoError(t, tx.StepUpsert(b.ctx, keptRes, []*store.Step{{Name: "kept", State: "RUNNING"}}))
			require.NoError(t, tx.StepDelete(b.ctx, keptRes.ID, []string{"kept"}))
			require.NoError(t, tx.Rollback(b.ctx))

			_, err = b.s.TaskGet(b.ctx, added.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = b.s.ResolutionGet(b.ctx, addedRes.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			steps, err := b.s.StepList(b.ctx, addedRes.ID)
			require.NoError(t, err)
			require.Empty(t, steps)

			got, err := b.s.TaskGet(b.ctx, kept.PublicID)
			require.NoError(t, err)
			require.Equal(t, kept.Title, got.Title)
			gotRes, err := b.s.ResolutionGet(b.ctx, keptRes.PublicID)
			require.NoError(t, err)
			require.Equal(t, keptRes.State, gotRes.State)
			steps, err = b.s.StepList(b.ctx, keptRes.ID)
			require.NoError(t, err)
			require.Equal(t, []*store.Step{fullStep("kept", b.now)}, steps)
		}},

		{"RollbackAfterEndDoesNothing", func(t *testing.T, b *bundle) {
			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			task := b.newTask()
			require.NoError(t, tx.TaskInsert(b.ctx, task))
			require.NoError(t, tx.Commit(b.ctx))
			require.NoError(t, tx.Rollback(b.ctx))

			_, err = b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err, "a rollback after commit keeps the commit")

			tx, err = b.s.Begin(b.ctx)
			require.NoError(t, err)
			require.NoError(t, tx.Rollback(b.ctx))
			require.NoError(t, tx.Rollback(b.ctx))
			require.Error(t, tx.Commit(b.ctx), "a rolled back transaction does not commit")
		}},

		{"TxSeesItsWritesOthersDoNot", func(t *testing.T, b *bundle) {
			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(context.WithoutCancel(b.ctx)) }()
			task := b.newTask()
			require.NoError(t, tx.TaskInsert(b.ctx, task))
			r := b.newResolution(task)
			require.NoError(t, tx.ResolutionInsert(b.ctx, r))
			require.NoError(t, tx.StepUpsert(b.ctx, r, []*store.Step{fullStep("a", b.now)}))

			locked, err := tx.TaskLock(b.ctx, task.ID)
			require.NoError(t, err)
			require.Equal(t, r.PublicID, locked.ResolutionPublicID)
			lockedRes, err := tx.ResolutionLock(b.ctx, r.PublicID)
			require.NoError(t, err)
			require.Equal(t, task.PublicID, lockedRes.TaskPublicID)
			steps, err := tx.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Len(t, steps, 1)

			_, err = b.s.TaskGet(b.ctx, task.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound, "uncommitted task seen outside its transaction")
			_, err = b.s.ResolutionGet(b.ctx, r.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			steps, err = b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Empty(t, steps)
			listed, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.VisibleAll})
			require.NoError(t, err)
			require.Empty(t, listed)

			require.NoError(t, tx.Commit(b.ctx))
			_, err = b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
		}},

		{"TaskLockSerializesUpdates", func(t *testing.T, b *bundle) {
			task := b.newTask(func(t *store.Task) { t.StepsDone = 0 })
			b.insertTasks(t, task)
			const workers = 12
			errs := make([]error, workers)
			var wg sync.WaitGroup
			for i := range workers {
				wg.Go(func() {
					errs[i] = b.increment(func(tx store.Tx) error {
						locked, err := tx.TaskLock(b.ctx, task.ID)
						if err != nil {
							return err
						}
						locked.StepsDone++
						locked.LastActivity = b.now.Add(time.Duration(locked.StepsDone) * time.Second)
						return tx.TaskUpdate(b.ctx, locked)
					})
				})
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, workers, got.StepsDone, "no update lost")
		}},

		{"ResolutionHoldRequiresTheHolder", func(t *testing.T, b *bundle) {
			freeTask, free := b.taskWithResolution(t)
			heldTask, held := b.taskWithResolution(t, func(r *store.Resolution) {
				r.InstanceID = ptr(int64(42))
			})
			// retitle holds res for instance, then writes its task: the
			// write commits only when the hold holds.
			retitle := func(task *store.Task, res *store.Resolution, instance int64) func(tx store.Tx) error {
				return func(tx store.Tx) error {
					if err := tx.ResolutionHold(b.ctx, res.ID, instance); err != nil {
						return err
					}
					changed := *task
					changed.Title = "written"
					return tx.TaskUpdate(b.ctx, &changed)
				}
			}
			b.requireDeferredError(t, store.ErrNotHeld, retitle(freeTask, free, 42), "held by none")
			b.requireDeferredError(t, store.ErrNotHeld, retitle(heldTask, held, 7), "held by another")
			missing := *held
			missing.ID = held.ID + free.ID + 1000
			b.requireDeferredError(t, store.ErrNotFound, retitle(heldTask, &missing, 42), "no such resolution")
			for _, task := range []*store.Task{freeTask, heldTask} {
				got, err := b.s.TaskGet(b.ctx, task.PublicID)
				require.NoError(t, err)
				require.Equal(t, task.Title, got.Title, "a refused hold commits nothing")
			}

			b.inTx(t, func(tx store.Tx) { require.NoError(t, retitle(heldTask, held, 42)(tx)) })
			got, err := b.s.TaskGet(b.ctx, heldTask.PublicID)
			require.NoError(t, err)
			require.Equal(t, "written", got.Title)
		}},

		{"ResolutionHoldLocks", func(t *testing.T, b *bundle) {
			_, held := b.taskWithResolution(t, func(r *store.Resolution) {
				r.InstanceID = ptr(int64(42))
			})
			// Two transactions never hold the lock at once. The read after
			// the hold sends it, where a store defers it.
			const workers = 8
			var inside, overlaps atomic.Int32
			errs := make([]error, workers)
			var wg sync.WaitGroup
			for i := range workers {
				wg.Go(func() {
					errs[i] = b.increment(func(tx store.Tx) error {
						if err := tx.ResolutionHold(b.ctx, held.ID, 42); err != nil {
							return err
						}
						if _, err := tx.StepList(b.ctx, held.ID); err != nil {
							return err
						}
						if inside.Add(1) > 1 {
							overlaps.Add(1)
						}
						time.Sleep(2 * time.Millisecond)
						inside.Add(-1)
						return nil
					})
				})
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			require.Zero(t, overlaps.Load(), "transactions overlapped while holding the lock")
		}},

		{"ResolutionLockSerializesUpdates", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			const workers = 12
			errs := make([]error, workers)
			var wg sync.WaitGroup
			for i := range workers {
				wg.Go(func() {
					errs[i] = b.increment(func(tx store.Tx) error {
						locked, err := tx.ResolutionLock(b.ctx, r.PublicID)
						if err != nil {
							return err
						}
						locked.RunCount++
						return tx.ResolutionUpdate(b.ctx, locked)
					})
				})
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			got, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err)
			require.Equal(t, workers, got.RunCount, "no update lost")
		}},
	}
}

// increment runs fn in its own transaction and commits it, for use off the
// test goroutine.
func (b *bundle) increment(fn func(tx store.Tx) error) error {
	tx, err := b.s.Begin(b.ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(b.ctx)
		return err
	}
	return tx.Commit(b.ctx)
}
