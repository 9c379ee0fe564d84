package storetest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// identity is who lists, as a TaskFilter sees it.
type identity struct {
	username       string
	groups         []string
	ownedTemplates []string
}

func (id identity) filter(v store.Visibility) store.TaskFilter {
	return store.TaskFilter{
		Visibility:     v,
		Username:       id.username,
		Groups:         id.groups,
		OwnedTemplates: id.ownedTemplates,
	}
}

// alice is in groups ops and dev and owns the template "owned".
func alice() identity {
	return identity{username: "alice", groups: []string{"ops", "dev"}, ownedTemplates: []string{"owned"}}
}

// dave is in no group and owns no template.
func dave() identity { return identity{username: "dave"} }

// visibleTo is the reference model of the visibility rules of
// store.Visibility, used to predict listings of generated tasks. The rules
// themselves are pinned row by row in ListVisibilityRowByRow.
func visibleTo(t *store.Task, f store.TaskFilter) bool {
	own := t.RequesterUsername == f.Username || slices.Contains(t.WatcherUsernames, f.Username)
	meets := func(names []string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(f.Groups, n) })
	}
	resolvable := slices.Contains(f.OwnedTemplates, t.TemplateName) ||
		slices.Contains(t.ResolverUsernames, f.Username) || meets(t.ResolverGroups)
	switch f.Visibility {
	case store.VisibleAll:
		return true
	case store.VisibleOwn:
		return own
	case store.VisibleResolvable:
		return resolvable
	case store.VisibleRelated:
		return own || resolvable || meets(t.WatcherGroups)
	}
	panic(fmt.Sprintf("unknown visibility %d", f.Visibility))
}

// matches is the reference model of the other filters of TaskFilter.
func matches(t *store.Task, f store.TaskFilter) bool {
	for k, v := range f.Tags {
		if got, ok := t.Tags[k]; !ok || got != v {
			return false
		}
	}
	return (f.State == "" || t.State == f.State) &&
		(f.TemplateName == "" || t.TemplateName == f.TemplateName) &&
		(f.Before == nil || t.LastActivity.Before(*f.Before)) &&
		(f.After == nil || t.LastActivity.After(*f.After))
}

// listingOrder sorts tasks as a listing must: last_activity descending, then
// id descending.
func listingOrder(a, b *store.Task) int {
	if c := b.LastActivity.Compare(a.LastActivity); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

// publicIDs lists the public ids of tasks, in order.
func publicIDs(tasks []*store.Task) []string {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.PublicID
	}
	return ids
}

// visibilityRow is a task and whether each identity sees it under own,
// resolvable and related listings (every task shows in VisibleAll).
type visibilityRow struct {
	name string
	task func(t *store.Task)
	// seen by identity name: own, resolvable, related.
	seen map[string][3]bool
}

func visibilityRows() []visibilityRow {
	none := [3]bool{}
	return []visibilityRow{
		{"Requester", func(t *store.Task) { t.RequesterUsername = "alice" },
			map[string][3]bool{"alice": {true, false, true}, "dave": none}},
		{"WatcherUsername", func(t *store.Task) { t.WatcherUsernames = []string{"bob", "alice"} },
			map[string][3]bool{"alice": {true, false, true}, "dave": none}},
		{"WatcherGroup", func(t *store.Task) { t.WatcherGroups = []string{"ops"} },
			map[string][3]bool{"alice": {false, false, true}, "dave": none}},
		{"ResolverUsername", func(t *store.Task) { t.ResolverUsernames = []string{"alice"} },
			map[string][3]bool{"alice": {false, true, true}, "dave": none}},
		{"ResolverGroup", func(t *store.Task) { t.ResolverGroups = []string{"x", "dev"} },
			map[string][3]bool{"alice": {false, true, true}, "dave": none}},
		{"OwnedTemplate", func(t *store.Task) { t.TemplateName = "owned" },
			map[string][3]bool{"alice": {false, true, true}, "dave": none}},
		{"RequesterGroupOnly", func(t *store.Task) { t.RequesterGroups = []string{"ops", "dev"} },
			map[string][3]bool{"alice": none, "dave": none}},
		{"Stranger", func(t *store.Task) {
			t.RequesterUsername = "bob"
			t.WatcherUsernames = []string{"carol"}
			t.WatcherGroups = []string{"qa"}
			t.ResolverUsernames = []string{"carol"}
			t.ResolverGroups = []string{"qa"}
		}, map[string][3]bool{"alice": none, "dave": none}},
		{"NamesThatOnlyLookAlike", func(t *store.Task) {
			t.RequesterUsername = "alic"
			t.WatcherUsernames = []string{"alice2", "Alice"}
			t.WatcherGroups = []string{"op", "devs"}
			t.ResolverUsernames = []string{"ALICE", " alice"}
			t.ResolverGroups = []string{"OPS", "de"}
			t.TemplateName = "owned2"
		}, map[string][3]bool{"alice": none, "dave": none}},
		{"EmptyLists", func(t *store.Task) {
			t.RequesterGroups = []string{}
			t.WatcherUsernames = []string{}
			t.WatcherGroups = []string{}
			t.ResolverUsernames = []string{}
			t.ResolverGroups = []string{}
		}, map[string][3]bool{"alice": none, "dave": none}},
		{"DaveRequester", func(t *store.Task) { t.RequesterUsername = "dave" },
			map[string][3]bool{"alice": none, "dave": {true, false, true}}},
		{"DaveResolverWithAliceGroups", func(t *store.Task) {
			t.ResolverUsernames = []string{"dave"}
			t.WatcherGroups = []string{"dev"}
		}, map[string][3]bool{"alice": {false, false, true}, "dave": {false, true, true}}},
	}
}

