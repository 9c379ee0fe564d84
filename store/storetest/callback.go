package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// newCallback returns a callback of task and r ready to insert, changed by
// mods.
func (b *bundle) newCallback(task *store.Task, r *store.Resolution, mods ...func(*store.Callback)) *store.Callback {
	c := &store.Callback{
		PublicID:         uuid.NewString(),
		TaskID:           task.ID,
		ResolutionID:     r.ID,
		Created:          b.now,
		Updated:          b.now,
		ResolverUsername: "requester",
		Secret:           uuid.NewString(),
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

// insertCallbacks inserts callbacks in one transaction.
func (b *bundle) insertCallbacks(t *testing.T, cs ...*store.Callback) {
	t.Helper()
	b.inTx(t, func(tx store.Tx) {
		for _, c := range cs {
			require.NoError(t, tx.CallbackInsert(b.ctx, c))
			require.NotZero(t, c.ID)
		}
	})
}

func callbackBehaviours() []behaviour {
	return []behaviour{
		{"CallbackRoundTrip", func(t *testing.T, b *bundle) {
			task, r := b.taskWithResolution(t)
			c := b.newCallback(task, r, func(c *store.Callback) {
				c.Created = b.now.Add(-time.Minute + 1234*time.Nanosecond)
				c.Updated = b.now.Add(567 * time.Nanosecond)
				c.Schema = []byte(`{"type":"object"}`)
			})
			bare := b.newCallback(task, r)
			b.insertCallbacks(t, c, bare)

			want := *c
			want.TaskPublicID, want.ResolutionPublicID = task.PublicID, r.PublicID
			want.Created, want.Updated = stored(c.Created), stored(c.Updated)
			got, err := b.s.CallbackGet(b.ctx, c.PublicID)
			require.NoError(t, err)
			require.Equal(t, &want, got)

			gotBare, err := b.s.CallbackGet(b.ctx, bare.PublicID)
			require.NoError(t, err)
			require.Nil(t, gotBare.Schema)
			require.Nil(t, gotBare.Body)
			require.Nil(t, gotBare.Called)

			// Called: the call time and the body are written, nothing else.
			called := b.now.Add(time.Hour + 89*time.Nanosecond)
			b.inTx(t, func(tx store.Tx) {
				locked, err := tx.CallbackLock(b.ctx, c.PublicID)
				require.NoError(t, err)
				require.Equal(t, &want, locked)
				locked.Called, locked.Updated, locked.Body = &called, called, []byte(`{"approved":true}`)
				locked.Secret, locked.Schema = "changed", nil
				require.NoError(t, tx.CallbackUpdate(b.ctx, locked))
			})
			want.Called, want.Updated, want.Body = storedPtr(&called), stored(called), []byte(`{"approved":true}`)
			got, err = b.s.CallbackGet(b.ctx, c.PublicID)
			require.NoError(t, err)
			require.Equal(t, &want, got)

			// A call without a body stores JSON null.
			b.inTx(t, func(tx store.Tx) {
				locked, err := tx.CallbackLock(b.ctx, bare.PublicID)
				require.NoError(t, err)
				locked.Called, locked.Body = &called, []byte(`null`)
				require.NoError(t, tx.CallbackUpdate(b.ctx, locked))
			})
			gotBare, err = b.s.CallbackGet(b.ctx, bare.PublicID)
			require.NoError(t, err)
			require.Equal(t, []byte(`null`), gotBare.Body)
		}},

		{"CallbackMissingRows", func(t *testing.T, b *bundle) {
			task, r := b.taskWithResolution(t)
			c := b.newCallback(task, r)
			b.insertCallbacks(t, c)

			_, err := b.s.CallbackGet(b.ctx, uuid.NewString())
			require.ErrorIs(t, err, store.ErrNotFound)

			b.inTx(t, func(tx store.Tx) {
				_, err := tx.CallbackLock(b.ctx, uuid.NewString())
				require.ErrorIs(t, err, store.ErrNotFound)

				err = tx.CallbackInsert(b.ctx, b.newCallback(task, r, func(x *store.Callback) { x.PublicID = c.PublicID }))
				require.ErrorIs(t, err, store.ErrConflict)
				err = tx.CallbackInsert(b.ctx, b.newCallback(&store.Task{ID: task.ID + 1000}, r))
				require.ErrorIs(t, err, store.ErrNotFound)
				err = tx.CallbackInsert(b.ctx, b.newCallback(task, &store.Resolution{ID: r.ID + 1000}))
				require.ErrorIs(t, err, store.ErrNotFound)

				wrong := *c
				wrong.PublicID = uuid.NewString()
				require.ErrorIs(t, tx.CallbackUpdate(b.ctx, &wrong), store.ErrNotFound,
					"a callback is found by id and public id together")

				// The transaction is still usable.
				require.NoError(t, tx.CallbackInsert(b.ctx, b.newCallback(task, r)))
			})
		}},

		{"CallbackGoesWithItsTask", func(t *testing.T, b *bundle) {
			task, r := b.taskWithResolution(t)
			keep, keepRes := b.taskWithResolution(t)
			c, kept := b.newCallback(task, r), b.newCallback(keep, keepRes)
			b.insertCallbacks(t, c, kept)

			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.TaskDelete(b.ctx, task.ID)) })
			_, err := b.s.CallbackGet(b.ctx, c.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = b.s.CallbackGet(b.ctx, kept.PublicID)
			require.NoError(t, err)
		}},

		{"CallbackSealed", func(t *testing.T, b *bundle) {
			if b.opts.Dump == nil {
				t.Skip("the backend gives no dump")
			}
			task, r := b.taskWithResolution(t)
			secret, schema, body := marker(t, "secret"), marker(t, "schema"), marker(t, "body")
			c := b.newCallback(task, r, func(c *store.Callback) {
				c.Secret = secret
				c.Schema = []byte(`{"description":"` + schema + `"}`)
			})
			b.insertCallbacks(t, c)
			b.inTx(t, func(tx store.Tx) {
				now := b.now
				c.Called, c.Body = &now, []byte(`{"v":"`+body+`"}`)
				require.NoError(t, tx.CallbackUpdate(b.ctx, c))
			})
			dump := b.opts.Dump(t, b.s)
			require.True(t, bytes.Contains(dump, []byte(c.PublicID)), "the dump holds the public id, in clear")
			for what, s := range map[string]string{"secret": secret, "schema": schema, "body": body} {
				require.False(t, bytes.Contains(dump, []byte(s)), "%s found in clear in the dump", what)
			}
		}},
	}
}
