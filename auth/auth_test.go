package auth_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestDefaultProviderBasic(t *testing.T) {
	t.Parallel()

	p := auth.NewDefaultProvider(
		map[string]string{"alice": "s3cret", "bob": "hunter2"},
		map[string][]string{"ops": {"alice", "carol"}, "dev": {"alice"}},
	)

	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"Alice", basicHeader("alice", "s3cret"), "alice"},
		{"Bob", basicHeader("bob", "hunter2"), "bob"},
		{"WrongPassword", basicHeader("alice", "hunter2"), ""},
		{"UnknownUser", basicHeader("mallory", "s3cret"), ""},
		{"Missing", "", ""},
		{"LowerCaseScheme", "basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), ""},
		{"ExtraSpace", "Basic  " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), ""},
		{"NoPadding", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("bob:hunter2")), ""},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			r := httptest.NewRequest(http.MethodGet, "/meta", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			// In basic mode the trusted header is ignored.
			r.Header.Set("X-Remote-User", "bob")

			id, err := p.Identify(r)
			if tc.want == "" {
				require.ErrorIs(t, err, auth.ErrUnauthenticated)

				var ch *auth.ChallengeError
				require.True(t, errors.As(err, &ch))
				require.Equal(t, `Basic realm="Authorization Required"`, ch.Challenge)

				return
			}

			require.NoError(t, err)
			require.Equal(t, tc.want, id.Username)
		})
	}

	t.Run("Groups", func(t *testing.T) {
		t.Parallel()

		r := httptest.NewRequest(http.MethodGet, "/meta", nil)
		r.Header.Set("Authorization", basicHeader("alice", "s3cret"))

		id, err := p.Identify(r)
		require.NoError(t, err)
		require.Equal(t, []string{"dev", "ops"}, id.Groups)
	})
}

func TestDefaultProviderHeader(t *testing.T) {
	t.Parallel()

	p := auth.NewDefaultProvider(nil, map[string][]string{"ops": {"carol"}})

	t.Run("Identified", func(t *testing.T) {
		t.Parallel()

		r := httptest.NewRequest(http.MethodGet, "/meta", nil)
		r.Header.Set("x-remote-user", "carol")

		id, err := p.Identify(r)
		require.NoError(t, err)
		require.Equal(t, auth.Identity{Username: "carol", Groups: []string{"ops"}}, id)
	})

	t.Run("NoGroups", func(t *testing.T) {
		t.Parallel()

		r := httptest.NewRequest(http.MethodGet, "/meta", nil)
		r.Header.Set("X-Remote-User", "dave")

		id, err := p.Identify(r)
		require.NoError(t, err)
		require.Equal(t, "dave", id.Username)
		require.Empty(t, id.Groups)
	})

	for name, header := range map[string]*string{"Missing": nil, "Empty": new(string)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			r := httptest.NewRequest(http.MethodGet, "/meta", nil)
			if header != nil {
				r.Header.Set("X-Remote-User", *header)
			}

			_, err := p.Identify(r)
			require.ErrorIs(t, err, auth.ErrUnauthenticated)

			var ch *auth.ChallengeError
			require.False(t, errors.As(err, &ch), "header mode sends no challenge")
		})
	}

	t.Run("EmptyBasicAuthMeansHeaderMode", func(t *testing.T) {
		t.Parallel()

		r := httptest.NewRequest(http.MethodGet, "/meta", nil)
		r.Header.Set("X-Remote-User", "erin")

		id, err := auth.NewDefaultProvider(map[string]string{}, nil).Identify(r)
		require.NoError(t, err)
		require.Equal(t, "erin", id.Username)
	})
}

func TestPolicyIsAdmin(t *testing.T) {
	t.Parallel()

	p := auth.Policy{AdminUsernames: []string{"root"}, AdminGroups: []string{"admins"}}

	tests := []struct {
		name string
		id   auth.Identity
		want bool
	}{
		{"ByName", auth.Identity{Username: "root"}, true},
		{"ByGroup", auth.Identity{Username: "x", Groups: []string{"dev", "admins"}}, true},
		{"CaseSensitive", auth.Identity{Username: "Root"}, false},
		{"Neither", auth.Identity{Username: "x", Groups: []string{"dev"}}, false},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, p.IsAdmin(tc.id))
		})
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()

	tt := &template.Template{
		AllowedResolverUsernames: []string{"owner"},
		AllowedResolverGroups:    []string{"owners"},
	}
	task := &store.Task{
		RequesterUsername: "req",
		WatcherUsernames:  []string{"watch"},
		WatcherGroups:     []string{"watchers"},
		ResolverUsernames: []string{"res"},
		ResolverGroups:    []string{"resolvers"},
	}

	type roles struct{ owner, requester, watcher, manager, managerWithResolver bool }

	tests := []struct {
		name string
		id   auth.Identity
		want roles
	}{
		{"OwnerByName", auth.Identity{Username: "owner"}, roles{owner: true, manager: true, managerWithResolver: true}},
		{"OwnerByGroup", auth.Identity{Username: "x", Groups: []string{"owners"}}, roles{owner: true, manager: true, managerWithResolver: true}},
		{"Requester", auth.Identity{Username: "req"}, roles{requester: true}},
		{"WatcherByName", auth.Identity{Username: "watch"}, roles{watcher: true}},
		{"WatcherByGroup", auth.Identity{Username: "x", Groups: []string{"watchers"}}, roles{watcher: true}},
		{"TaskResolverByName", auth.Identity{Username: "res"}, roles{manager: true, managerWithResolver: true}},
		{"TaskResolverByGroup", auth.Identity{Username: "x", Groups: []string{"resolvers"}}, roles{manager: true, managerWithResolver: true}},
		{"ResolutionResolver", auth.Identity{Username: "runner"}, roles{managerWithResolver: true}},
		{"Stranger", auth.Identity{Username: "x", Groups: []string{"other"}}, roles{}},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			got := roles{
				owner:               auth.IsTemplateOwner(tc.id, tt),
				requester:           auth.IsRequester(tc.id, task),
				watcher:             auth.IsWatcher(tc.id, task),
				manager:             auth.IsResolutionManager(tc.id, tt, task, ""),
				managerWithResolver: auth.IsResolutionManager(tc.id, tt, task, "runner"),
			}
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("AllowAllIsNotOwnership", func(t *testing.T) {
		t.Parallel()

		open := &template.Template{AllowAllResolverUsernames: true, AutoRunnable: true}
		require.False(t, auth.IsTemplateOwner(auth.Identity{Username: "x"}, open))
		require.False(t, auth.IsResolutionManager(auth.Identity{Username: "x"}, open, &store.Task{}, ""))
	})

	t.Run("EmptyResolverMatchesNobody", func(t *testing.T) {
		t.Parallel()

		require.False(t, auth.IsResolutionManager(auth.Identity{}, nil, &store.Task{}, ""))
	})
}