func listBehaviours() []behaviour {
	return []behaviour{
		{"ListVisibilityRowByRow", func(t *testing.T, b *bundle) {
			rows := visibilityRows()
			byID := map[string]string{}
			var tasks []*store.Task
			for _, row := range rows {
				task := b.newTask(row.task)
				task.Title = row.name
				tasks = append(tasks, task)
				byID[task.PublicID] = row.name
			}
			// A task whose resolution names alice as its resolver: the
			// resolution's resolver is not part of any visibility rule.
			viaResolution := b.newTask(func(t *store.Task) { t.Title = "ResolutionResolver" })
			tasks = append(tasks, viaResolution)
			byID[viaResolution.PublicID] = viaResolution.Title
			b.insertTasks(t, tasks...)
			b.insertResolutions(t, b.newResolution(viaResolution, func(r *store.Resolution) {
				r.ResolverUsername = "alice"
			}))

			for _, id := range []identity{alice(), dave()} {
				for i, v := range []store.Visibility{store.VisibleOwn, store.VisibleResolvable, store.VisibleRelated} {
					var want []string
					for _, row := range rows {
						if row.seen[id.username][i] {
							want = append(want, row.name)
						}
					}
					listed, err := b.s.TaskList(b.ctx, id.filter(v))
					require.NoError(t, err)
					var got []string
					for _, task := range listed {
						got = append(got, byID[task.PublicID])
					}
					require.ElementsMatch(t, want, got, "identity %s, visibility %d", id.username, v)
				}
				all, err := b.s.TaskList(b.ctx, id.filter(store.VisibleAll))
				require.NoError(t, err)
				require.Len(t, all, len(tasks), "VisibleAll lists every task")
			}
		}},

		{"ListPagesWithoutSkipOrRepeat", func(t *testing.T, b *bundle) {
			tasks := pagingTasks(b)
			b.insertTasks(t, tasks...)
			shared := b.now

			filters := map[string]func(f *store.TaskFilter){
				"None":     func(*store.TaskFilter) {},
				"State":    func(f *store.TaskFilter) { f.State = "RUNNING" },
				"Template": func(f *store.TaskFilter) { f.TemplateName = "tmpl-a" },
				"OneTag":   func(f *store.TaskFilter) { f.Tags = map[string]string{"env": "prod"} },
				"TwoTags":  func(f *store.TaskFilter) { f.Tags = map[string]string{"env": "prod", "team": "blue"} },
				"EmptyTag": func(f *store.TaskFilter) { f.Tags = map[string]string{"env": ""} },
				"Before":   func(f *store.TaskFilter) { f.Before = &shared },
				"After":    func(f *store.TaskFilter) { f.After = ptr(shared.Add(-90 * time.Minute)) },
				"SharedOnly": func(f *store.TaskFilter) {
					f.After, f.Before = ptr(shared.Add(-time.Microsecond)), ptr(shared.Add(time.Microsecond))
				},
				"StateAndTags": func(f *store.TaskFilter) { f.State, f.Tags = "TODO", map[string]string{"env": "prod"} },
			}
			identities := map[string]identity{"Alice": alice(), "Dave": dave()}

			for _, fname := range slices.Sorted(maps.Keys(filters)) {
				for _, iname := range slices.Sorted(maps.Keys(identities)) {
					for _, v := range []store.Visibility{store.VisibleAll, store.VisibleOwn, store.VisibleResolvable, store.VisibleRelated} {
						f := identities[iname].filter(v)
						filters[fname](&f)
						label := fmt.Sprintf("filter %s, identity %s, visibility %d", fname, iname, v)

						var want []*store.Task
						for _, task := range tasks {
							if visibleTo(task, f) && matches(task, f) {
								want = append(want, task)
							}
						}
						slices.SortFunc(want, listingOrder)

						whole, err := b.s.TaskList(b.ctx, f)
						require.NoError(t, err, label)
						require.Equal(t, publicIDs(want), publicIDs(whole), label)

						require.Equal(t, publicIDs(want), publicIDs(walk(t, b, f, 7)), label)
					}
				}
			}
		}},

		{"ListLimitWithoutCursor", func(t *testing.T, b *bundle) {
			tasks := pagingTasks(b)
			b.insertTasks(t, tasks...)
			slices.SortFunc(tasks, listingOrder)

			page, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.VisibleAll, Limit: 5})
			require.NoError(t, err)
			require.Equal(t, publicIDs(tasks[:5]), publicIDs(page))
		}},

		{"ListOmitsSealedValues", func(t *testing.T, b *bundle) {
			b.insertTasks(t, b.fullTask())
			listed, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.VisibleAll})
			require.NoError(t, err)
			require.Len(t, listed, 1)
			require.Nil(t, listed[0].Input)
			require.Nil(t, listed[0].Result)
			require.Equal(t, map[string]string{"env": "prod", "team": "blue", "empty": ""}, listed[0].Tags)
		}},

		{"ListUnknownVisibility", func(t *testing.T, b *bundle) {
			_, err := b.s.TaskList(b.ctx, store.TaskFilter{Visibility: store.Visibility(99)})
			require.Error(t, err)
		}},
	}
}

