package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// newComment returns a comment of task ready to insert, changed by mods.
func (b *bundle) newComment(task *store.Task, mods ...func(*store.Comment)) *store.Comment {
	c := &store.Comment{
		PublicID: uuid.NewString(),
		TaskID:   task.ID,
		Username: "alice",
		Created:  b.now,
		Updated:  b.now,
		Content:  "a comment",
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

// insertComments inserts comments in one transaction.
func (b *bundle) insertComments(t *testing.T, cs ...*store.Comment) {
	t.Helper()
	b.inTx(t, func(tx store.Tx) {
		for _, c := range cs {
			require.NoError(t, tx.CommentInsert(b.ctx, c))
			require.NotZero(t, c.ID)
		}
	})
}

func commentBehaviours() []behaviour {
	return []behaviour{
		{"CommentRoundTrip", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			c := b.newComment(task, func(c *store.Comment) {
				c.Username = "bob"
				c.Created = b.now.Add(-time.Minute + 1234*time.Nanosecond)
				c.Updated = b.now.Add(567 * time.Nanosecond)
				c.Content = "<b>html</b> & \"quotes\" \u00e9\u2713\nsecond line"
			})
			want := *c
			b.insertComments(t, c)
			want.ID = c.ID
			want.TaskPublicID = task.PublicID
			want.Created = stored(want.Created)
			want.Updated = stored(want.Updated)

			got, err := b.s.CommentGet(b.ctx, c.PublicID)
			require.NoError(t, err)
			require.Equal(t, &want, got)

			listed, err := b.s.CommentList(b.ctx, task.ID)
			require.NoError(t, err)
			require.Equal(t, []*store.Comment{&want}, listed)

			b.inTx(t, func(tx store.Tx) {
				got, err := tx.CommentGet(b.ctx, c.PublicID)
				require.NoError(t, err)
				require.Equal(t, &want, got)
				listed, err := tx.CommentList(b.ctx, task.ID)
				require.NoError(t, err)
				require.Equal(t, []*store.Comment{&want}, listed)
			})
		}},

		{"CommentListOrderAndScope", func(t *testing.T, b *bundle) {
			task, other := b.newTask(), b.newTask()
			b.insertTasks(t, task, other)
			late := b.newComment(task, func(c *store.Comment) { c.Created = b.now.Add(time.Hour); c.Content = "late" })
			tieA := b.newComment(task, func(c *store.Comment) { c.Content = "tie a" })
			tieB := b.newComment(task, func(c *store.Comment) { c.Content = "tie b" })
			early := b.newComment(task, func(c *store.Comment) { c.Created = b.now.Add(-time.Hour); c.Content = "early" })
			foreign := b.newComment(other, func(c *store.Comment) { c.Content = "other task" })
			b.insertComments(t, late, tieA, tieB, early, foreign)

			listed, err := b.s.CommentList(b.ctx, task.ID)
			require.NoError(t, err)
			var ids []string
			for _, c := range listed {
				ids = append(ids, c.PublicID)
			}
			require.Equal(t, []string{early.PublicID, tieA.PublicID, tieB.PublicID, late.PublicID}, ids,
				"by created, then in insertion order")

			none := b.newTask()
			b.insertTasks(t, none)
			listed, err = b.s.CommentList(b.ctx, none.ID)
			require.NoError(t, err)
			require.Empty(t, listed)
		}},

		{"CommentInsertRules", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			c := b.newComment(task)
			b.insertComments(t, c)

			b.inTx(t, func(tx store.Tx) {
				again := b.newComment(task, func(n *store.Comment) { n.PublicID = c.PublicID })
				require.ErrorIs(t, tx.CommentInsert(b.ctx, again), store.ErrConflict)
				orphan := b.newComment(task, func(n *store.Comment) { n.TaskID = task.ID + 1000 })
				require.ErrorIs(t, tx.CommentInsert(b.ctx, orphan), store.ErrNotFound)
				// The transaction is still usable after both refusals.
				require.NoError(t, tx.CommentInsert(b.ctx, b.newComment(task)))
			})
			listed, err := b.s.CommentList(b.ctx, task.ID)
			require.NoError(t, err)
			require.Len(t, listed, 2)
		}},

		{"CommentGetNotFound", func(t *testing.T, b *bundle) {
			_, err := b.s.CommentGet(b.ctx, uuid.NewString())
			require.ErrorIs(t, err, store.ErrNotFound)
		}},

		{"CommentUpdate", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			c, kept := b.newComment(task), b.newComment(task, func(c *store.Comment) { c.Content = "kept" })
			b.insertComments(t, c, kept)

			changed := *c
			changed.Content = "changed content"
			changed.Updated = b.now.Add(time.Hour)
			changed.Username = "mallory"                 // not a mutable field
			changed.Created = b.now.Add(-24 * time.Hour) // nor this
			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.CommentUpdate(b.ctx, &changed))
			})
			got, err := b.s.CommentGet(b.ctx, c.PublicID)
			require.NoError(t, err)
			require.Equal(t, "changed content", got.Content)
			require.Equal(t, stored(b.now.Add(time.Hour)), got.Updated)
			require.Equal(t, c.Username, got.Username)
			require.Equal(t, stored(c.Created), got.Created)
			other, err := b.s.CommentGet(b.ctx, kept.PublicID)
			require.NoError(t, err)
			require.Equal(t, "kept", other.Content)

			b.inTx(t, func(tx store.Tx) {
				wrongRow := changed
				wrongRow.ID = kept.ID
				require.ErrorIs(t, tx.CommentUpdate(b.ctx, &wrongRow), store.ErrNotFound,
					"a comment is found by id and public id together")
			})
		}},

		{"CommentDelete", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			gone, kept := b.newComment(task), b.newComment(task)
			b.insertComments(t, gone, kept)
			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.CommentDelete(b.ctx, gone.ID))
				require.ErrorIs(t, tx.CommentDelete(b.ctx, gone.ID), store.ErrNotFound)
			})
			_, err := b.s.CommentGet(b.ctx, gone.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = b.s.CommentGet(b.ctx, kept.PublicID)
			require.NoError(t, err)
		}},

		{"TaskDeleteCascades", func(t *testing.T, b *bundle) {
			task, r := b.taskWithResolution(t)
			b.upsertSteps(t, r, &store.Step{Name: "a", State: "DONE"})
			c := b.newComment(task)
			b.insertComments(t, c)
			other, otherRes := b.taskWithResolution(t)
			otherComment := b.newComment(other)
			b.insertComments(t, otherComment)

			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.TaskDelete(b.ctx, task.ID))
				require.ErrorIs(t, tx.TaskDelete(b.ctx, task.ID), store.ErrNotFound)
			})
			_, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = b.s.ResolutionGet(b.ctx, r.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
			steps, err := b.s.StepList(b.ctx, r.ID)
			require.NoError(t, err)
			require.Empty(t, steps)
			_, err = b.s.CommentGet(b.ctx, c.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)

			_, err = b.s.TaskGet(b.ctx, other.PublicID)
			require.NoError(t, err)
			_, err = b.s.ResolutionGet(b.ctx, otherRes.PublicID)
			require.NoError(t, err)
			_, err = b.s.CommentGet(b.ctx, otherComment.PublicID)
			require.NoError(t, err)
		}},

		{"TaskDeleteFinishedTakesComments", func(t *testing.T, b *bundle) {
			task := b.newTask(func(task *store.Task) {
				task.State, task.LastActivity = "DONE", b.now.Add(-48*time.Hour)
			})
			b.insertTasks(t, task)
			c := b.newComment(task)
			b.insertComments(t, c)
			n, err := b.s.TaskDeleteFinished(b.ctx, b.now.Add(-time.Hour))
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = b.s.CommentGet(b.ctx, c.PublicID)
			require.ErrorIs(t, err, store.ErrNotFound)
		}},

		{"TaskReadsTellWhetherItHasComments", func(t *testing.T, b *bundle) {
			task := b.newTask()
			other := b.newTask()
			b.insertTasks(t, task, other)
			has := func(id string) bool {
				t.Helper()
				got, err := b.s.TaskGet(b.ctx, id)
				require.NoError(t, err)
				return got.HasComments
			}
			require.False(t, has(task.PublicID))
			c := b.newComment(task)
			b.insertComments(t, c)
			require.True(t, has(task.PublicID))
			require.False(t, has(other.PublicID), "another task's comment does not count")
			list, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.VisibleAll, Limit: 10})
			require.NoError(t, err)
			for _, l := range list {
				require.Equal(t, l.PublicID == task.PublicID, l.HasComments, l.PublicID)
			}
			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.CommentDelete(b.ctx, c.ID)) })
			require.False(t, has(task.PublicID))
		}},

		{"TaskCountByGroups", func(t *testing.T, b *bundle) {
			counts, err := b.s.TaskCountByGroups(b.ctx)
			require.NoError(t, err)
			require.Empty(t, counts)

			type row struct {
				template, state string
				groups          []string
			}
			rows := []row{
				{"deploy", "TODO", nil},
				{"deploy", "TODO", nil},
				{"deploy", "DONE", nil},
				{"deploy", "TODO", []string{"sre"}},
				{"deploy", "TODO", []string{"sre", "dba"}},
				{"deploy", "TODO", []string{}},
				{"rollback", "BLOCKED", []string{"sre"}},
			}
			for _, r := range rows {
				b.insertTasks(t, b.newTask(func(task *store.Task) {
					task.TemplateName, task.State, task.ResolverGroups = r.template, r.state, r.groups
				}))
			}
			got, err := b.s.TaskCountByGroups(b.ctx)
			require.NoError(t, err)
			require.ElementsMatch(t, []store.TaskGroupCount{
				{Template: "deploy", State: "TODO", Count: 2},
				{Template: "deploy", State: "DONE", Count: 1},
				{Template: "deploy", ResolverGroups: []string{"sre"}, State: "TODO", Count: 1},
				{Template: "deploy", ResolverGroups: []string{"sre", "dba"}, State: "TODO", Count: 1},
				{Template: "deploy", ResolverGroups: []string{}, State: "TODO", Count: 1},
				{Template: "rollback", ResolverGroups: []string{"sre"}, State: "BLOCKED", Count: 1},
			}, got)
		}},

		{"TaskCountByState", func(t *testing.T, b *bundle) {
			counts, err := b.s.TaskCountByState(b.ctx, nil)
			require.NoError(t, err)
			require.Empty(t, counts)

			type row struct {
				state string
				tags  map[string]string
			}
			rows := []row{
				{"TODO", nil},
				{"TODO", map[string]string{"env": "prod"}},
				{"TODO", map[string]string{"env": "prod", "team": "blue"}},
				{"DONE", map[string]string{"env": "prod", "team": "blue"}},
				{"DONE", map[string]string{"env": "dev", "team": "blue"}},
				{"WAITING", map[string]string{}},
			}
			for _, r := range rows {
				b.insertTasks(t, b.newTask(func(task *store.Task) { task.State, task.Tags = r.state, r.tags }))
			}

			for _, c := range []struct {
				name string
				tags map[string]string
			}{
				{"NoFilter", nil},
				{"OneTag", map[string]string{"env": "prod"}},
				{"TwoTags", map[string]string{"env": "prod", "team": "blue"}},
				{"OtherValue", map[string]string{"team": "blue"}},
				{"NoMatch", map[string]string{"env": "staging"}},
			} {
				want := map[string]int{}
				for _, r := range rows {
					match := true
					for k, v := range c.tags {
						if got, ok := r.tags[k]; !ok || got != v {
							match = false
						}
					}
					if match {
						want[r.state]++
					}
				}
				counts, err := b.s.TaskCountByState(b.ctx, c.tags)
				require.NoError(t, err, c.name)
				require.Equal(t, want, counts, c.name)
			}
		}},
	}
}
