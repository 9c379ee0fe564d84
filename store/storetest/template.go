package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

func templateBehaviours() []behaviour {
	return []behaviour{
		{"TemplatesInUseEmpty", func(t *testing.T, b *bundle) {
			got, err := b.s.TemplatesInUse(b.ctx)
			require.NoError(t, err)
			require.Empty(t, got, "a version no task uses is not in use")
		}},

		{"TemplatesInUseNamesNewestVersion", func(t *testing.T, b *bundle) {
			deploy1, err := b.s.TemplateVersionPut(b.ctx, "deploy", []byte(`{"name":"deploy","v":1}`))
			require.NoError(t, err)
			deploy2, err := b.s.TemplateVersionPut(b.ctx, "deploy", []byte(`{"name":"deploy","v":2}`))
			require.NoError(t, err)
			rollback, err := b.s.TemplateVersionPut(b.ctx, "rollback", []byte(`{"name":"rollback"}`))
			require.NoError(t, err)
			_, err = b.s.TemplateVersionPut(b.ctx, "unused", []byte(`{"name":"unused"}`))
			require.NoError(t, err)

			// Tasks of the first version of deploy only: the second
			// version is still the one named, as the newest recorded.
			old := b.newTask(func(t *store.Task) { t.TemplateName, t.TemplateVersion = "deploy", deploy1 })
			alsoOld := b.newTask(func(t *store.Task) { t.TemplateName, t.TemplateVersion = "deploy", deploy1 })
			rb := b.newTask(func(t *store.Task) { t.TemplateName, t.TemplateVersion = "rollback", rollback })
			b.insertTasks(t, old, alsoOld, rb)

			got, err := b.s.TemplatesInUse(b.ctx)
			require.NoError(t, err)
			require.Equal(t, map[string]int64{"deploy": deploy2, "rollback": rollback}, got)
		}},

		{"TemplatesInUseForgetsDeletedTasks", func(t *testing.T, b *bundle) {
			v, err := b.s.TemplateVersionPut(b.ctx, "deploy", []byte(`{"name":"deploy"}`))
			require.NoError(t, err)
			first := b.newTask(func(t *store.Task) { t.TemplateName, t.TemplateVersion = "deploy", v })
			second := b.newTask(func(t *store.Task) { t.TemplateName, t.TemplateVersion = "deploy", v })
			b.insertTasks(t, first, second)

			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.TaskDelete(b.ctx, first.ID)) })
			got, err := b.s.TemplatesInUse(b.ctx)
			require.NoError(t, err)
			require.Equal(t, map[string]int64{"deploy": v}, got, "one task still uses it")

			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.TaskDelete(b.ctx, second.ID)) })
			got, err = b.s.TemplatesInUse(b.ctx)
			require.NoError(t, err)
			require.Empty(t, got)
		}},
	}
}
