package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTemplates(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})

	names := func(list []map[string]any) []string {
		out := []string{}
		for _, tt := range list {
			out = append(out, tt["name"].(string))
		}

		return out
	}

	list := func(t *testing.T, user, path string) response {
		t.Helper()

		resp := b.get(t, user, path)
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

		return resp
	}

	t.Run("ListUser", func(t *testing.T) {
		t.Parallel()

		resp := list(t, "bob", "/template")
		require.Equal(t, "1000", resp.header.Get("X-Paging-PageSize"))
		require.Empty(t, resp.header.Get("Link"))

		var got []map[string]any
		resp.json(t, &got)
		require.Equal(t, []string{"blocked", "greet", "manual"}, names(got), "hidden templates are for admins")

		for _, tt := range got {
			for _, k := range []string{"steps", "variables", "result_format", "title_format"} {
				require.NotContains(t, tt, k, "list form of %s", tt["name"])
			}
		}

		greet := got[1]
		require.Equal(t, "Say hello to someone", greet["description"])
		require.Equal(t, true, greet["auto_runnable"])
		require.Nil(t, greet["allowed_resolver_usernames"])
		require.Contains(t, greet, "allowed_resolver_usernames", "always present")
		require.Len(t, greet["inputs"], 4)
	})

	t.Run("ListAdmin", func(t *testing.T) {
		t.Parallel()

		var got []map[string]any
		list(t, "ada", "/template").json(t, &got)
		require.Equal(t, []string{"blocked", "greet", "hidden", "manual"}, names(got))
	})

	t.Run("Get", func(t *testing.T) {
		t.Parallel()

		got := list(t, "bob", "/template/greet").object(t)
		require.Equal(t, "Hello {{.input.name}} x{{.input.count}}", got["title_format"])
		require.Contains(t, got["steps"], "hello")
		require.Contains(t, got, "result_format")

		hidden := list(t, "bob", "/template/hidden").object(t)
		require.Equal(t, true, hidden["hidden"], "hidden templates are readable by name")

		missing := b.get(t, "bob", "/template/nope")
		require.Equal(t, http.StatusNotFound, missing.status)
		require.Equal(t, "template not found: nope", missing.errorMessage(t))
	})

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()

		// Page size 10 with 4 templates: one page, no link.
		resp := list(t, "ada", "/template?page_size=1")
		require.Equal(t, "10", resp.header.Get("X-Paging-PageSize"))
		require.Empty(t, resp.header.Get("Link"))

		var after []map[string]any
		list(t, "ada", "/template?last=greet").json(t, &after)
		require.Equal(t, []string{"hidden", "manual"}, names(after))

		list(t, "bob", "/template?last=greet").json(t, &after)
		require.Equal(t, []string{"manual"}, names(after))

		unknown := b.get(t, "bob", "/template?last=nope")
		require.Equal(t, http.StatusNotFound, unknown.status)

		many := setup(t, options{extraTemplates: 12})
		first := many.get(t, "bob", "/template?page_size=10")
		require.Equal(t, http.StatusOK, first.status)
		require.Equal(t, "</template?last=extra-08&page_size=10>; rel=next", first.header.Get("Link"))

		var page []map[string]any
		first.json(t, &page)
		require.Len(t, page, 10)
		require.Equal(t, "extra-08", page[9]["name"])

		second := many.get(t, "bob", "/template?last=extra-08&page_size=10")
		second.json(t, &page)
		require.Equal(t, []string{"extra-09", "extra-10", "extra-11", "greet", "manual"}, names(page))
		require.Empty(t, second.header.Get("Link"))

		repeated := b.get(t, "bob", "/template?last=a&last=b")
		require.Equal(t, http.StatusBadRequest, repeated.status)
		require.Equal(t, "binding error on field 'Last' of type 'listTemplatesIn': multiple values not supported",
			repeated.errorMessage(t))
	})
}
