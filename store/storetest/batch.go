package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// insertBatch inserts a new batch and returns it.
func (b *bundle) insertBatch(t *testing.T) *store.Batch {
	t.Helper()
	batch := &store.Batch{PublicID: uuid.NewString()}
	b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.BatchInsert(b.ctx, batch)) })
	require.NotZero(t, batch.ID)
	return batch
}

func batchBehaviours() []behaviour {
	return []behaviour{
		{"BatchInsertGet", func(t *testing.T, b *bundle) {
			batch := b.insertBatch(t)
			got, err := b.s.BatchGet(b.ctx, batch.PublicID)
			require.NoError(t, err)
			require.Equal(t, batch, got)

			_, err = b.s.BatchGet(b.ctx, uuid.NewString())
			require.ErrorIs(t, err, store.ErrNotFound)

			// A taken public id is a conflict that leaves the transaction
			// usable.
			b.inTx(t, func(tx store.Tx) {
				err := tx.BatchInsert(b.ctx, &store.Batch{PublicID: batch.PublicID})
				require.ErrorIs(t, err, store.ErrConflict)
				require.NoError(t, tx.BatchInsert(b.ctx, &store.Batch{PublicID: uuid.NewString()}))
			})
		}},

		{"TaskKeepsItsBatch", func(t *testing.T, b *bundle) {
			batch := b.insertBatch(t)
			in := b.newTask(func(t *store.Task) { t.Batch = batch.PublicID })
			out := b.newTask()
			b.insertTasks(t, in, out)

			got, err := b.s.TaskGet(b.ctx, in.PublicID)
			require.NoError(t, err)
			require.Equal(t, batch.PublicID, got.Batch)
			got, err = b.s.TaskGet(b.ctx, out.PublicID)
			require.NoError(t, err)
			require.Empty(t, got.Batch)

			// An update keeps it.
			b.inTx(t, func(tx store.Tx) {
				locked, err := tx.TaskLock(b.ctx, in.ID)
				require.NoError(t, err)
				require.Equal(t, batch.PublicID, locked.Batch)
				locked.State = "RUNNING"
				locked.Batch = ""
				require.NoError(t, tx.TaskUpdate(b.ctx, locked))
			})
			got, err = b.s.TaskGet(b.ctx, in.PublicID)
			require.NoError(t, err)
			require.Equal(t, batch.PublicID, got.Batch)
			require.Equal(t, "RUNNING", got.State)
		}},

		{"TaskInUnknownBatch", func(t *testing.T, b *bundle) {
			b.inTx(t, func(tx store.Tx) {
				err := tx.TaskInsert(b.ctx, b.newTask(func(t *store.Task) { t.Batch = uuid.NewString() }))
				require.ErrorIs(t, err, store.ErrNotFound)
				// The transaction goes on.
				require.NoError(t, tx.TaskInsert(b.ctx, b.newTask()))
			})
			tasks, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.VisibleAll})
			require.NoError(t, err)
			require.Len(t, tasks, 1)
		}},

		{"TaskListByBatch", func(t *testing.T, b *bundle) {
			batch, other := b.insertBatch(t), b.insertBatch(t)
			var want []string
			var tasks []*store.Task
			for i := range 4 {
				task := b.newTask(func(t *store.Task) {
					t.Batch = batch.PublicID
					t.LastActivity = b.now.Add(time.Duration(i) * time.Second)
					t.RequesterUsername = []string{"alice", "bob"}[i%2]
				})
				tasks = append(tasks, task)
				want = append([]string{task.PublicID}, want...)
			}
			tasks = append(tasks,
				b.newTask(func(t *store.Task) { t.Batch = other.PublicID; t.RequesterUsername = "alice" }),
				b.newTask(func(t *store.Task) { t.RequesterUsername = "alice" }))
			b.insertTasks(t, tasks...)

			ids := func(f store.TaskFilter) []string {
				t.Helper()
				listed, err := b.s.TaskList(b.ctx, f)
				require.NoError(t, err)
				out := make([]string, 0, len(listed))
				for _, task := range listed {
					require.Equal(t, f.Batch, task.Batch)
					out = append(out, task.PublicID)
				}
				return out
			}
			require.Equal(t, want, ids(store.TaskFilter{Visibility: store.VisibleAll, Batch: batch.PublicID}))
			require.Equal(t, []string{want[1], want[3]},
				ids(store.TaskFilter{Visibility: store.VisibleOwn, Username: "alice", Batch: batch.PublicID}),
				"the batch filter combines with visibility")
			require.Equal(t, want[:2], ids(store.TaskFilter{Visibility: store.VisibleAll, Batch: batch.PublicID, Limit: 2}))
			require.Empty(t, ids(store.TaskFilter{Visibility: store.VisibleAll, Batch: uuid.NewString()}))
		}},

		{"BatchCountRunning", func(t *testing.T, b *bundle) {
			batch, empty := b.insertBatch(t), b.insertBatch(t)
			var tasks []*store.Task
			for _, st := range []string{"DONE", "CANCELLED", "WONTFIX", "TODO", "RUNNING", "BLOCKED", "WAITING", "DELAYED"} {
				tasks = append(tasks, b.newTask(func(t *store.Task) { t.Batch = batch.PublicID; t.State = st }))
			}
			tasks = append(tasks, b.newTask(func(t *store.Task) { t.State = "TODO" }))
			b.insertTasks(t, tasks...)

			n, err := b.s.BatchCountRunning(b.ctx, batch.PublicID)
			require.NoError(t, err)
			require.Equal(t, 5, n, "every state but DONE, CANCELLED and WONTFIX is running")

			n, err = b.s.BatchCountRunning(b.ctx, empty.PublicID)
			require.NoError(t, err)
			require.Zero(t, n)

			_, err = b.s.BatchCountRunning(b.ctx, uuid.NewString())
			require.ErrorIs(t, err, store.ErrNotFound)
		}},

		{"BatchGoesWithItsLastTask", func(t *testing.T, b *bundle) {
			old := b.now.Add(-48 * time.Hour)
			finished, mixed, empty := b.insertBatch(t), b.insertBatch(t), b.insertBatch(t)
			b.insertTasks(t,
				b.newTask(func(t *store.Task) { t.Batch = finished.PublicID; t.State = "DONE"; t.LastActivity = old }),
				b.newTask(func(t *store.Task) { t.Batch = finished.PublicID; t.State = "CANCELLED"; t.LastActivity = old }),
				b.newTask(func(t *store.Task) { t.Batch = mixed.PublicID; t.State = "DONE"; t.LastActivity = old }),
				b.newTask(func(t *store.Task) { t.Batch = mixed.PublicID; t.State = "BLOCKED"; t.LastActivity = old }),
			)

			n, err := b.s.TaskDeleteFinished(b.ctx, b.now.Add(-time.Hour))
			require.NoError(t, err)
			require.Equal(t, 3, n)

			for _, gone := range []*store.Batch{finished, empty} {
				_, err := b.s.BatchGet(b.ctx, gone.PublicID)
				require.ErrorIs(t, err, store.ErrNotFound, "a batch without tasks is removed")
			}
			_, err = b.s.BatchGet(b.ctx, mixed.PublicID)
			require.NoError(t, err, "a batch with a task left stays")
			running, err := b.s.BatchCountRunning(b.ctx, mixed.PublicID)
			require.NoError(t, err)
			require.Equal(t, 1, running)

			// A batch can be made again under the same public id.
			again := &store.Batch{PublicID: finished.PublicID}
			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.BatchInsert(b.ctx, again)) })
		}},
	}
}
