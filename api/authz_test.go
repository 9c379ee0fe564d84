package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/api"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// role is one kind of caller of the authorization table. Each role holds
// exactly one relation to the fixture task (auth.md §2).
type role int

// The roles of the authorization table.
const (
	anonymous           role = iota // no identity at all
	requester                       // created the task
	watcherByName                   // in the task's watcher_usernames
	watcherByGroup                  // in a group of the task's watcher_groups
	ownerByUser                     // in the template's allowed_resolver_usernames
	ownerByGroup                    // in a group of the template's allowed_resolver_groups
	resolverByTaskUser              // in the task's resolver_usernames
	resolverByTaskGroup             // in a group of the task's resolver_groups
	resolutionResolver              // created the task's resolution (when there is one)
	otherUser                       // no relation to the task
	adminByUser                     // in admin_usernames
	adminByGroup                    // in a group of admin_groups
	roleCount
)

// name returns the subtest name of r.
func (r role) name() string {
	switch r {
	case anonymous:
		return "Anonymous"
	case requester:
		return "Requester"
	case watcherByName:
		return "WatcherByName"
	case watcherByGroup:
		return "WatcherByGroup"
	case ownerByUser:
		return "ResolverByTemplateUser"
	case ownerByGroup:
		return "ResolverByTemplateGroup"
	case resolverByTaskUser:
		return "ResolverByTaskUser"
	case resolverByTaskGroup:
		return "ResolverByTaskGroup"
	case resolutionResolver:
		return "ResolutionResolver"
	case otherUser:
		return "OtherUser"
	case adminByUser:
		return "AdminByUser"
	case adminByGroup:
		return "AdminByGroup"
	case roleCount:
	}

	return "Unknown"
}

// user returns the X-Remote-User of r ("" sends none). The harness knows
// three groups (owners: grace, watchers: walt, admins: ada), so walt's
// group is the task's watcher group, or, for resolverByTaskGroup only, the
// task's resolver group (see authzFixture).
func (r role) user() string {
	switch r {
	case requester:
		return "bob"
	case watcherByName:
		return "wendy"
	case watcherByGroup, resolverByTaskGroup:
		return "walt"
	case ownerByUser:
		return "owner"
	case ownerByGroup:
		return "grace"
	case resolverByTaskUser:
		return "rita"
	case resolutionResolver:
		return "rex"
	case otherUser:
		return "mallory"
	case adminByUser:
		return "admin"
	case adminByGroup:
		return "ada"
	case anonymous, roleCount:
	}

	return ""
}

// roles is a set of roles.
type roles []role

func (rs roles) has(r role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}

	return false
}

// union returns the roles of rs and of others.
func (rs roles) union(others ...roles) roles {
	out := append(roles(nil), rs...)
	for _, o := range others {
		out = append(out, o...)
	}

	return out
}

// Role sets named after auth.md §2.
//
//nolint:gochecknoglobals // immutable lookup tables of the authorization table
var (
	admins        = roles{adminByUser, adminByGroup}
	owners        = roles{ownerByUser, ownerByGroup}
	taskResolvers = roles{resolverByTaskUser, resolverByTaskGroup}
	watchers      = roles{watcherByName, watcherByGroup}
	// managers are the resolution managers of a task with a resolution.
	managers = owners.union(taskResolvers, roles{resolutionResolver})
	// readers may read a task with a resolution, its resolution and its
	// comments.
	readers = admins.union(roles{requester}, watchers, managers)
	// everyone is every identified caller.
	everyone = readers.union(roles{otherUser})
)

// fixtureKind says what a cell needs before its request.
type fixtureKind int

const (
	// noTask: the templates only.
	noTask fixtureKind = iota
	// manualTask: a task of the manual template requested by bob, watched
	// by wendy and walt's group, with rita as task resolver and a comment
	// by wendy; no resolution.
	manualTask
	// manualResolution: manualTask with a resolution whose resolver is rex
	// and whose steps have outputs.
	manualResolution
	// secretTask: a task of the greet template requested by bob with a
	// password input, the same watchers and resolvers as manualTask, and
	// its auto-run resolution, given to rex.
	secretTask
	// callbackTask: manualResolution with the task BLOCKED on a callback.
	callbackTask
)

