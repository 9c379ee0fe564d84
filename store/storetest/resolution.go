package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

func resolutionBehaviours() []behaviour {
	return []behaviour{
		{"ResolutionRoundTrip", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			r := b.newResolution(task, func(r *store.Resolution) {
				r.ResolverUsername = "zoe"
				r.State = "RUNNING"
				r.InstanceID = ptr(int64(42))
				r.Created = b.now.Add(-time.Hour)
				r.LastStart = ptr(b.now.Add(-30 * time.Minute))
				r.LastStop = ptr(b.now.Add(-20 * time.Minute))
				r.NextRetry = ptr(b.now.Add(time.Hour))
				r.RunCount = 3
				r.RunMax = 100
				r.ResolverInput = richInput()
			})
			b.insertResolutions(t, r)
			want := *r
			want.TaskPublicID = task.PublicID

			got, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err)
			require.Equal(t, &want, got)
			b.inTx(t, func(tx store.Tx) {
				locked, err := tx.ResolutionLock(b.ctx, r.PublicID)
				require.NoError(t, err)
				require.Equal(t, &want, locked)
			})
		}},

		{"ResolutionNilAndEmptyStayApart", func(t *testing.T, b *bundle) {
			_, null := b.taskWithResolution(t)
			_, empty := b.taskWithResolution(t, func(r *store.Resolution) {
				r.ResolverInput = map[string]any{}
				r.ResolverUsername = ""
				r.InstanceID = ptr(int64(0))
			})
			for _, r := range []*store.Resolution{null, empty} {
				got, err := b.s.ResolutionGet(b.ctx, r.PublicID)
				require.NoError(t, err)
				require.Equal(t, r.ResolverInput, got.ResolverInput)
				require.Equal(t, r.InstanceID, got.InstanceID)
				require.Nil(t, got.LastStart)
				require.Nil(t, got.LastStop)
				require.Nil(t, got.NextRetry)
			}
		}},

		{"ResolutionTimesAreUTCMicroseconds", func(t *testing.T, b *bundle) {
			zone := time.FixedZone("UTC-07:00", -7*3600)
			at := time.Date(2026, 5, 6, 7, 8, 9, 987654321, zone)
			_, r := b.taskWithResolution(t, func(r *store.Resolution) {
				r.Created = at
				r.LastStart = ptr(at.Add(time.Nanosecond))
				r.LastStop = ptr(at.Add(2 * time.Nanosecond))
				r.NextRetry = ptr(at.Add(time.Second))
			})
			got, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err)
			require.Equal(t, time.Date(2026, 5, 6, 14, 8, 9, 987654000, time.UTC), got.Created)
			for _, pair := range [][2]*time.Time{
				{&got.Created, &r.Created}, {got.LastStart, r.LastStart}, {got.LastStop, r.LastStop}, {got.NextRetry, r.NextRetry},
			} {
				require.Equal(t, stored(*pair[1]), *pair[0])
				require.Equal(t, time.UTC, pair[0].Location())
			}
		}},

		{"ResolutionInsertConflicts", func(t *testing.T, b *bundle) {
			task, first := b.taskWithResolution(t)
			other := b.newTask()
			b.insertTasks(t, other)

			for name, r := range map[string]*store.Resolution{
				"SecondForTask":     b.newResolution(task),
				"DuplicatePublicID": b.newResolution(other, func(r *store.Resolution) { r.PublicID = first.PublicID }),
			} {
				tx, err := b.s.Begin(b.ctx)
				require.NoError(t, err)
				err = tx.ResolutionInsert(b.ctx, r)
				require.ErrorIs(t, err, store.ErrConflict, name)
				require.NoError(t, tx.Rollback(b.ctx))
			}
			// The task without a resolution still takes one.
			b.insertResolutions(t, b.newResolution(other))
		}},

		{"ResolutionInsertUnknownTask", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			defer func() { require.NoError(t, tx.Rollback(b.ctx)) }()
			err = tx.ResolutionInsert(b.ctx, b.newResolution(task, func(r *store.Resolution) { r.TaskID = task.ID + 1000 }))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},

		{"ResolutionUpdateWritesMutableFields", func(t *testing.T, b *bundle) {
			task, r := b.taskWithResolution(t, func(r *store.Resolution) {
				r.ResolverInput = map[string]any{"a": json.Number("1")}
				r.LastStart = ptr(b.now)
			})
			other := b.newTask()
			b.insertTasks(t, other)

			changed := *r
			changed.ResolverUsername = "yann"
			changed.State = "WAITING"
			changed.InstanceID = ptr(int64(7))
			changed.LastStart = nil
			changed.LastStop = ptr(b.now.Add(time.Minute))
			changed.NextRetry = ptr(b.now.Add(time.Hour))
			changed.RunCount = 4
			changed.RunMax = 15
			changed.ResolverInput = nil
			// Not mutable: the update must leave these as inserted.
			changed.TaskID = other.ID
			changed.Created = b.now.Add(time.Hour)
			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.ResolutionUpdate(b.ctx, &changed))
			})

			want := changed
			want.TaskID = r.TaskID
			want.Created = r.Created
			want.TaskPublicID = task.PublicID
			got, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err)
			require.Equal(t, &want, got)
		}},

		{"ResolutionUpdateKeepsAHigherRunMax", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t, func(r *store.Resolution) { r.RunMax = 10 })
			// A cycle read 10, a step raised it to 12 since, and the
			// cycle writes its copy: the raise stays.
			b.inTx(t, func(tx store.Tx) {
				raised := *r
				raised.RunMax = 12
				require.NoError(t, tx.ResolutionUpdate(b.ctx, &raised))
			})
			stale := *r
			stale.RunCount = 3
			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.ResolutionUpdate(b.ctx, &stale)) })
			got, err := b.s.ResolutionGet(b.ctx, r.PublicID)
			require.NoError(t, err)
			require.Equal(t, 12, got.RunMax)
			require.Equal(t, 3, got.RunCount, "the rest is written")
		}},

		{"ResolutionUpdateNotFound", func(t *testing.T, b *bundle) {
			_, r := b.taskWithResolution(t)
			_, other := b.taskWithResolution(t)
			missing := *r
			missing.ID = r.ID + 1000
			missing.RunCount = 7
			b.requireDeferredNotFound(t, func(tx store.Tx) error { return tx.ResolutionUpdate(b.ctx, &missing) })

			crossed := *r
			crossed.PublicID = other.PublicID
			crossed.RunCount = 7
			b.requireDeferredNotFound(t, func(tx store.Tx) error { return tx.ResolutionUpdate(b.ctx, &crossed) })

			for _, res := range []*store.Resolution{r, other} {
				got, err := b.s.ResolutionGet(b.ctx, res.PublicID)
				require.NoError(t, err)
				require.Equal(t, res.RunCount, got.RunCount, "nothing written")
			}
		}},

		{"ResolutionGetAndLockNotFound", func(t *testing.T, b *bundle) {
			b.taskWithResolution(t)
			id := uuid.NewString()
			_, err := b.s.ResolutionGet(b.ctx, id)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorContains(t, err, id)
			b.inTx(t, func(tx store.Tx) {
				_, err := tx.ResolutionLock(b.ctx, id)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}},
	}
}
