package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/state"
	"github.com/utask/utask/template"
)

func TestCreateTask(t *testing.T) {
	t.Parallel()

	t.Run("AutoRunShape", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "bob", "extra": "dropped"},
			"watcher_usernames": ["walt"], "tags": {"team": "blue"}}`)

		_, err := uuid.Parse(task["id"].(string))
		require.NoError(t, err)
		require.Equal(t, "Hello bob x3", task["title"], "the title sees the default of count")
		require.Equal(t, "greet", task["template_name"])
		require.Equal(t, "bob", task["requester_username"])
		require.Equal(t, []any{"walt"}, task["watcher_usernames"])
		require.Equal(t, stateTodo, task["state"])
		require.Equal(t, json.Number("0"), task["steps_done"])
		require.Equal(t, json.Number("1"), task["steps_total"])
		require.Equal(t, map[string]any{"name": "bob", "count": json.Number("3")}, task["input"])
		require.Equal(t, map[string]any{"said": "{{.step.hello.output.said}}"}, task["result"],
			"the result holds the unrendered result_format")
		require.Equal(t, map[string]any{"region": "default", "who": "bob", "team": "blue"}, task["tags"])
		require.Equal(t, "bob", task["resolver_username"])
		require.NotContains(t, task, "requester_groups")
		require.NotContains(t, task, "errors")

		created, err := time.Parse(time.RFC3339Nano, task["created"].(string))
		require.NoError(t, err)
		require.Equal(t, task["created"], task["last_activity"])
		require.Equal(t, 2026, created.Year())

		launched, _, wakes := b.runner.calls()
		require.Equal(t, []string{task["resolution"].(string)}, launched, "the claimed resolution is launched")
		require.Zero(t, wakes)

		res := b.get(t, "bob", "/resolution/"+task["resolution"].(string))
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)

		view := res.object(t)
		require.Equal(t, state.ResAutorunning, view["state"])
		require.Equal(t, json.Number("42"), view["instance_id"])
		require.Equal(t, json.Number("100"), view["run_max"])
		require.Equal(t, json.Number("0"), view["run_count"])
		require.Equal(t, task["id"], view["task_id"])
		require.Equal(t, "Hello bob x3", view["task_title"])
		require.Equal(t, "bob", view["resolver_username"])
		require.Equal(t, map[string]any{"base": map[string]any{"url": "http://127.0.0.1"}}, view["base_configurations"])

		got := b.get(t, "bob", "/task/"+task["id"].(string))
		require.Equal(t, http.StatusOK, got.status, "body: %s", got.body)

		stored := got.object(t)
		require.Equal(t, task["input"], stored["input"], "the stored input holds the defaults")
		require.Equal(t, task["resolution"], stored["resolution"])
		require.Equal(t, task["title"], stored["title"])
		require.Equal(t, task["created"], stored["created"])
	})

	t.Run("GroupsAndTaskValues", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "grace", `{"template_name": "greet", "input": {"name": "g"},
			"tags": {"grp": "{{.task.requester_groups}}", "id": "{{.task.task_id}}"}}`)

		require.Equal(t, []any{"owners"}, task["requester_groups"])
		// Request tags are kept as given: callers do not run templates.
		require.Equal(t, "{{.task.requester_groups}}", task["tags"].(map[string]any)["grp"])
		require.Equal(t, "{{.task.task_id}}", task["tags"].(map[string]any)["id"])
	})

	t.Run("ManualWaitsForResolver", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)

		require.Equal(t, "Manual for bob", task["title"])
		require.Equal(t, stateTodo, task["state"])
		require.NotContains(t, task, "resolution")
		require.Equal(t, json.Number("2"), task["steps_total"])
		require.Equal(t, map[string]any{}, task["input"])

		launched, _, wakes := b.runner.calls()
		require.Empty(t, launched)
		require.Zero(t, wakes)
	})

	t.Run("Delay", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "bob"}, "delay": "1h30m"}`)

		require.Equal(t, state.TaskDelayed, task["state"])

		launched, _, wakes := b.runner.calls()
		require.Empty(t, launched, "a delayed resolution is not launched")
		require.Equal(t, 1, wakes)

		view := b.get(t, "bob", "/resolution/"+task["resolution"].(string)).object(t)
		require.Equal(t, state.ResToAutorunDelayed, view["state"])
		require.NotContains(t, view, "instance_id")

		created, err := time.Parse(time.RFC3339Nano, view["created"].(string))
		require.NoError(t, err)

		next, err := time.Parse(time.RFC3339Nano, view["next_retry"].(string))
		require.NoError(t, err)
		require.Equal(t, 90*time.Minute, next.Sub(created))
	})

	t.Run("ExactNumbers", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "n", "count": 12345678901234567}}`)
		require.Equal(t, "Hello n x12345678901234567", task["title"])

		got := b.get(t, "bob", "/task/"+task["id"].(string)).object(t)
		require.Equal(t, json.Number("12345678901234567"), got["input"].(map[string]any)["count"])

		// Beyond 64 bits and with trailing zeros, a JSON body keeps its digits.
		big := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "n", "count": 123456789012345678901234567890.10}}`)
		got = b.get(t, "bob", "/task/"+big["id"].(string)).object(t)
		require.Equal(t, json.Number("123456789012345678901234567890.10"), got["input"].(map[string]any)["count"])
	})

	t.Run("YAMLBody", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		resp := b.do(t, request{
			method: http.MethodPost, path: "/task", user: "bob",
			header: map[string]string{"Content-Type": "text/plain"},
			body:   "template_name: greet\ninput:\n  name: yaml\n  color: red\n",
		})
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)
		require.Equal(t, "red", resp.object(t)["input"].(map[string]any)["color"])
	})

	t.Run("ResolverFields", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		body := `{"template_name": "manual", "resolver_usernames": ["helper"]}`

		resp := b.post(t, "bob", "/task", body)
		require.Equal(t, http.StatusForbidden, resp.status)
		require.Equal(t, "resolver_usernames and resolver_groups can't be set by a regular user, "+
			"you need to be owner of the template, or admin", resp.errorMessage(t))

		for _, user := range []string{"owner", "grace", "admin", "ada"} {
			task := b.createTask(t, user, body)
			require.Equal(t, []any{"helper"}, task["resolver_usernames"], user)
		}

		// The task resolver can now resolve and see the task.
		require.Len(t, b.allTasks(t), 4)
		require.Len(t, listTasks(t, b, "helper", "/task?type=resolvable"), 4)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			name   string
			body   string
			status int
			msg    string
		}{
			{"UnknownTemplate", `{"template_name": "nope"}`, http.StatusNotFound, "template not found: nope"},
			{"MissingTemplateName", `{}`, http.StatusBadRequest, "template_name: required"},
			{"NotAnObject", `["a"]`, http.StatusBadRequest, "binding error: error parsing request body: the body must be an object, got array"},
			{"WrongFieldType", `{"template_name": 3}`, http.StatusBadRequest, `binding error: error parsing request body: field "template_name": expected a string, got number`},
			{"BrokenJSON", `{"template_name": "greet"`, http.StatusBadRequest, "binding error: error parsing request body: unexpected end of JSON input"},
			{"Blocked", `{"template_name": "blocked"}`, http.StatusBadRequest, "Template not available (blocked)"},
			{
				"ReservedTag", `{"template_name": "greet", "input": {"name": "x"}, "tags": {"_utask_parent_task_id": "1"}}`,
				http.StatusBadRequest, `tag name "_utask_parent_task_id" not allowed`,
			},
			{
				"BadDelay", `{"template_name": "greet", "input": {"name": "x"}, "delay": "soon"}`,
				http.StatusBadRequest, `delay: time: invalid duration "soon"`,
			},
			{
				"MissingInput", `{"template_name": "greet", "input": {}}`,
				http.StatusBadRequest, "Failed to create new Task: Missing input 'name'",
			},
			{
				"Regex", `{"template_name": "greet", "input": {"name": "Bob"}}`,
				http.StatusBadRequest, "Failed to create new Task: Invalid input 'name': 'Bob' doesnt comply with regex '^[a-z]+$'",
			},
			{
				"Type", `{"template_name": "greet", "input": {"name": "bob", "count": "three"}}`,
				http.StatusBadRequest, "Failed to create new Task: Invalid value 'count': expected a number",
			},
			{
				"LegalValues", `{"template_name": "greet", "input": {"name": "bob", "color": "green"}}`,
				http.StatusBadRequest, "Failed to create new Task: Invalid input 'color': 'green' is not a legal value ([red blue])",
			},
			{
				"ShortComment", `{"template_name": "greet", "input": {"name": "bob"}, "comment": "hi"}`,
				http.StatusBadRequest, "Failed to create comment: task comment can't be shorter than 3 characters",
			},
		}

		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()

				b := setup(t, options{})
				resp := b.post(t, "bob", "/task", tc.body)
				require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

				msg := resp.errorMessage(t)
				if tc.msg != "" {
					require.Equal(t, tc.msg, msg)
				} else {
					require.True(t, strings.HasPrefix(msg, "failed to template: Templating error: "), msg)
				}

				require.Empty(t, b.allTasks(t), "nothing is stored")

				launched, _, wakes := b.runner.calls()
				require.Empty(t, launched)
				require.Zero(t, wakes)
			})
		}
	})
}