// authzFixture is what a cell's request is about.
type authzFixture struct {
	b             *bundle
	taskID        string
	resolutionID  string
	commentID     string
	callbackID    string
	callbackToken string
}

// The step of the manual template whose outputs are hidden to watchers.
const authzStep = "first"

// newAuthzFixture builds a fresh fixture for one cell of role r.
func newAuthzFixture(t *testing.T, kind fixtureKind, resState string, r role) *authzFixture {
	t.Helper()

	return buildFixture(t, options{functions: testFunctions(2)}, kind, resState, r)
}

// buildFixture builds a fixture of the given kind on a bundle set up with
// opts, for role r.
func buildFixture(t *testing.T, opts options, kind fixtureKind, resState string, r role) *authzFixture {
	t.Helper()

	return populate(t, setup(t, opts), kind, resState, r)
}

// populate adds to b a fixture of the given kind, for role r.
func populate(t *testing.T, b *bundle, kind fixtureKind, resState string, r role) *authzFixture {
	t.Helper()

	f := &authzFixture{b: b}
	if kind == noTask {
		return f
	}

	body := `{"template_name": "manual", "input": {"why": "because"}}`
	if kind == secretTask {
		body = `{"template_name": "greet", "input": {"name": "bob", "secret": "hunter2"}}`
	}

	task := f.b.createTask(t, requester.user(), body)
	f.taskID, _ = task["id"].(string)
	f.resolutionID, _ = task["resolution"].(string)

	f.b.updateTask(t, f.taskID, func(task *store.Task) {
		task.WatcherUsernames = []string{watcherByName.user()}
		task.ResolverUsernames = []string{resolverByTaskUser.user()}

		if r == resolverByTaskGroup {
			task.ResolverGroups = []string{"watchers"}
		} else {
			task.WatcherGroups = []string{"watchers"}
		}
	})

	c := f.b.addComment(t, watcherByName.user(), f.taskID, "first comment")
	f.commentID, _ = c["id"].(string)

	if kind == manualResolution || kind == callbackTask {
		resp := f.b.post(t, ownerByUser.user(), "/resolution", `{"task_id": "`+f.taskID+`", "resolver_inputs": {"ri1": "x"}}`)
		require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

		f.resolutionID, _ = resp.object(t)["id"].(string)
		f.b.runner.setSteps(f.resolutionID, map[string]*template.Step{
			authzStep: {
				Name: authzStep, Description: "the first step", State: state.Done, Error: "kept",
				Output: map[string]any{"a": 1}, Metadata: map[string]any{"code": 200},
				Children: []any{"child"}, Item: "it",
				Action: template.Action{Type: "echo", Configuration: []byte(`{"output": {"a": 1}}`)},
			},
			"second": {
				Name: "second", Description: "the second step", State: state.Todo, Dependencies: []string{authzStep},
				Action: template.Action{Type: "echo", Configuration: []byte(`{"output": {"b": 2}}`)},
			},
		})
	}

	if f.resolutionID != "" {
		f.b.changeResolution(t, f.resolutionID, func(res *store.Resolution) {
			res.ResolverUsername = resolutionResolver.user()
			if resState != "" {
				res.State = resState
			}
		})
	}

	if kind == callbackTask {
		f.b.setTaskState(t, f.taskID, state.TaskBlocked)
		f.callbackID, f.callbackToken = f.b.insertCallback(t, f.taskID, f.resolutionID, "")
	}

	return f
}

// updateTask changes a task directly in the store.
func (b *bundle) updateTask(t *testing.T, publicID string, change func(*store.Task)) {
	t.Helper()

	ctx := t.Context()

	found, err := b.store.TaskGet(ctx, publicID)
	require.NoError(t, err)

	tx, err := b.store.Begin(ctx)
	require.NoError(t, err)

	defer func() { _ = tx.Rollback(ctx) }()

	locked, err := tx.TaskLock(ctx, found.ID)
	require.NoError(t, err)

	change(locked)
	require.NoError(t, tx.TaskUpdate(ctx, locked))
	require.NoError(t, tx.Commit(ctx))
}

