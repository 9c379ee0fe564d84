package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// newAudit returns an audit entry of task ready to insert, changed by mods.
func (b *bundle) newAudit(task *store.Task, mods ...func(*store.AuditEntry)) *store.AuditEntry {
	e := &store.AuditEntry{
		PublicID:  uuid.NewString(),
		TaskID:    task.ID,
		Time:      b.now,
		Username:  "alice",
		Operation: "EditTask",
		Detail:    map[string]any{"what": "something"},
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

// insertAudit inserts audit entries in one transaction.
func (b *bundle) insertAudit(t *testing.T, es ...*store.AuditEntry) {
	t.Helper()
	b.inTx(t, func(tx store.Tx) {
		for _, e := range es {
			require.NoError(t, tx.AuditInsert(b.ctx, e))
			require.NotZero(t, e.ID)
		}
	})
}

// auditTrail lists the whole trail of a task.
func (b *bundle) auditTrail(t *testing.T, taskID int64) []*store.AuditEntry {
	t.Helper()
	es, err := b.s.AuditList(b.ctx, store.AuditFilter{TaskID: taskID})
	require.NoError(t, err)
	return es
}

// auditIDs returns the public ids of es.
func auditIDs(es []*store.AuditEntry) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.PublicID)
	}
	return out
}

