package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/template"
)

// testFunctions returns n functions named fn-NN, inserted in reverse order.
func testFunctions(n int) map[string]*template.Function {
	out := map[string]*template.Function{}
	for i := n - 1; i >= 0; i-- {
		name := fmt.Sprintf("fn-%02d", i)
		out[name] = &template.Function{
			Name:        name,
			Description: "function " + name,
			Action:      template.Action{Type: "http", Configuration: []byte(`{"url": "http://127.0.0.1"}`)},
		}
	}

	return out
}

func functionNames(t *testing.T, resp response) []string {
	t.Helper()

	var fns []map[string]any
	resp.json(t, &fns)

	names := make([]string, 0, len(fns))
	for _, f := range fns {
		name, _ := f["name"].(string)
		names = append(names, name)
	}

	return names
}

func TestListFunctions(t *testing.T) {
	t.Parallel()

	b := setup(t, options{functions: testFunctions(12)})

	for _, tc := range []struct {
		name  string
		query string
		first string
		count int
		next  string
	}{
		{"All", "", "fn-00", 12, ""},
		{"FirstPage", "?page_size=10", "fn-00", 10, "</function?last=fn-09&page_size=10>; rel=next"},
		{"SecondPage", "?page_size=10&last=fn-09", "fn-10", 2, ""},
		{"AfterLast", "?last=fn-11", "", 0, ""},
		{"UnknownCursorStartsAtTheLast", "?last=zzz", "fn-11", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			resp := b.get(t, "bob", "/function"+tc.query)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

			names := functionNames(t, resp)
			require.Len(t, names, tc.count)
			require.IsNonDecreasing(t, names)

			if tc.count > 0 {
				require.Equal(t, tc.first, names[0])
			}

			require.Equal(t, tc.next, resp.header.Get("Link"))
		})
	}

	t.Run("NoFunctions", func(t *testing.T) {
		t.Parallel()

		empty := setup(t, options{})
		resp := empty.get(t, "bob", "/function")
		require.Equal(t, http.StatusOK, resp.status)
		require.JSONEq(t, `[]`, string(resp.body))
		require.Equal(t, "1000", resp.header.Get("X-Paging-PageSize"))
	})
}

func TestGetFunction(t *testing.T) {
	t.Parallel()

	b := setup(t, options{functions: testFunctions(2)})

	resp := b.get(t, "bob", "/function/fn-01")
	require.Equal(t, http.StatusOK, resp.status)

	f := resp.object(t)
	require.Equal(t, "fn-01", f["name"])
	require.Equal(t, map[string]any{"type": "http", "configuration": map[string]any{"url": "http://127.0.0.1"}, "output": nil},
		f["action"])

	missing := b.get(t, "bob", "/function/fn-99")
	require.Equal(t, http.StatusNotFound, missing.status)
	require.Equal(t, "function not found", missing.errorMessage(t))

	require.Equal(t, http.StatusUnauthorized, b.get(t, "", "/function/fn-01").status,
		"x-remote-user mode with no header is anonymous")
}
