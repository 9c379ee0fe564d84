package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// richInput is a value as encoding/json decodes it with UseNumber: the only
// kind of value a store promises to give back unchanged.
func richInput() map[string]any {
	return map[string]any{
		"big":    json.Number("12345678901234567"),
		"float":  json.Number("1.5e-7"),
		"neg":    json.Number("-3"),
		"string": "<b>html</b> & \"quotes\" \u00e9\u2713",
		"empty":  "",
		"bool":   false,
		"null":   nil,
		"list":   []any{json.Number("1"), "two", true, nil, []any{}, map[string]any{}},
		"nested": map[string]any{
			"deeper":    map[string]any{"n": json.Number("12345678901234567890123")},
			"emptyMap":  map[string]any{},
			"emptyList": []any{},
		},
	}
}

// fullTask returns a task with every field set.
func (b *bundle) fullTask() *store.Task {
	return b.newTask(func(t *store.Task) {
		t.Title = "Deploy the <service> & more"
		t.RequesterUsername = "alice"
		t.RequesterGroups = []string{"ops", "dev"}
		t.WatcherUsernames = []string{"bob", "carol"}
		t.WatcherGroups = []string{"qa"}
		t.ResolverUsernames = []string{"dave"}
		t.ResolverGroups = []string{"sre", "oncall"}
		t.Created = b.now.Add(-time.Hour)
		t.LastActivity = b.now
		t.State = "RUNNING"
		t.StepsDone = 3
		t.StepsTotal = 7
		t.Tags = map[string]string{"env": "prod", "team": "blue", "empty": ""}
		t.Input = richInput()
		t.Result = map[string]any{"out": json.Number("42"), "nested": map[string]any{"ok": true}}
	})
}