func auditBehaviours() []behaviour {
	return []behaviour{
		{"AuditRoundTrip", func(t *testing.T, b *bundle) {
			task, other := b.newTask(), b.newTask()
			b.insertTasks(t, task, other)
			first := b.newAudit(task, func(e *store.AuditEntry) {
				e.Time = b.now.Add(-time.Hour + 1234*time.Nanosecond)
				e.Username = "bob"
				e.Admin = true
				e.Operation = "EditTaskResolutionStepState"
				e.ResolutionPublicID = uuid.NewString()
				e.Detail = map[string]any{"step": "s1", "old_state": "TODO", "new_state": "DONE",
					"keys": []any{"a", "b"}, "nested": map[string]any{"ok": true}}
			})
			noDetail := b.newAudit(task, func(e *store.AuditEntry) { e.Detail = nil; e.Operation = "CreateTask" })
			elsewhere := b.newAudit(other)
			b.insertAudit(t, first, noDetail, elsewhere)

			want := func(e *store.AuditEntry, taskPublicID string) *store.AuditEntry {
				c := *e
				c.TaskPublicID = taskPublicID
				c.Time = stored(c.Time)
				return &c
			}
			got := b.auditTrail(t, task.ID)
			require.Equal(t, []*store.AuditEntry{want(first, task.PublicID), want(noDetail, task.PublicID)}, got,
				"oldest inserted first, only the task's own entries, every field kept")
			require.Equal(t, []*store.AuditEntry{want(elsewhere, other.PublicID)}, b.auditTrail(t, other.ID))
		}},

		{"AuditOrderIsInsertion", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			// The trail is in insertion order even when the clock went back.
			late := b.newAudit(task, func(e *store.AuditEntry) { e.Time = b.now.Add(time.Hour) })
			early := b.newAudit(task, func(e *store.AuditEntry) { e.Time = b.now.Add(-time.Hour) })
			b.insertAudit(t, late)
			b.insertAudit(t, early)
			require.Equal(t, []string{late.PublicID, early.PublicID}, auditIDs(b.auditTrail(t, task.ID)))
		}},

		{"AuditPaging", func(t *testing.T, b *bundle) {
			task, other := b.newTask(), b.newTask()
			b.insertTasks(t, task, other)
			var es []*store.AuditEntry
			for range 5 {
				es = append(es, b.newAudit(task))
			}
			foreign := b.newAudit(other)
			b.insertAudit(t, append(es, foreign)...)
			all := auditIDs(es)

			page, err := b.s.AuditList(b.ctx, store.AuditFilter{TaskID: task.ID, Limit: 2})
			require.NoError(t, err)
			require.Equal(t, all[:2], auditIDs(page))
			page, err = b.s.AuditList(b.ctx, store.AuditFilter{TaskID: task.ID, Limit: 2, After: all[1]})
			require.NoError(t, err)
			require.Equal(t, all[2:4], auditIDs(page))
			page, err = b.s.AuditList(b.ctx, store.AuditFilter{TaskID: task.ID, Limit: 2, After: all[3]})
			require.NoError(t, err)
			require.Equal(t, all[4:], auditIDs(page))
			page, err = b.s.AuditList(b.ctx, store.AuditFilter{TaskID: task.ID, After: all[4]})
			require.NoError(t, err)
			require.Empty(t, page)

			_, err = b.s.AuditList(b.ctx, store.AuditFilter{TaskID: task.ID, After: uuid.NewString()})
			require.ErrorIs(t, err, store.ErrNotFound, "unknown cursor")
			_, err = b.s.AuditList(b.ctx, store.AuditFilter{TaskID: task.ID, After: foreign.PublicID})
			require.ErrorIs(t, err, store.ErrNotFound, "a cursor of another task's trail")
		}},

		{"AuditInsertErrors", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			taken := b.newAudit(task)
			b.insertAudit(t, taken)
			later := b.newAudit(task)
			b.inTx(t, func(tx store.Tx) {
				err := tx.AuditInsert(b.ctx, b.newAudit(task, func(e *store.AuditEntry) { e.TaskID = task.ID + 1000 }))
				require.ErrorIs(t, err, store.ErrNotFound, "missing task")
				err = tx.AuditInsert(b.ctx, b.newAudit(task, func(e *store.AuditEntry) { e.PublicID = taken.PublicID }))
				require.ErrorIs(t, err, store.ErrConflict, "public id taken")
				require.NoError(t, tx.AuditInsert(b.ctx, later), "the transaction goes on after a refused insert")
			})
			require.Equal(t, []string{taken.PublicID, later.PublicID}, auditIDs(b.auditTrail(t, task.ID)))
		}},

		{"AuditRollback", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			require.NoError(t, tx.AuditInsert(b.ctx, b.newAudit(task)))
			require.NoError(t, tx.Rollback(context.WithoutCancel(b.ctx)))
			require.Empty(t, b.auditTrail(t, task.ID))
		}},

		{"AuditGoesWithTaskNotResolution", func(t *testing.T, b *bundle) {
			task, r := b.taskWithResolution(t)
			kept, other := b.newTask(), b.newTask()
			b.insertTasks(t, kept, other)
			onResolution := b.newAudit(task, func(e *store.AuditEntry) { e.ResolutionPublicID = r.PublicID })
			b.insertAudit(t, onResolution, b.newAudit(other))

			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.ResolutionDelete(b.ctx, r.ID)) })
			require.Equal(t, []string{onResolution.PublicID}, auditIDs(b.auditTrail(t, task.ID)),
				"the trail outlives the resolution it names")

			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.TaskDelete(b.ctx, task.ID)) })
			require.Empty(t, b.auditTrail(t, task.ID), "the trail goes with its task")
			require.Len(t, b.auditTrail(t, other.ID), 1, "other tasks keep theirs")
		}},

		{"AuditDumpHasNoPlaintext", func(t *testing.T, b *bundle) {
			if b.opts.Dump == nil {
				t.Skip("the backend gives no dump")
			}
			task := b.newTask()
			b.insertTasks(t, task)
			opMarker := marker(t, "operation")
			key, value := marker(t, "detail-key"), marker(t, "detail-value")
			b.insertAudit(t, b.newAudit(task, func(e *store.AuditEntry) {
				e.Operation = opMarker
				e.Detail = map[string]any{key: []any{value}}
			}))
			dump := b.opts.Dump(t, b.s)
			require.True(t, bytes.Contains(dump, []byte(opMarker)),
				"the dump must hold what the store wrote: the operation, stored in clear, is missing")
			require.False(t, bytes.Contains(dump, []byte(key)), "a detail key is in clear in the dump")
			require.False(t, bytes.Contains(dump, []byte(value)), "a detail value is in clear in the dump")
		}},

		{"ResolutionDelete", func(t *testing.T, b *bundle) {
			task, r := b.taskWithResolution(t)
			other, kept := b.taskWithResolution(t)
			b.upsertSteps(t, r, &store.Step{Name: "a", State: "DONE"}, &store.Step{Name: "b", State: "TODO"})
			b.upsertSteps(t, kept, &store.Step{Name: "a", State: "DONE"})
			comment := b.newComment(task)
			b.insertComments(t, comment)

			// Start over: the old resolution goes and a new one comes in the
			// same transaction.
			fresh := b.newResolution(task)
			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.ResolutionDelete(b.ctx, r.ID))
				require.NoError(t, tx.ResolutionInsert(b.ctx, fresh))
			})

			_, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			steps, err := b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Empty(t, steps, "the steps go with their resolution")

			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, fresh.PublicID, got.ResolutionPublicID, "the task stays and sees its new resolution")
			cs, err := b.s.CommentList(b.ctx, task.ID)
			require.NoError(t, err)
			require.Len(t, cs, 1, "the task's comments stay")

			steps, err = b.s.StepList(b.ctx, kept.ID)
			require.NoError(t, err)
			require.Len(t, steps, 1, "another resolution keeps its steps")
			_, err = b.s.ResolutionGet(b.ctx, kept.PublicID)
			require.NoError(t, err)
			_, err = b.s.TaskGet(b.ctx, other.PublicID)
			require.NoError(t, err)

			b.inTx(t, func(tx store.Tx) {
				require.ErrorIs(t, tx.ResolutionDelete(b.ctx, r.ID), store.ErrNotFound, "already deleted")
			})
		}},

		{"ResolutionDeleteRollback", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			require.NoError(t, tx.ResolutionDelete(b.ctx, r.ID))
			require.NoError(t, tx.Rollback(context.WithoutCancel(b.ctx)))
			_, err = b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err, "a rolled back delete leaves the resolution")
		}},
	}
}
