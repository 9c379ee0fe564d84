package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

func TestTemplateValues(t *testing.T) {
	t.Parallel()

	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := store.Task{PublicID: "tid", Created: created, LastActivity: created, RequesterUsername: "bob"}

	full := base
	full.RequesterGroups = []string{"g1", "g2"}
	full.WatcherUsernames = []string{"w1", "w2"}
	full.WatcherGroups = []string{"wg"}
	full.ResolverUsername = "res"
	full.ResolverGroups = []string{"rg1", "rg2"}
	full.ResolutionPublicID = "rid"

	groupsNoResolver := base
	groupsNoResolver.ResolverGroups = []string{"rg"}

	tests := []struct {
		name string
		task store.Task
		want map[string]any
	}{
		{"Minimal", base, map[string]any{
			"task_id": "tid", "created": created, "last_activity": created, "requester_username": "bob", "region": "eu",
		}},
		{"Full", full, map[string]any{
			"task_id": "tid", "created": created, "last_activity": created, "requester_username": "bob", "region": "eu",
			"requester_groups": "g1,g2", "watcher_usernames": "w1,w2", "watcher_groups": "wg",
			"resolver_username": "res", "resolver_groups": "rg1,rg2", "resolution_id": "rid",
		}},
		{"ResolverGroupsNeedAResolver", groupsNoResolver, map[string]any{
			"task_id": "tid", "created": created, "last_activity": created, "requester_username": "bob", "region": "eu",
		}},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.task.TemplateValues("eu"))
		})
	}
}