// authzSnapshot is what a refused request must leave as it was.
type authzSnapshot struct {
	tasks, comments     int
	taskState, resState string
	resolvers           []string
	resolverUsername    string
}

// snapshot reads the fixture's state from the store.
func (f *authzFixture) snapshot(t *testing.T) authzSnapshot {
	t.Helper()

	var s authzSnapshot

	s.tasks = len(f.b.allTasks(t))

	if f.taskID != "" {
		task := f.b.task(t, f.taskID)
		s.taskState, s.resolvers = task.State, task.ResolverUsernames
		s.comments = len(f.b.comments(t, f.taskID))
	}

	if f.resolutionID != "" {
		res := f.b.resolution(t, f.resolutionID)
		s.resState, s.resolverUsername = res.State, res.ResolverUsername
	}

	return s
}

// path returns pattern with its parameters replaced by the fixture's ids.
func (f *authzFixture) path(t *testing.T, pattern string) string {
	t.Helper()

	id := f.taskID

	switch {
	case strings.HasPrefix(pattern, "/resolution/"):
		id = f.resolutionID
	case strings.HasPrefix(pattern, "/unsecured/callback/"):
		id = f.callbackID
	}

	name := "hidden"
	if strings.HasPrefix(pattern, "/function/") {
		name = "fn-00"
	}

	p := strings.NewReplacer(
		"{id}", id, "{commentid}", f.commentID, "{stepName}", authzStep, "{name}", name, "{$}", "",
	).Replace(pattern)
	require.NotContains(t, p, "{", "the authorization table cannot fill a parameter of %s", pattern)

	return p
}

// authzCase is one row of the authorization table: a request on a route,
// and who may make it.
type authzCase struct {
	// name tells the case apart when a route has several.
	name string
	// route is "METHOD pattern", as in the route table.
	route   string
	fixture fixtureKind
	// resState is the state the resolution is put in ("" keeps it).
	resState string
	// query is added to the path; {token} stands for the fixture
	// callback's token.
	query string
	// body is the request body; {task_id} stands for the fixture task.
	body string
	// public routes need no identity: every role, anonymous included,
	// gets status.
	public bool
	// allowed get status; the others get 403, or 401 when adminOnly (the
	// admin middleware), and anonymous always gets 401.
	allowed   roles
	adminOnly bool
	status    int
	// denied is the message of the 403, when the spec gives one.
	denied string
	// deniedFor, when set, gives the message of the 403 by role.
	deniedFor func(r role) string
	// check verifies what an allowed role sees.
	check func(t *testing.T, f *authzFixture, r role, resp response)
}

// expected returns the status r gets.
func (c authzCase) expected(r role) int {
	switch {
	case c.public:
		return c.status
	case r == anonymous:
		return http.StatusUnauthorized
	case c.allowed.has(r):
		return c.status
	case c.adminOnly:
		return http.StatusUnauthorized
	}

	return http.StatusForbidden
}