// walk lists every page of f, pageSize tasks at a time, each page starting
// after the last task of the one before.
func walk(t *testing.T, b *bundle, f store.TaskFilter, pageSize int) []*store.Task {
	t.Helper()
	var all []*store.Task
	f.Limit = pageSize
	for {
		page, err := b.s.TaskList(b.ctx, f)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), pageSize)
		all = append(all, page...)
		if len(page) < pageSize {
			return all
		}
		last := page[len(page)-1]
		f.CursorID, f.CursorLastActivity = last.ID, last.LastActivity
	}
}

// pagingTasks returns 50 tasks sharing one last_activity (b.now) and 20 more
// around it, with requesters, watchers, resolvers, templates, states and
// tags spread so that every visibility and filter selects a different part.
func pagingTasks(b *bundle) []*store.Task {
	var tasks []*store.Task
	for i := range 70 {
		tasks = append(tasks, b.newTask(func(t *store.Task) {
			t.Title = fmt.Sprintf("task %d", i)
			switch {
			case i < 50:
				t.LastActivity = b.now
			case i < 60: // earlier, two by two
				t.LastActivity = b.now.Add(-time.Duration(i-48) / 2 * time.Hour)
			default: // later, some sharing a time
				t.LastActivity = b.now.Add(time.Duration(i%3+1) * time.Minute)
			}
			t.RequesterUsername = []string{"alice", "bob", "carol", "dave"}[i%4]
			switch i % 5 {
			case 0:
				t.WatcherUsernames = []string{"alice"}
			case 1:
				t.WatcherUsernames = []string{"erin", "dave"}
			case 2:
				t.WatcherUsernames = []string{}
			}
			switch i % 6 {
			case 0:
				t.WatcherGroups = []string{"ops"}
			case 1:
				t.WatcherGroups = []string{"qa", "dev"}
			}
			switch i % 7 {
			case 0:
				t.ResolverUsernames = []string{"alice"}
			case 3:
				t.ResolverUsernames = []string{"dave", "erin"}
			}
			switch i % 8 {
			case 0:
				t.ResolverGroups = []string{"dev"}
			case 5:
				t.ResolverGroups = []string{"qa"}
			}
			t.TemplateName = []string{"tmpl-a", "tmpl-b", "owned"}[i%3]
			t.State = []string{"TODO", "RUNNING", "DONE", "BLOCKED"}[i%4]
			switch i % 5 {
			case 0:
				t.Tags = map[string]string{"env": "prod", "team": "blue"}
			case 1, 2:
				t.Tags = map[string]string{"env": "prod"}
			case 3:
				t.Tags = map[string]string{"env": "", "team": "blue"}
			}
		}))
	}
	return tasks
}
