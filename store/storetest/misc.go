package storetest

import (
	"time"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

func miscBehaviours() []behaviour {
	return []behaviour{
		{"Ping", func(t *testing.T, b *bundle) {
			require.NoError(t, b.s.Ping(b.ctx))
		}},

		{"TemplateVersionPutFindsExactVersion", func(t *testing.T, b *bundle) {
			docA := []byte(`{"name":"deploy","steps":{"a":{"action":{"type":"echo"}}}}`)
			docB := []byte(`{"name":"deploy","steps":{"b":{"action":{"type":"echo"}}}}`)

			a1, err := b.s.TemplateVersionPut(b.ctx, "deploy", docA)
			require.NoError(t, err)
			a2, err := b.s.TemplateVersionPut(b.ctx, "deploy", docA)
			require.NoError(t, err)
			require.Equal(t, a1, a2, "the same document of the same template is one version")

			bID, err := b.s.TemplateVersionPut(b.ctx, "deploy", docB)
			require.NoError(t, err)
			require.NotEqual(t, a1, bID, "another document is another version")

			other, err := b.s.TemplateVersionPut(b.ctx, "rollback", docA)
			require.NoError(t, err)
			require.NotEqual(t, a1, other, "the same document under another name is another version")
			require.NotEqual(t, bID, other)

			for id, want := range map[int64][]byte{a1: docA, bID: docB, other: docA} {
				got, err := b.s.TemplateVersionGet(b.ctx, id)
				require.NoError(t, err)
				require.Equal(t, want, got)
				b.inTx(t, func(tx store.Tx) {
					got, err := tx.TemplateVersionGet(b.ctx, id)
					require.NoError(t, err)
					require.Equal(t, want, got, "a transaction reads versions too")
				})
			}
		}},

		{"TemplateVersionGetNotFound", func(t *testing.T, b *bundle) {
			_, err := b.s.TemplateVersionGet(b.ctx, b.version+1000)
			require.ErrorIs(t, err, store.ErrNotFound)
			b.inTx(t, func(tx store.Tx) {
				_, err := tx.TemplateVersionGet(b.ctx, b.version+1000)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}},

		{"InstanceRegisterGivesDistinctIDs", func(t *testing.T, b *bundle) {
			seen := map[int64]bool{}
			for range 5 {
				id, err := b.s.InstanceRegister(b.ctx, b.now)
				require.NoError(t, err)
				require.NotZero(t, id)
				require.False(t, seen[id], "instance id %d given twice", id)
				seen[id] = true
			}
		}},

		{"InstanceRejoinMakesTheRowAgain", func(t *testing.T, b *bundle) {
			id, err := b.s.InstanceRegister(b.ctx, b.now.Add(-time.Hour))
			require.NoError(t, err)
			other, err := b.s.InstanceRegister(b.ctx, b.now)
			require.NoError(t, err)
			n, err := b.s.InstanceDeleteDead(b.ctx, other, b.now.Add(-time.Minute))
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.ErrorIs(t, b.s.InstanceHeartbeat(b.ctx, id, b.now), store.ErrNotFound)

			require.NoError(t, b.s.InstanceRejoin(b.ctx, id, b.now))
			require.NoError(t, b.s.InstanceHeartbeat(b.ctx, id, b.now), "the row is back under its id")
			require.NoError(t, b.s.InstanceRejoin(b.ctx, id, b.now), "rejoining a live row only heartbeats")
			n, err = b.s.InstanceDeleteDead(b.ctx, other, b.now.Add(-time.Minute))
			require.NoError(t, err)
			require.Zero(t, n, "the rejoined instance is alive")

			// A new instance never gets the id of one that rejoined.
			next, err := b.s.InstanceRegister(b.ctx, b.now)
			require.NoError(t, err)
			require.NotEqual(t, id, next)
			require.NotEqual(t, other, next)
		}},

		{"InstanceHeartbeatUnknownInstance", func(t *testing.T, b *bundle) {
			id, err := b.s.InstanceRegister(b.ctx, b.now)
			require.NoError(t, err)
			require.NoError(t, b.s.InstanceHeartbeat(b.ctx, id, b.now))

			err = b.s.InstanceHeartbeat(b.ctx, id+1000, b.now)
			require.ErrorIs(t, err, store.ErrNotFound)
		}},
	}
}
