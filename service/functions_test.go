package service_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/template"
)

func TestListFunctions(t *testing.T) {
	t.Parallel()

	fns := map[string]*template.Function{"nil-entry": nil}
	for i := range 25 {
		name := fmt.Sprintf("f%02d", i)
		fns[name] = &template.Function{Name: name}
	}

	svc := service.New(service.Config{Functions: fns, Templates: service.NewTemplates(nil, nil)})

	for _, tc := range []struct {
		name     string
		req      service.ListFunctionsRequest
		first    string
		count    int
		pageSize int
	}{
		{"Default", service.ListFunctionsRequest{}, "f00", 25, service.DefaultPageSize},
		{"RaisedToTen", service.ListFunctionsRequest{PageSize: 3}, "f00", 10, 10},
		{"AfterCursor", service.ListFunctionsRequest{PageSize: 10, Last: "f09"}, "f10", 10, 10},
		{"LastPage", service.ListFunctionsRequest{PageSize: 10, Last: "f19"}, "f20", 5, 10},
		{"AfterTheLast", service.ListFunctionsRequest{Last: "f24"}, "", 0, service.DefaultPageSize},
		{"UnknownCursor", service.ListFunctionsRequest{Last: "f05x"}, "f24", 1, service.DefaultPageSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			page, err := svc.ListFunctions(context.Background(), auth.Identity{}, tc.req)
			require.NoError(t, err)
			require.Len(t, page.Functions, tc.count)
			require.Equal(t, tc.pageSize, page.PageSize)

			if tc.count > 0 {
				require.Equal(t, tc.first, page.Functions[0].Name)
			}

			for i := 1; i < len(page.Functions); i++ {
				require.Less(t, page.Functions[i-1].Name, page.Functions[i].Name)
			}
		})
	}

	t.Run("NoFunctions", func(t *testing.T) {
		t.Parallel()

		empty := service.New(service.Config{Templates: service.NewTemplates(nil, nil)})

		page, err := empty.ListFunctions(context.Background(), auth.Identity{}, service.ListFunctionsRequest{Last: "x"})
		require.NoError(t, err)
		require.NotNil(t, page.Functions, "an empty page is a list, not null")
		require.Empty(t, page.Functions)

		_, err = empty.GetFunction(context.Background(), auth.Identity{}, "x")
		require.Equal(t, service.KindNotFound, service.KindOf(err))
	})

	t.Run("NilEntryIsUnknown", func(t *testing.T) {
		t.Parallel()

		_, err := svc.GetFunction(context.Background(), auth.Identity{}, "nil-entry")
		require.Equal(t, service.KindNotFound, service.KindOf(err))
		require.EqualError(t, err, "function not found")
	})
}