func taskBehaviours() []behaviour {
	return []behaviour{
		{"TaskRoundTrip", func(t *testing.T, b *bundle) {
			task := b.fullTask()
			want := *task
			b.insertTasks(t, task)
			want.ID = task.ID

			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, &want, got)

			b.inTx(t, func(tx store.Tx) {
				locked, err := tx.TaskLock(b.ctx, task.ID)
				require.NoError(t, err)
				require.Equal(t, &want, locked)
			})

			listed, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.VisibleAll})
			require.NoError(t, err)
			want.Input, want.Result = nil, nil
			require.Equal(t, []*store.Task{&want}, listed, "listings leave out input and result")
		}},

		{"TaskNilAndEmptyStayApart", func(t *testing.T, b *bundle) {
			empty := b.newTask(func(t *store.Task) {
				t.RequesterGroups = []string{}
				t.WatcherUsernames = []string{}
				t.WatcherGroups = []string{}
				t.ResolverUsernames = []string{}
				t.ResolverGroups = []string{}
				t.Tags = map[string]string{}
				t.Input = map[string]any{}
				t.Result = map[string]any{}
			})
			null := b.newTask(func(t *store.Task) {
				t.RequesterUsername = ""
				t.Title = ""
			})
			b.insertTasks(t, empty, null)

			for _, task := range []*store.Task{empty, null} {
				got, err := b.s.TaskGet(b.ctx, task.PublicID)
				require.NoError(t, err)
				require.Equal(t, task, got)
			}
		}},

		{"TaskTimesAreUTCMicroseconds", func(t *testing.T, b *bundle) {
			zone := time.FixedZone("UTC+05:30", 5*3600+1800)
			created := time.Date(2026, 1, 2, 3, 4, 5, 123456789, zone)
			task := b.newTask(func(t *store.Task) {
				t.Created = created
				t.LastActivity = created.Add(999 * time.Nanosecond)
			})
			b.insertTasks(t, task)

			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, time.Date(2026, 1, 1, 21, 34, 5, 123456000, time.UTC), got.Created)
			require.Equal(t, time.UTC, got.Created.Location())
			require.Equal(t, stored(task.LastActivity), got.LastActivity)
			require.Equal(t, time.UTC, got.LastActivity.Location())
		}},

		{"TaskInsertDuplicatePublicID", func(t *testing.T, b *bundle) {
			first := b.newTask()
			b.insertTasks(t, first)

			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			defer func() { require.NoError(t, tx.Rollback(b.ctx)) }()
			err = tx.TaskInsert(b.ctx, b.newTask(func(t *store.Task) { t.PublicID = first.PublicID }))
			require.ErrorIs(t, err, store.ErrConflict)
		}},

		{"TaskInsertUnknownTemplateVersion", func(t *testing.T, b *bundle) {
			tx, err := b.s.Begin(b.ctx)
			require.NoError(t, err)
			defer func() { require.NoError(t, tx.Rollback(b.ctx)) }()
			err = tx.TaskInsert(b.ctx, b.newTask(func(t *store.Task) { t.TemplateVersion = b.version + 1000 }))
			require.ErrorIs(t, err, store.ErrNotFound)
		}},

		{"TaskGetNotFound", func(t *testing.T, b *bundle) {
			b.insertTasks(t, b.newTask())
			id := uuid.NewString()
			_, err := b.s.TaskGet(b.ctx, id)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorContains(t, err, id)
		}},

		{"TaskLockNotFound", func(t *testing.T, b *bundle) {
			task := b.newTask()
			b.insertTasks(t, task)
			b.inTx(t, func(tx store.Tx) {
				_, err := tx.TaskLock(b.ctx, task.ID+1000)
				require.ErrorIs(t, err, store.ErrNotFound)
			})
		}},

		{"TaskUpdateWritesMutableFields", func(t *testing.T, b *bundle) {
			task := b.fullTask()
			b.insertTasks(t, task)
			otherVersion, err := b.s.TemplateVersionPut(b.ctx, "other", []byte(`{}`))
			require.NoError(t, err)

			changed := *task
			changed.Title = "new title"
			changed.RequesterUsername = "erin"
			changed.RequesterGroups = nil
			changed.WatcherUsernames = []string{}
			changed.WatcherGroups = []string{"qa", "sec"}
			changed.ResolverUsernames = nil
			changed.ResolverGroups = []string{"x"}
			changed.LastActivity = b.now.Add(time.Minute)
			changed.State = "DONE"
			changed.StepsDone = 7
			changed.StepsTotal = 8
			changed.Tags = nil
			changed.Input = map[string]any{"replaced": true}
			changed.Result = map[string]any{"n": json.Number("12345678901234567")}
			// Not mutable: the update must leave these as inserted.
			changed.TemplateName = "other"
			changed.TemplateVersion = otherVersion
			changed.Created = b.now.Add(time.Hour)

			b.inTx(t, func(tx store.Tx) {
				require.NoError(t, tx.TaskUpdate(b.ctx, &changed))
			})

			want := changed
			want.TemplateName = task.TemplateName
			want.TemplateVersion = task.TemplateVersion
			want.Created = task.Created
			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			require.Equal(t, &want, got)
		}},

		{"TaskUpdateNotFound", func(t *testing.T, b *bundle) {
			a, c := b.newTask(), b.newTask()
			b.insertTasks(t, a, c)

			missing := *a
			missing.ID = a.ID + 1000
			missing.Title = "changed"
			b.requireDeferredNotFound(t, func(tx store.Tx) error { return tx.TaskUpdate(b.ctx, &missing) })

			// Values sealed for one task must not land on another.
			crossed := *a
			crossed.PublicID = c.PublicID
			crossed.Title = "changed"
			b.requireDeferredNotFound(t, func(tx store.Tx) error { return tx.TaskUpdate(b.ctx, &crossed) })

			for _, task := range []*store.Task{a, c} {
				got, err := b.s.TaskGet(b.ctx, task.PublicID)
				require.NoError(t, err)
				require.Equal(t, task.Title, got.Title, "nothing written")
			}
		}},

		{"TaskReadsFillResolutionFields", func(t *testing.T, b *bundle) {
			bare := b.newTask(func(t *store.Task) { t.LastActivity = b.now.Add(-time.Minute) })
			b.insertTasks(t, bare)
			start, stop := b.now.Add(-2*time.Hour), b.now.Add(-time.Hour)
			task, r := b.taskWithResolution(t, func(r *store.Resolution) {
				r.ResolverUsername = "zoe"
				r.LastStart = &start
				r.LastStop = &stop
			})
			fill := func(got *store.Task) {
				t.Helper()
				require.Equal(t, r.PublicID, got.ResolutionPublicID)
				require.Equal(t, "zoe", got.ResolverUsername)
				require.Equal(t, &start, got.LastStart)
				require.Equal(t, &stop, got.LastStop)
			}

			got, err := b.s.TaskGet(b.ctx, task.PublicID)
			require.NoError(t, err)
			fill(got)
			b.inTx(t, func(tx store.Tx) {
				locked, err := tx.TaskLock(b.ctx, task.ID)
				require.NoError(t, err)
				fill(locked)
			})
			listed, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.VisibleAll})
			require.NoError(t, err)
			require.Len(t, listed, 2)
			fill(listed[0])

			for _, got := range []*store.Task{listed[1], bareGet(t, b, bare)} {
				require.Equal(t, bare.PublicID, got.PublicID)
				require.Empty(t, got.ResolutionPublicID)
				require.Empty(t, got.ResolverUsername)
				require.Nil(t, got.LastStart)
				require.Nil(t, got.LastStop)
			}
		}},
	}
}

// bareGet reads task back.
func bareGet(t *testing.T, b *bundle, task *store.Task) *store.Task {
	t.Helper()
	got, err := b.s.TaskGet(b.ctx, task.PublicID)
	require.NoError(t, err)
	return got
}