// authzCases is the authorization table, from api.md §2, §5–§8, §11 and
// auth.md §2–§3.
func authzCases() []authzCase {
	return []authzCase{
		{
			route: "POST /task", body: `{"template_name": "manual"}`,
			allowed: everyone, status: http.StatusCreated,
			check: func(t *testing.T, _ *authzFixture, r role, resp response) {
				t.Helper()
				require.Equal(t, r.user(), resp.object(t)["requester_username"])
			},
		},
		{
			name: "WithResolvers", route: "POST /task",
			body:    `{"template_name": "manual", "resolver_usernames": ["rita"], "resolver_groups": ["watchers"]}`,
			allowed: admins.union(owners), status: http.StatusCreated,
			denied: "resolver_usernames and resolver_groups can't be set by a regular user, " +
				"you need to be owner of the template, or admin",
		},
		{
			route: "POST /batch", body: `{"template_name": "manual", "inputs": [{"why": "a"}, {"why": "b"}]}`,
			allowed: everyone, status: http.StatusCreated,
			check: func(t *testing.T, _ *authzFixture, _ role, resp response) {
				t.Helper()
				require.NotEmpty(t, resp.object(t)["id"])
			},
		},
		{
			// Anyone holding the token, with no identity at all.
			route: "POST /unsecured/callback/{id}", fixture: callbackTask, query: "?t={token}",
			body: `{"answer": 42}`, public: true, status: http.StatusOK,
			check: func(t *testing.T, _ *authzFixture, _ role, resp response) {
				t.Helper()
				require.Equal(t, "The callback has been resolved", resp.object(t)["message"])
			},
		},
		{
			// The requester may edit only while there is no resolution.
			name: "BeforeResolution", route: "PUT /task/{id}", fixture: manualTask,
			body:    `{"input": {"why": "edited"}, "watcher_usernames": ["wendy"], "watcher_groups": ["watchers"]}`,
			allowed: admins.union(owners, roles{requester}), status: http.StatusOK, denied: "Can't update task",
			check: editedInput,
		},
		{
			name: "PausedResolution", route: "PUT /task/{id}", fixture: manualResolution, resState: state.ResPaused,
			body:    `{"input": {"why": "edited"}, "watcher_usernames": ["wendy"], "watcher_groups": ["watchers"]}`,
			allowed: admins.union(owners), status: http.StatusOK, denied: "Can't update task",
			check: editedInput,
		},
		{
			route: "GET /task/{id}/audit", fixture: manualResolution,
			allowed: readers, status: http.StatusOK, denied: "Can't display task audit trail",
			check: func(t *testing.T, _ *authzFixture, _ role, resp response) {
				t.Helper()

				var entries []map[string]any
				resp.json(t, &entries)
				require.NotEmpty(t, entries, "the task's creation is audited")

				// The trail names what changed, never an input value or a
				// comment's text, so a watcher learns nothing more there.
				require.NotContains(t, string(resp.body), "because")
				require.NotContains(t, string(resp.body), "first comment")
			},
		},
		{
			route: "PUT /resolution/{id}", fixture: manualResolution, resState: state.ResPaused,
			body:    `{"resolver_inputs": {"ri1": "y"}}`,
			allowed: admins, adminOnly: true, status: http.StatusNoContent,
		},
		{
			route: "PUT /resolution/{id}/step/{stepName}", fixture: manualResolution, resState: state.ResPaused,
			body: `{"description": "fixed", "action": {"type": "echo", "configuration": {"output": {"a": 2}}}, ` +
				`"state": "TODO"}`,
			allowed: admins, adminOnly: true, status: http.StatusNoContent,
		},
		{
			route: "POST /key-rotate", fixture: manualResolution,
			allowed: admins, adminOnly: true, status: http.StatusOK,
		},
		{
			name: "All", route: "GET /task", query: "?type=all", fixture: manualResolution,
			// The resolution's own resolver is not a listing criterion.
			allowed: everyone, status: http.StatusOK,
			check: listed(admins.union(roles{requester}, watchers, owners, taskResolvers)),
		},
		{
			name: "Own", route: "GET /task", query: "?type=own", fixture: manualResolution,
			allowed: everyone, status: http.StatusOK,
			check: listed(roles{requester, watcherByName}),
		},
		{
			name: "Resolvable", route: "GET /task", query: "?type=resolvable", fixture: manualResolution,
			allowed: everyone, status: http.StatusOK,
			check: listed(owners.union(taskResolvers)),
		},
		{
			route: "GET /task/{id}", fixture: manualResolution,
			allowed: readers, status: http.StatusOK, denied: "Can't display task details",
			check: func(t *testing.T, f *authzFixture, _ role, resp response) {
				t.Helper()

				v := resp.object(t)
				require.Equal(t, map[string]any{"why": "because"}, v["input"])
				require.Equal(t, f.resolutionID, v["resolution"])
				require.Len(t, v["comments"], 1)
			},
		},
		{
			name: "Password", route: "GET /task/{id}", fixture: secretTask,
			// The greet template has no allowed resolvers.
			allowed: admins.union(roles{requester}, watchers, taskResolvers, roles{resolutionResolver}),
			status:  http.StatusOK, denied: "Can't display task details",
			check: func(t *testing.T, _ *authzFixture, r role, resp response) {
				t.Helper()

				input, _ := resp.object(t)["input"].(map[string]any)
				require.Equal(t, "bob", input["name"])

				if admins.has(r) {
					require.Equal(t, "hunter2", input["secret"])
				} else {
					require.Equal(t, service.SecretMask, input["secret"])
				}
			},
		},
		{
			// Rejecting leaves the resolution's own resolver out.
			route: "POST /task/{id}/wontfix", fixture: manualResolution,
			allowed: admins.union(roles{requester}, owners, taskResolvers), status: http.StatusNoContent,
			denied: "Can't set task's state to WONTFIX",
			check: func(t *testing.T, f *authzFixture, _ role, _ response) {
				t.Helper()
				require.Equal(t, state.TaskWontfix, f.b.task(t, f.taskID).State)
			},
		},
		{
			route: "DELETE /task/{id}", fixture: manualResolution,
			allowed: admins, adminOnly: true, status: http.StatusNoContent,
		},
		{
			route: "POST /task/{id}/comment", fixture: manualResolution, body: `{"content": "a new comment"}`,
			allowed: readers, status: http.StatusCreated, denied: "Can't create comment",
			check: func(t *testing.T, _ *authzFixture, r role, resp response) {
				t.Helper()
				require.Equal(t, r.user(), resp.object(t)["username"])
			},
		},
		{
			route: "GET /task/{id}/comment", fixture: manualResolution,
			allowed: readers, status: http.StatusOK, denied: "Can't list comment",
			check: func(t *testing.T, f *authzFixture, _ role, resp response) {
				t.Helper()

				var cs []map[string]any
				resp.json(t, &cs)
				require.Len(t, cs, 1)
				require.Equal(t, f.commentID, cs[0]["id"])
			},
		},
		{
			route: "GET /task/{id}/comment/{commentid}", fixture: manualResolution,
			allowed: readers, status: http.StatusOK, denied: "Can't get comment",
			check: func(t *testing.T, _ *authzFixture, _ role, resp response) {
				t.Helper()
				require.Equal(t, "first comment", resp.object(t)["content"])
			},
		},
		{
			// Only the author (wendy) and the administrators.
			route: "PUT /task/{id}/comment/{commentid}", fixture: manualResolution, body: `{"content": "edited"}`,
			allowed: admins.union(roles{watcherByName}), status: http.StatusOK, denied: "Not allowed to update comment",
		},
		{
			route: "DELETE /task/{id}/comment/{commentid}", fixture: manualResolution,
			allowed: admins.union(roles{watcherByName}), status: http.StatusNoContent,
			denied: "Not allowed to delete comment",
		},
		{
			// There is no resolution yet, so rex is nobody here.
			route: "POST /resolution", fixture: manualTask, body: `{"task_id": "{task_id}", "resolver_inputs": {"ri1": "x"}}`,
			allowed: admins.union(owners, taskResolvers), status: http.StatusCreated,
			denied: "You are not allowed to resolve this task",
		},
		{
			// Starting over needs the template's allow_task_start_over
			// from a manager, which the manual template does not give.
			name: "StartOver", route: "POST /resolution", fixture: manualResolution, resState: state.ResPaused,
			body:    `{"task_id": "{task_id}", "start_over": true, "resolver_inputs": {"ri1": "again"}}`,
			allowed: admins, status: http.StatusCreated,
			deniedFor: func(r role) string {
				if owners.has(r) || taskResolvers.has(r) {
					return "You are not allowed to start over this task"
				}

				return "You are not allowed to resolve this task"
			},
		},
		{
			route: "GET /resolution/{id}", fixture: manualResolution,
			allowed: readers, status: http.StatusOK, denied: "Can't display resolution details",
			check: func(t *testing.T, _ *authzFixture, r role, resp response) {
				t.Helper()

				v := resp.object(t)
				steps, _ := v["steps"].(map[string]any)
				step, _ := steps[authzStep].(map[string]any)
				requireStepVisibility(t, r, step)

				if admins.has(r) || managers.has(r) {
					require.Equal(t, map[string]any{"ri1": "x", "ri2": "fallback"}, v["resolver_inputs"])
				} else {
					require.NotContains(t, v, "resolver_inputs")
				}
			},
		},
		{
			route: "POST /resolution/{id}/run", fixture: manualResolution,
			allowed: admins.union(managers), status: http.StatusNoContent,
		},
		{
			route: "POST /resolution/{id}/pause", fixture: manualResolution,
			allowed: admins.union(managers), status: http.StatusNoContent, denied: "You are not allowed to pause this task",
			check: resolutionState(state.ResPaused),
		},
		{
			// force rescues a RUNNING resolution, for administrators only.
			name: "Force", route: "POST /resolution/{id}/pause", fixture: manualResolution,
			resState: state.ResRunning, query: "?force=true",
			allowed: admins, status: http.StatusNoContent,
			deniedFor: func(r role) string {
				if managers.has(r) {
					return "Not an admin user"
				}

				return "You are not allowed to pause this task"
			},
			check: resolutionState(state.ResPaused),
		},
		{
			route: "POST /resolution/{id}/extend", fixture: manualResolution, resState: state.ResBlockedMaxRetries,
			allowed: admins.union(managers), status: http.StatusNoContent, denied: "Not allowed to extend resolution",
			check: resolutionState(state.ResError),
		},
		{
			route: "POST /resolution/{id}/cancel", fixture: manualResolution,
			allowed: admins.union(managers), status: http.StatusNoContent, denied: "You are not allowed to cancel this task",
			check: resolutionState(state.ResCancelled),
		},
		{
			// Task resolvers and the resolution's resolver are not enough.
			route: "PUT /resolution/{id}/step/{stepName}/state", fixture: manualResolution, resState: state.ResPaused,
			body: `{"state": "TODO"}`, allowed: admins.union(owners), status: http.StatusNoContent,
			denied: "Can't update resolution step state",
		},
		{
			route: "GET /resolution/{id}/step/{stepName}", fixture: manualResolution,
			allowed: readers, status: http.StatusOK, denied: "Can't display resolution details",
			check: func(t *testing.T, _ *authzFixture, r role, resp response) {
				t.Helper()
				requireStepVisibility(t, r, resp.object(t))
			},
		},
		{
			route: "GET /template", allowed: everyone, status: http.StatusOK,
			check: func(t *testing.T, _ *authzFixture, r role, resp response) {
				t.Helper()

				var list []map[string]any
				resp.json(t, &list)

				var names []any
				for _, tt := range list {
					names = append(names, tt["name"])
				}

				require.Contains(t, names, "manual")
				require.Equal(t, admins.has(r), contains(names, "hidden"), "hidden templates are listed for admins only")
			},
		},
		{
			// A hidden template is readable by name by anyone.
			route: "GET /template/{name}", allowed: everyone, status: http.StatusOK,
			check: func(t *testing.T, _ *authzFixture, _ role, resp response) {
				t.Helper()
				require.Equal(t, "hidden", resp.object(t)["name"])
			},
		},
		{route: "GET /function", allowed: everyone, status: http.StatusOK},
		{route: "GET /function/{name}", allowed: everyone, status: http.StatusOK},
		{
			route: "GET /meta", allowed: everyone, status: http.StatusOK,
			check: func(t *testing.T, _ *authzFixture, r role, resp response) {
				t.Helper()

				m := resp.object(t)
				require.Equal(t, r.user(), m["username"])
				require.Equal(t, admins.has(r), m["user_is_admin"])
			},
		},
		{route: "GET /{$}", allowed: everyone, status: http.StatusMovedPermanently},
		{route: "GET /metrics", public: true, status: http.StatusOK},
		{route: "GET /unsecured/mon/ping", public: true, status: http.StatusOK},
		{route: "GET /unsecured/template-schema.json", public: true, status: http.StatusOK},
		{route: "GET /unsecured/stats", public: true, status: http.StatusOK},
		{route: "GET /unsecured/spec.json", public: true, status: http.StatusOK},
	}
}

