package storetest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// create runs TaskCreate for task, r (may be nil) and e in a transaction
// of its own and commits it.
func (b *bundle) create(t *testing.T, task *store.Task, r *store.Resolution, e *store.AuditEntry) {
	t.Helper()
	b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.TaskCreate(b.ctx, task, r, e)) })
}

func createBehaviours() []behaviour {
	return []behaviour{
		{"TaskCreateStoresTheThree", func(t *testing.T, b *bundle) {
			task := b.fullTask()
			r := b.newResolution(task, func(r *store.Resolution) {
				r.State = "RUNNING"
				r.InstanceID = ptr(int64(3))
				r.ResolverInput = richInput()
			})
			e := b.newAudit(task, func(e *store.AuditEntry) {
				e.Operation = "CreateTask"
				e.ResolutionPublicID = r.PublicID
			})
			wantTask, wantRes := *task, *r
			b.create(t, task, r, e)

			require.NotZero(t, task.ID, "the IDs are set by Commit at the latest")
			require.NotZero(t, r.ID)
			require.NotZero(t, e.ID)
			require.Equal(t, task.ID, r.TaskID)
			require.Equal(t, task.ID, e.TaskID)

			gotTask, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			wantTask.ID, wantTask.ResolutionPublicID = task.ID, r.PublicID
			wantTask.ResolverUsername = r.ResolverUsername
			wantTask.Created, wantTask.LastActivity = stored(task.Created), stored(task.LastActivity)
			require.Equal(t, &wantTask, gotTask)

			gotRes, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err)
			wantRes.ID, wantRes.TaskID, wantRes.TaskPublicID = r.ID, task.ID, task.PublicID
			wantRes.Created = stored(r.Created)
			require.Equal(t, &wantRes, gotRes)

			trail := b.auditTrail(t, task.ID)
			require.Len(t, trail, 1)
			require.Equal(t, e.PublicID, trail[0].PublicID)
			require.Equal(t, e.ID, trail[0].ID)
			require.Equal(t, r.PublicID, trail[0].ResolutionPublicID)
			require.Equal(t, e.Detail, trail[0].Detail)
		}},

		{"TaskCreateWithoutResolutionInABatch", func(t *testing.T, b *bundle) {
			batch := b.insertBatch(t)
			task := b.newTask(func(t *store.Task) { t.Batch = batch.PublicID })
			e := b.newAudit(task)
			b.create(t, task, nil, e)

			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, batch.PublicID, got.Batch)
			require.Empty(t, got.ResolutionPublicID)
			require.Len(t, b.auditTrail(t, task.ID), 1)
		}},

		{"TaskCreateSeveralInOneTransaction", func(t *testing.T, b *bundle) {
			tasks := []*store.Task{b.newTask(), b.newTask(), b.newTask()}
			b.inTx(t, func(tx store.Tx) {
				for _, task := range tasks {
					r := b.newResolution(task)
					require.NoError(t, tx.TaskCreate(b.ctx, task, r, b.newAudit(task)))
				}
			})
			seen := map[int64]bool{}
			for _, task := range tasks {
				got, err := b.s.TaskGet(b.ctx, task.PublicID)
				require.NoError(t, err)
				require.Equal(t, task.ID, got.ID)
				require.NotEmpty(t, got.ResolutionPublicID)
				seen[task.ID] = true
			}
			require.Len(t, seen, len(tasks), "each task has its own id")
		}},

		{"DeferredWritesTakeTheirValuesAtTheCall", func(t *testing.T, b *bundle) {
			// A store may send a deferred write later: what the caller
			// changes after the call must not reach it.
			first, second := b.insertBatch(t), b.insertBatch(t)
			task := b.newTask(func(t *store.Task) {
				t.Batch = first.PublicID
				t.Tags = map[string]string{"k": "v"}
			})
			r := b.newResolution(task)
			e := b.newAudit(task)
			_, updated := b.taskWithResolution(t)
			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.TaskCreate(b.ctx, task, r, e))
				task.Batch, task.Title, task.Tags["k"] = second.PublicID, "changed", "changed"
				r.State, e.Operation = "CHANGED", "Changed"
				changed := *updated
				changed.RunCount = 3
				require.NoError(t, tx.ResolutionUpdate(b.ctx, &changed))
				changed.RunCount = 4
			})
			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, first.PublicID, got.Batch)
			require.Equal(t, "a task", got.Title)
			require.Equal(t, map[string]string{"k": "v"}, got.Tags)
			gotRes, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err)
			require.Equal(t, "TODO", gotRes.State)
			require.Equal(t, "EditTask", b.auditTrail(t, got.ID)[0].Operation)
			gotUpdated, err := b.s.ResolutionGet(b.ctx, updated.PublicID)
			require.NoError(t, err)
			require.Equal(t, 3, gotUpdated.RunCount)
		}},

		{"TaskCreateRefusalsCommitNothing", func(t *testing.T, b *bundle) {
			takenTask, takenRes := b.taskWithResolution(t)
			takenAudit := b.newAudit(takenTask)
			b.insertAudit(t, takenAudit)

			cases := []struct {
				name     string
				sentinel error
				mod      func(task *store.Task, r *store.Resolution, e *store.AuditEntry)
			}{
				{"unknown template version", store.ErrNotFound, func(task *store.Task, _ *store.Resolution,
					_ *store.AuditEntry,
				) {
					task.TemplateVersion += 1000
				}},
				{"unknown batch", store.ErrNotFound, func(task *store.Task, _ *store.Resolution, _ *store.AuditEntry) {
					task.Batch = uuid.NewString()
				}},
				{"taken task public id", store.ErrConflict, func(task *store.Task, _ *store.Resolution,
					_ *store.AuditEntry,
				) {
					task.PublicID = takenTask.PublicID
				}},
				{"taken resolution public id", store.ErrConflict, func(_ *store.Task, r *store.Resolution,
					_ *store.AuditEntry,
				) {
					r.PublicID = takenRes.PublicID
				}},
				{"taken audit public id", store.ErrConflict, func(_ *store.Task, _ *store.Resolution,
					e *store.AuditEntry,
				) {
					e.PublicID = takenAudit.PublicID
				}},
			}
			for _, c := range cases {
				before := b.newTask()
				task := b.newTask()
				r := b.newResolution(task)
				e := b.newAudit(task)
				c.mod(task, r, e)
				b.requireDeferredError(t, c.sentinel, func(tx store.Tx) error {
					// A write before the refused creation goes too.
					if err := tx.TaskInsert(b.ctx, before); err != nil {
						return err
					}
					return tx.TaskCreate(b.ctx, task, r, e)
				}, c.name)
				for _, id := range []string{before.PublicID, task.PublicID} {
					if id == takenTask.PublicID {
						continue
					}
					_, err := b.s.TaskGet(b.ctx, id)
					require.ErrorIs(t, err, store.ErrNotFound, "%s: a task of the transaction was stored", c.name)
				}
			}
			got, err := b.s.ResolutionGet(b.ctx, takenRes.PublicID)
			require.NoError(t, err)
			require.Equal(t, takenTask.ID, got.TaskID, "the taken resolution is unchanged")
			require.Len(t, b.auditTrail(t, takenTask.ID), 1, "the taken audit entry is alone")
		}},
	}
}
