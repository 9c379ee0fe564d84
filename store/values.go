package store

import "strings"

// TemplateValues returns the .task map that templates see for the task
// (µTask's keys): task_id, created, requester_username, last_activity and
// region always; requester_groups, watcher_usernames and watcher_groups,
// joined with ",", when not empty; resolver_username, and resolver_groups
// with it, when the task has a resolver; resolution_id when it has a
// resolution.
func (t *Task) TemplateValues(region string) map[string]any {
	m := map[string]any{
		"task_id":            t.PublicID,
		"created":            t.Created,
		"requester_username": t.RequesterUsername,
		"last_activity":      t.LastActivity,
		"region":             region,
	}
	joinIfAny := func(key string, list []string) {
		if len(list) > 0 {
			m[key] = strings.Join(list, ",")
		}
	}
	joinIfAny("requester_groups", t.RequesterGroups)
	joinIfAny("watcher_usernames", t.WatcherUsernames)
	joinIfAny("watcher_groups", t.WatcherGroups)
	if t.ResolverUsername != "" {
		m["resolver_username"] = t.ResolverUsername
		joinIfAny("resolver_groups", t.ResolverGroups)
	}
	if t.ResolutionPublicID != "" {
		m["resolution_id"] = t.ResolutionPublicID
	}
	return m
}
