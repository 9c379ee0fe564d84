package service_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

func TestTemplatesWithArchived(t *testing.T) {
	t.Parallel()

	loaded := &template.Template{Name: "kept", Description: "on disk"}
	shadowed := &template.Template{Name: "kept", Description: "an older stored version"}
	gone := &template.Template{Name: "gone", Description: "file removed", AutoRunnable: true}
	set := service.NewTemplates([]*template.Template{loaded}, map[string]int64{"kept": 3}).
		WithArchived([]service.ArchivedTemplate{{Template: gone, Version: 5}, {Template: shadowed, Version: 1}})

	got, version, ok := set.Get("gone")
	require.True(t, ok)
	require.Equal(t, int64(5), version)
	require.True(t, got.Hidden)
	require.True(t, got.Blocked)
	require.True(t, got.AutoRunnable, "the rest of the template is kept")
	require.False(t, gone.Hidden || gone.Blocked, "the archived template given is not changed")

	got, version, ok = set.Get("kept")
	require.True(t, ok)
	require.Same(t, loaded, got, "a loaded template wins over an archived one")
	require.Equal(t, int64(3), version)

	names := make([]string, 0, 2)
	for _, tt := range set.List() {
		names = append(names, tt.Name)
	}
	require.Equal(t, []string{"gone", "kept"}, names)

	var none *service.Templates
	only := none.WithArchived([]service.ArchivedTemplate{{Template: gone, Version: 5}})
	require.Len(t, only.List(), 1)
}

func TestTemplatesLoadArchived(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	st := openStore(t)

	put := func(src string) (*template.Template, int64) {
		tt, err := template.Parse([]byte(src))
		require.NoError(t, err)
		doc, err := json.Marshal(tt)
		require.NoError(t, err)
		v, err := st.TemplateVersionPut(ctx, tt.Name, doc)
		require.NoError(t, err)
		return tt, v
	}
	taskOf := func(tt *template.Template, version int64) {
		tx, err := st.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.TaskInsert(ctx, &store.Task{
			PublicID: uuid.NewString(), TemplateName: tt.Name, TemplateVersion: version, Title: "t",
			RequesterUsername: "bob", State: state.TaskTodo,
		}))
		require.NoError(t, tx.Commit(ctx))
	}

	kept, keptV := put("name: kept\ndescription: stays on disk\n")
	taskOf(kept, keptV)
	oldGone, oldGoneV := put("name: gone\ndescription: first version\n")
	taskOf(oldGone, oldGoneV)
	_, newGoneV := put("name: gone\ndescription: second version\nhidden: false\nblocked: false\n")
	put("name: unused\ndescription: no task\n")

	set := service.NewTemplates([]*template.Template{kept}, map[string]int64{"kept": keptV})
	archived, err := set.LoadArchived(ctx, st)
	require.NoError(t, err)
	require.Len(t, archived, 1, "only a template tasks use and that is not loaded")
	require.Equal(t, "gone", archived[0].Template.Name)
	require.Equal(t, "second version", archived[0].Template.Description, "the newest stored version")
	require.Equal(t, newGoneV, archived[0].Version)

	svc := service.New(service.Config{
		Store:     st,
		Templates: set.WithArchived(archived),
		Policy:    auth.Policy{AdminUsernames: []string{"root"}},
	})
	_, err = svc.CreateTask(ctx, auth.Identity{Username: "bob"}, service.CreateTaskRequest{TemplateName: "gone"})
	require.Equal(t, service.KindBadRequest, service.KindOf(err))
	require.EqualError(t, err, "Template not available (blocked)")

	page, err := svc.ListTemplates(ctx, auth.Identity{Username: "bob"}, service.ListTemplatesRequest{})
	require.NoError(t, err)
	require.Len(t, page.Templates, 1, "hidden from non-administrators")
	page, err = svc.ListTemplates(ctx, auth.Identity{Username: "root"}, service.ListTemplatesRequest{})
	require.NoError(t, err)
	require.Len(t, page.Templates, 2, "listed to administrators")

	got, err := svc.GetTemplate(ctx, auth.Identity{Username: "bob"}, "gone")
	require.NoError(t, err)
	require.True(t, got.Hidden && got.Blocked)
}