// listed returns a check that the fixture task is in a listing exactly for
// the roles in visible, always in list form.
func listed(visible roles) func(t *testing.T, f *authzFixture, r role, resp response) {
	return func(t *testing.T, f *authzFixture, r role, resp response) {
		t.Helper()

		var list []map[string]any
		resp.json(t, &list)

		found := false

		for _, task := range list {
			require.Nil(t, task["input"], "a listing has no input")

			if task["id"] == f.taskID {
				found = true
			}
		}

		require.Equal(t, visible.has(r), found, "the task is listed")
	}
}

// editedInput checks the answer of a task edit.
func editedInput(t *testing.T, _ *authzFixture, _ role, resp response) {
	t.Helper()
	require.Equal(t, map[string]any{"why": "edited"}, resp.object(t)["input"])
}

// resolutionState returns a check that the fixture resolution is in state
// want.
func resolutionState(want string) func(t *testing.T, f *authzFixture, r role, resp response) {
	return func(t *testing.T, f *authzFixture, _ role, _ response) {
		t.Helper()
		require.Equal(t, want, f.b.resolution(t, f.resolutionID).State)
	}
}

// requireStepVisibility checks that the output, metadata, children and item
// of the fixture step are shown to administrators and managers only, while
// its state, error and action are shown to every reader.
func requireStepVisibility(t *testing.T, r role, step map[string]any) {
	t.Helper()

	require.Equal(t, state.Done, step["state"])
	require.Equal(t, "kept", step["error"])
	require.Contains(t, step, "action")

	full := admins.has(r) || managers.has(r)
	for _, k := range []string{"output", "metadata", "children", "item"} {
		_, present := step[k]
		require.Equal(t, full, present, "step field %s", k)
	}
}