func TestBodies(t *testing.T) {
	t.Parallel()

	t.Run("Malformed", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})

		for _, body := range []string{`{"template_name": "greet"`, "a: [", `{"template_name": ["x"]}`, `[1, 2]`} {
			resp := b.post(t, "bob", "/task", body)
			require.Equal(t, http.StatusBadRequest, resp.status, "body %q", body)

			msg := resp.errorMessage(t)
			require.True(t, strings.HasPrefix(msg, "binding error: error parsing request body: "), msg)
		}

		require.Empty(t, b.allTasks(t))
	})

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{maxBodyBytes: 1024})
		big := fmt.Sprintf(`{"template_name": "greet", "input": {"name": "%s"}}`, strings.Repeat("a", 2000))

		resp := b.post(t, "bob", "/task", big)
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, "binding error: error parsing request body: http: request body too large", resp.errorMessage(t))
		require.Empty(t, b.allTasks(t))

		// Just under the limit is fine.
		small := fmt.Sprintf(`{"template_name": "greet", "input": {"name": "%s"}}`, strings.Repeat("a", 900))
		require.Equal(t, http.StatusCreated, b.post(t, "bob", "/task", small).status)
	})
}

func TestGetTask(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "bob", "secret": "hunter2"},
		"watcher_usernames": ["wendy"], "watcher_groups": ["watchers"]}`)
	id := task["id"].(string)

	require.Equal(t, "hunter2", task["input"].(map[string]any)["secret"], "the creator sees its input in clear")

	t.Run("Permissions", func(t *testing.T) {
		t.Parallel()

		tests := []struct {
			user   string
			status int
			secret any
		}{
			{"bob", http.StatusOK, "**__SECRET__**"},   // requester
			{"wendy", http.StatusOK, "**__SECRET__**"}, // watcher by name
			{"walt", http.StatusOK, "**__SECRET__**"},  // watcher by group
			{"admin", http.StatusOK, "hunter2"},        // admin by name
			{"ada", http.StatusOK, "hunter2"},          // admin by group
			{"mallory", http.StatusForbidden, nil},
		}

		for _, tc := range tests {
			t.Run(tc.user, func(t *testing.T) {
				t.Parallel()

				resp := b.get(t, tc.user, "/task/"+id)
				require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

				if tc.status != http.StatusOK {
					require.Equal(t, "Can't display task details", resp.errorMessage(t))

					return
				}

				input := resp.object(t)["input"].(map[string]any)
				require.Equal(t, tc.secret, input["secret"])
				require.Equal(t, "bob", input["name"])
			})
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "admin", "/task/"+uuid.NewString())
		require.Equal(t, http.StatusNotFound, resp.status)
		require.True(t, strings.HasPrefix(resp.errorMessage(t), "Failed to load task from public id: "))
	})

	t.Run("InvalidID", func(t *testing.T) {
		t.Parallel()

		resp := b.get(t, "admin", "/task/not-a-uuid")
		require.Equal(t, http.StatusBadRequest, resp.status)
		require.Equal(t, `Failed to load task from public id: invalid input syntax for type uuid: "not-a-uuid"`,
			resp.errorMessage(t))
	})

	t.Run("ResolverInputsAndBlockedErrors", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		task := b.createTask(t, "bob", `{"template_name": "manual"}`)
		id := task["id"].(string)

		resp := b.post(t, "owner", "/resolution", fmt.Sprintf(`{"task_id": %q, "resolver_inputs": {"ri1": "x"}}`, id))
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

		resID := resp.object(t)["id"].(string)
		b.runner.setSteps(resID, map[string]*template.Step{
			"first":  {Name: "first", Description: "the first step", State: state.ClientError, Error: "bad input"},
			"second": {Name: "second", Description: "the second step", State: state.Todo},
		})

		got := b.get(t, "bob", "/task/"+id).object(t)
		require.NotContains(t, got, "errors", "errors are listed for BLOCKED tasks only")

		defs := got["resolver_inputs"].([]any)
		require.Len(t, defs, 2)
		require.Equal(t, "ri1", defs[0].(map[string]any)["name"])

		b.setTaskState(t, id, state.TaskBlocked)

		got = b.get(t, "bob", "/task/"+id).object(t)
		require.Equal(t, []any{map[string]any{"step": "the first step", "error": "bad input"}}, got["errors"])
	})
}

// listTasks lists tasks and returns them; the call must succeed.
func listTasks(t *testing.T, b *bundle, user, path string) []map[string]any {
	t.Helper()

	resp := b.get(t, user, path)
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

	var tasks []map[string]any
	resp.json(t, &tasks)

	return tasks
}

func TestListTasks(t *testing.T) {
	t.Parallel()

	t.Run("Visibility", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		mine := b.createTask(t, "bob", `{"template_name": "manual"}`)
		watched := b.createTask(t, "carol", `{"template_name": "manual", "watcher_usernames": ["bob"]}`)
		groupWatched := b.createTask(t, "carol", `{"template_name": "greet", "input": {"name": "x"}, "watcher_groups": ["watchers"]}`)
		other := b.createTask(t, "carol", `{"template_name": "greet", "input": {"name": "y"}}`)

		ids := func(tasks []map[string]any) []string {
			out := []string{}
			for _, task := range tasks {
				out = append(out, task["id"].(string))
			}

			return out
		}

		id := func(m map[string]any) string { return m["id"].(string) }

		tests := []struct {
			name, user, query string
			want              []string
		}{
			{"OwnDefault", "bob", "", []string{id(watched), id(mine)}},
			{"Own", "bob", "?type=own", []string{id(watched), id(mine)}},
			{"ResolvableNone", "bob", "?type=resolvable", []string{}},
			{"ResolvableOwner", "owner", "?type=resolvable", []string{id(watched), id(mine)}},
			{"ResolvableOwnerGroup", "grace", "?type=resolvable", []string{id(watched), id(mine)}},
			{"AllWatcherGroup", "walt", "?type=all", []string{id(groupWatched)}},
			{"AllAdmin", "admin", "?type=all", []string{id(other), id(groupWatched), id(watched), id(mine)}},
			{"OwnAdmin", "admin", "?type=own", []string{}},
			{"State", "admin", "?type=all&state=DONE", []string{}},
			{"Template", "admin", "?type=all&template=greet", []string{id(other), id(groupWatched)}},
			{"Tag", "admin", "?type=all&tag=who%3Dcarol&tag=region%3Ddefault", []string{id(other), id(groupWatched)}},
		}

		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()

				tasks := listTasks(t, b, tc.user, "/task"+tc.query)
				require.Equal(t, tc.want, ids(tasks))

				for _, task := range tasks {
					require.Contains(t, task, "input")
					require.Nil(t, task["input"], "listings have input: null")
					require.NotContains(t, task, "result")
				}
			})
		}
	})

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})

		want := map[string]bool{}
		for i := range 25 {
			task := b.createTask(t, "bob", fmt.Sprintf(`{"template_name": "greet", "input": {"name": "p"}, "tags": {"n": "%d"}}`, i%2))
			if i%2 == 0 {
				want[task["id"].(string)] = true
			}
		}

		b.createTask(t, "bob", `{"template_name": "manual"}`) // filtered out by template

		after := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
		path := "/task?template=greet&tag=n%3D0&state=TODO&after=" + url.QueryEscape(after) + "&page_size=5"
		seen := map[string]bool{}
		pages := 0

		for path != "" {
			resp := b.get(t, "bob", path)
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			require.Equal(t, "10", resp.header.Get("X-Paging-PageSize"), "page sizes under 10 are raised to 10")

			var tasks []map[string]any
			resp.json(t, &tasks)

			for _, task := range tasks {
				id := task["id"].(string)
				require.False(t, seen[id], "task %s listed twice", id)
				seen[id] = true
			}

			pages++
			path = ""

			link := resp.header.Get("Link")
			if len(tasks) == 10 {
				require.True(t, strings.HasPrefix(link, "</task?") && strings.HasSuffix(link, ">; rel=next"), link)

				next, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), ">; rel=next"))
				require.NoError(t, err)

				q := next.Query()
				require.Equal(t, "greet", q.Get("template"))
				require.Equal(t, []string{"n=0"}, q["tag"])
				require.Equal(t, "TODO", q.Get("state"))
				require.Equal(t, after, q.Get("after"))
				require.Equal(t, "own", q.Get("type"))
				require.Equal(t, "10", q.Get("page_size"))
				require.Equal(t, tasks[9]["id"], q.Get("last"))
				require.Equal(t, next.Query().Encode(), next.RawQuery, "keys are in alphabetical order")

				path = next.String()
			} else {
				require.Empty(t, link)
			}
		}

		require.Equal(t, want, seen)
		require.Equal(t, 2, pages)
	})

	t.Run("PageSizeNormalisation", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})

		for query, want := range map[string]string{"": "1000", "?page_size=0": "1000", "?page_size=3": "10",
			"?page_size=50": "50", "?page_size=20000": "10000"} {
			resp := b.get(t, "bob", "/task"+query)
			require.Equal(t, http.StatusOK, resp.status)
			require.Equal(t, want, resp.header.Get("X-Paging-PageSize"), query)
			require.Empty(t, resp.header.Get("Link"))
			require.Equal(t, "[]\n", string(resp.body), "an empty list is [] and never null")
		}
	})

	t.Run("BadQueries", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})

		tests := []struct {
			name, query string
			status      int
			msg         string
		}{
			{"Type", "?type=mine", http.StatusBadRequest, "binding error on field 'Type' of type 'listTasksIn': " +
				"parameter has not an acceptable value, enum=[own resolvable all]"},
			{"Repeated", "?state=TODO&state=DONE", http.StatusBadRequest,
				"binding error on field 'State' of type 'listTasksIn': multiple values not supported"},
			{"Tag", "?tag=novalue", http.StatusBadRequest, "invalid tag novalue"},
			{"TagEmptyKey", "?tag=%3Dv", http.StatusBadRequest, "invalid tag =v"},
			{"PageSize", "?page_size=-1", http.StatusBadRequest, "expected 'page_size' to be of type uint64"},
			{"Before", "?before=yesterday", http.StatusBadRequest, "expected 'before' to be of type struct"},
			{"UnknownLast", "?last=" + uuid.NewString(), http.StatusNotFound, ""},
			{"UnknownBatch", "?batch=" + uuid.NewString(), http.StatusNotFound, ""},
		}

		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()

				resp := b.get(t, "bob", "/task"+tc.query)
				require.Equal(t, tc.status, resp.status, "body: %s", resp.body)

				if tc.msg != "" {
					require.Equal(t, tc.msg, resp.errorMessage(t))
				}
			})
		}

		// Empty occurrences are no filter at all.
		require.Equal(t, http.StatusOK, b.get(t, "bob", "/task?state=&state=&type=").status)
	})
}