func contains(list []any, v any) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}

	return false
}

// TestAuthorization runs every row of the authorization table for every
// role, each cell on a fresh fixture (the cells of a read share one, which
// they cannot alter), and fails for any route of the route table without a
// row.
func TestAuthorization(t *testing.T) {
	t.Parallel()

	cases := authzCases()

	t.Run("EveryRouteHasRows", func(t *testing.T) {
		t.Parallel()

		covered := map[string]bool{}
		for _, c := range cases {
			covered[c.route] = true
		}

		known := map[string]bool{}

		for _, rt := range api.Routes() {
			key := rt.Method + " " + rt.Pattern
			known[key] = true
			require.True(t, covered[key], "route %s has no row in the authorization table", key)
		}

		for key := range covered {
			require.True(t, known[key], "the authorization table names %s, which is not a route", key)
		}
	})

	for _, c := range cases {
		method, pattern, ok := strings.Cut(c.route, " ")
		require.True(t, ok, c.route)

		name := strings.NewReplacer("{", "", "}", "", "$", "Root").Replace(c.route)
		if c.name != "" {
			name += " " + c.name
		}

		t.Run(name, func(t *testing.T) {
			t.Parallel()

			// A read cannot alter its fixture, so the cells of a read share
			// theirs: one where walt's group watches the task, one where it
			// resolves it.
			var shared map[bool]*authzFixture
			if method == http.MethodGet {
				shared = map[bool]*authzFixture{
					false: newAuthzFixture(t, c.fixture, c.resState, otherUser),
					true:  newAuthzFixture(t, c.fixture, c.resState, resolverByTaskGroup),
				}
			}

			for r := anonymous; r < roleCount; r++ {
				t.Run(r.name(), func(t *testing.T) {
					t.Parallel()

					f := shared[r == resolverByTaskGroup]
					if f == nil {
						f = newAuthzFixture(t, c.fixture, c.resState, r)
					}
					before := f.snapshot(t)
					resp := f.b.do(t, request{
						method: method, path: f.path(t, pattern) + strings.ReplaceAll(c.query, "{token}", f.callbackToken),
						user: r.user(),
						body: strings.ReplaceAll(c.body, "{task_id}", f.taskID),
					})

					want := c.expected(r)
					require.Equal(t, want, resp.status, "%s as %s: %s", c.route, r.name(), resp.body)

					switch {
					case want == http.StatusForbidden:
						msg := resp.errorMessage(t)

						switch {
						case c.deniedFor != nil:
							require.Equal(t, c.deniedFor(r), msg)
						case c.denied != "":
							require.Equal(t, c.denied, msg)
						}

						require.Equal(t, before, f.snapshot(t), "a refused request changes nothing")
					case want == http.StatusUnauthorized:
						require.NotEmpty(t, resp.errorMessage(t))
						require.Equal(t, before, f.snapshot(t), "a refused request changes nothing")
					case c.check != nil:
						c.check(t, f, r, resp)
					}
				})
			}
		})
	}
}
