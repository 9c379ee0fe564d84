package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// commentFixture is a task of the manual template requested by bob and
// watched by walt.
func commentFixture(t *testing.T) (*bundle, string) {
	t.Helper()

	b := setup(t, options{})
	task := b.createTask(t, "bob", `{"template_name": "manual", "watcher_usernames": ["walt"]}`)
	id, _ := task["id"].(string)

	return b, id
}

// addComment posts a comment and returns its view; the call must succeed.
func (b *bundle) addComment(t *testing.T, user, taskID, content string) map[string]any {
	t.Helper()

	resp := b.post(t, user, "/task/"+taskID+"/comment", `{"content": "`+content+`"}`)
	require.Equal(t, http.StatusCreated, resp.status, "body: %s", resp.body)

	return resp.object(t)
}

// comments lists the comments of a task as an administrator.
func (b *bundle) comments(t *testing.T, taskID string) []map[string]any {
	t.Helper()

	resp := b.get(t, "admin", "/task/"+taskID+"/comment")
	require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)

	var cs []map[string]any
	resp.json(t, &cs)

	return cs
}

func TestComments(t *testing.T) {
	t.Parallel()

	t.Run("CreateAndRead", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)

		c := b.addComment(t, "walt", taskID, "looks good to me")
		require.Equal(t, "walt", c["username"])
		require.Equal(t, "looks good to me", c["content"])
		require.Equal(t, c["created"], c["updated"])
		commentID, _ := c["id"].(string)
		require.Len(t, commentID, 36)

		require.Equal(t, []map[string]any{c}, b.comments(t, taskID))

		one := b.get(t, "bob", "/task/"+taskID+"/comment/"+commentID)
		require.Equal(t, http.StatusOK, one.status, "body: %s", one.body)
		require.Equal(t, c, one.object(t))

		task := b.get(t, "bob", "/task/"+taskID).object(t)
		require.Equal(t, []any{c}, task["comments"])

		list := b.get(t, "admin", "/task?type=all")
		require.NotContains(t, string(list.body), "comments", "listings carry no comments")
	})

	t.Run("NoCommentsField", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)

		task := b.get(t, "bob", "/task/"+taskID).object(t)
		require.NotContains(t, task, "comments")
		require.Empty(t, b.comments(t, taskID))
		require.Equal(t, "[]", strings.TrimSpace(string(b.get(t, "bob", "/task/"+taskID+"/comment").body)))
	})

	t.Run("Permissions", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)
		existing := b.addComment(t, "bob", taskID, "first")
		commentPath := "/task/" + taskID + "/comment/" + existing["id"].(string)

		for _, c := range []struct {
			user    string
			allowed bool
		}{
			{"admin", true}, {"ada", true}, {"bob", true}, {"walt", true}, {"owner", true}, {"grace", true},
			{"eve", false},
		} {
			post := b.post(t, c.user, "/task/"+taskID+"/comment", `{"content": "from `+c.user+`"}`)
			list := b.get(t, c.user, "/task/"+taskID+"/comment")
			one := b.get(t, c.user, commentPath)

			if c.allowed {
				require.Equal(t, http.StatusCreated, post.status, c.user)
				require.Equal(t, http.StatusOK, list.status, c.user)
				require.Equal(t, http.StatusOK, one.status, c.user)

				continue
			}

			require.Equal(t, http.StatusForbidden, post.status, c.user)
			require.Equal(t, "Can't create comment", post.errorMessage(t))
			require.Equal(t, http.StatusForbidden, list.status, c.user)
			require.Equal(t, "Can't list comment", list.errorMessage(t))
			require.Equal(t, http.StatusForbidden, one.status, c.user)
			require.Equal(t, "Can't get comment", one.errorMessage(t))
		}

		require.Len(t, b.comments(t, taskID), 7, "the first one and one by each allowed caller")
	})

	t.Run("ContentLength", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)

		for _, c := range []struct {
			name, content, msg string
		}{
			{"Empty", "", "Failed to create comment: task comment can't be shorter than 3 characters"},
			{"TwoCharacters", "ab", "Failed to create comment: task comment can't be shorter than 3 characters"},
			{"TooLong", strings.Repeat("x", 100001), "Failed to create comment: task comment can't be longer than 100000 characters"},
			{"ThreeCharacters", "abc", ""},
			{"ThreeMultibyteCharacters", "éèê", ""},
			{"Longest", strings.Repeat("x", 100000), ""},
		} {
			resp := b.post(t, "bob", "/task/"+taskID+"/comment", `{"content": "`+c.content+`"}`)
			if c.msg == "" {
				require.Equal(t, http.StatusCreated, resp.status, c.name)
				require.Equal(t, c.content, resp.object(t)["content"], c.name)

				continue
			}

			require.Equal(t, http.StatusBadRequest, resp.status, c.name)
			require.Equal(t, c.msg, resp.errorMessage(t), c.name)
		}

		require.Len(t, b.comments(t, taskID), 3)
	})

	t.Run("EditAndDelete", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)
		c := b.addComment(t, "walt", taskID, "first words")
		path := "/task/" + taskID + "/comment/" + c["id"].(string)

		denied := b.do(t, request{method: http.MethodPut, path: path, user: "bob", body: `{"content": "hijacked"}`})
		require.Equal(t, http.StatusForbidden, denied.status)
		require.Equal(t, "Not allowed to update comment", denied.errorMessage(t))

		short := b.do(t, request{method: http.MethodPut, path: path, user: "walt", body: `{"content": "no"}`})
		require.Equal(t, http.StatusBadRequest, short.status)

		edited := b.do(t, request{method: http.MethodPut, path: path, user: "walt", body: `{"content": "second words"}`})
		require.Equal(t, http.StatusOK, edited.status, "body: %s", edited.body)
		e := edited.object(t)
		require.Equal(t, "second words", e["content"])
		require.Equal(t, c["id"], e["id"])
		require.Equal(t, c["created"], e["created"])
		require.Equal(t, "walt", e["username"], "the author stays")
		require.True(t, parseTime(t, e["updated"]).After(parseTime(t, c["updated"])))

		byAdmin := b.do(t, request{method: http.MethodPut, path: path, user: "admin", body: `{"content": "moderated"}`})
		require.Equal(t, http.StatusOK, byAdmin.status)
		require.Equal(t, "walt", byAdmin.object(t)["username"])
		require.Equal(t, "moderated", b.get(t, "bob", path).object(t)["content"])

		denied = b.do(t, request{method: http.MethodDelete, path: path, user: "bob"})
		require.Equal(t, http.StatusForbidden, denied.status)
		require.Equal(t, "Not allowed to delete comment", denied.errorMessage(t))

		deleted := b.do(t, request{method: http.MethodDelete, path: path, user: "walt"})
		require.Equal(t, http.StatusNoContent, deleted.status)
		require.Empty(t, deleted.body)
		require.Equal(t, http.StatusNotFound, b.get(t, "walt", path).status)
		require.Equal(t, http.StatusNotFound, b.do(t, request{method: http.MethodDelete, path: path, user: "walt"}).status)
		require.Empty(t, b.comments(t, taskID))
	})

	t.Run("CommentOfAnotherTask", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)
		other := b.createTask(t, "bob", `{"template_name": "manual"}`)
		c := b.addComment(t, "bob", other["id"].(string), "on the other task")
		path := "/task/" + taskID + "/comment/" + c["id"].(string)

		for _, req := range []request{
			{method: http.MethodGet, path: path, user: "bob"},
			{method: http.MethodPut, path: path, user: "bob", body: `{"content": "moved"}`},
			{method: http.MethodDelete, path: path, user: "bob"},
		} {
			resp := b.do(t, req)
			require.Equal(t, http.StatusBadRequest, resp.status, req.method)
			require.Equal(t, "Comment and task don't match", resp.errorMessage(t), req.method)
		}

		require.Len(t, b.comments(t, other["id"].(string)), 1)
		require.Equal(t, "on the other task", b.comments(t, other["id"].(string))[0]["content"])
	})

	t.Run("BadIDs", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)
		unknown := "00000000-0000-4000-8000-000000000000"

		for _, c := range []struct {
			req    request
			status int
		}{
			{request{method: http.MethodGet, path: "/task/" + unknown + "/comment"}, http.StatusNotFound},
			{request{method: http.MethodPost, path: "/task/" + unknown + "/comment", body: `{"content": "abc"}`}, http.StatusNotFound},
			{request{method: http.MethodGet, path: "/task/nope/comment"}, http.StatusBadRequest},
			{request{method: http.MethodGet, path: "/task/" + taskID + "/comment/" + unknown}, http.StatusNotFound},
			{request{method: http.MethodGet, path: "/task/" + taskID + "/comment/nope"}, http.StatusBadRequest},
			{request{method: http.MethodPut, path: "/task/" + taskID + "/comment/" + unknown, body: `{"content": "abc"}`}, http.StatusNotFound},
			{request{method: http.MethodDelete, path: "/task/" + taskID + "/comment/nope"}, http.StatusBadRequest},
		} {
			c.req.user = "admin"
			resp := b.do(t, c.req)
			require.Equal(t, c.status, resp.status, "%s %s: %s", c.req.method, c.req.path, resp.body)
		}
	})

	t.Run("InitialComment", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})

		created := b.createTask(t, "bob", `{"template_name": "manual", "comment": "please do it"}`)
		taskID, _ := created["id"].(string)
		cs, ok := created["comments"].([]any)
		require.True(t, ok, "the response holds the comment: %v", created)
		require.Len(t, cs, 1)
		first, _ := cs[0].(map[string]any)
		require.Equal(t, "bob", first["username"])
		require.Equal(t, "please do it", first["content"])

		require.Equal(t, []map[string]any{first}, b.comments(t, taskID))

		refused := b.post(t, "bob", "/task", `{"template_name": "manual", "comment": "no"}`)
		require.Equal(t, http.StatusBadRequest, refused.status)
		require.Equal(t, "Failed to create comment: task comment can't be shorter than 3 characters",
			refused.errorMessage(t))
		require.Len(t, b.allTasks(t), 1, "a refused comment creates no task")

		plain := b.createTask(t, "bob", `{"template_name": "manual"}`)
		require.NotContains(t, plain, "comments")
	})
}

// jsonNumber is n as a decoded JSON number.
func jsonNumber(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// parseTime reads a JSON timestamp.
func parseTime(t *testing.T, v any) time.Time {
	t.Helper()

	s, ok := v.(string)
	require.True(t, ok, "%v is a string", v)

	at, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)

	return at
}

func TestActionComments(t *testing.T) {
	t.Parallel()

	t.Run("Wontfix", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)

		require.Equal(t, http.StatusNoContent, b.post(t, "bob", "/task/"+taskID+"/wontfix", "").status)

		cs := b.comments(t, taskID)
		require.Len(t, cs, 1)
		require.Equal(t, "changed task state to WONTFIX", cs[0]["content"])
		require.Equal(t, "bob", cs[0]["username"])

		refused := b.post(t, "bob", "/task/"+taskID+"/wontfix", "")
		require.Equal(t, http.StatusBadRequest, refused.status)
		require.Len(t, b.comments(t, taskID), 1, "a refused action writes no comment")
	})

	t.Run("ResolutionActions", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		taskID, resID := b.manualResolution(t)
		base := "/resolution/" + resID

		require.Equal(t, http.StatusNoContent, b.post(t, "owner", base+"/run", "").status)
		require.Equal(t, http.StatusNoContent, b.post(t, "grace", base+"/pause", "").status)
		b.changeResolution(t, resID, func(r *store.Resolution) { r.State = state.ResBlockedMaxRetries })
		require.Equal(t, http.StatusNoContent, b.post(t, "admin", base+"/extend", "").status)
		require.Equal(t, http.StatusForbidden, b.post(t, "eve", base+"/cancel", "").status)
		require.Equal(t, http.StatusNoContent, b.post(t, "owner", base+"/cancel", "").status)
		require.Equal(t, http.StatusBadRequest, b.post(t, "owner", base+"/pause", "").status)

		type note struct{ user, content string }

		var got []note
		for _, c := range b.comments(t, taskID) {
			u, _ := c["username"].(string)
			content, _ := c["content"].(string)
			got = append(got, note{u, content})
		}

		require.Equal(t, []note{
			{"owner", "manually ran resolution"},
			{"grace", "manually paused resolution"},
			{"admin", "manually extended resolution"},
			{"owner", "cancelled resolution"},
		}, got, "one comment per action done, oldest first")
	})
}

func TestDeleteTask(t *testing.T) {
	t.Parallel()

	t.Run("AdminOnly", func(t *testing.T) {
		t.Parallel()
		b, taskID := commentFixture(t)

		for _, user := range []string{"bob", "owner", "walt", ""} {
			resp := b.do(t, request{method: http.MethodDelete, path: "/task/" + taskID, user: user})
			require.Equal(t, http.StatusUnauthorized, resp.status, user)
		}

		require.Len(t, b.allTasks(t), 1)
	})

	t.Run("AdminCheckComesBeforeMaintenance", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{maintenance: true})
		path := "/task/00000000-0000-4000-8000-000000000000"

		require.Equal(t, http.StatusUnauthorized, b.do(t, request{method: http.MethodDelete, path: path, user: "bob"}).status)
		require.Equal(t, http.StatusMethodNotAllowed,
			b.do(t, request{method: http.MethodDelete, path: path, user: "admin"}).status)
	})

	t.Run("Cascades", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})
		taskID, resID := b.manualResolution(t)
		c := b.addComment(t, "bob", taskID, "soon gone")
		kept, keptRes := b.manualResolution(t)
		keptComment := b.addComment(t, "bob", kept, "stays")

		resp := b.do(t, request{method: http.MethodDelete, path: "/task/" + taskID, user: "ada"})
		require.Equal(t, http.StatusNoContent, resp.status, "body: %s", resp.body)
		require.Empty(t, resp.body)

		require.Equal(t, http.StatusNotFound, b.get(t, "admin", "/task/"+taskID).status)
		require.Equal(t, http.StatusNotFound, b.get(t, "admin", "/resolution/"+resID).status)
		_, err := b.store.CommentGet(t.Context(), c["id"].(string))
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Equal(t, http.StatusNotFound, b.do(t, request{method: http.MethodDelete, path: "/task/" + taskID, user: "admin"}).status)

		require.Equal(t, http.StatusOK, b.get(t, "admin", "/task/"+kept).status)
		require.Equal(t, http.StatusOK, b.get(t, "admin", "/resolution/"+keptRes).status)
		require.Equal(t, []map[string]any{keptComment}, b.comments(t, kept))
	})

	t.Run("States", func(t *testing.T) {
		t.Parallel()
		b := setup(t, options{})

		for _, st := range []string{
			state.TaskTodo, state.TaskRunning, state.TaskBlocked, state.TaskDone, state.TaskCancelled,
			state.TaskWontfix, state.TaskWaiting, state.TaskDelayed,
		} {
			task := b.createTask(t, "bob", `{"template_name": "manual"}`)
			taskID, _ := task["id"].(string)
			b.setTaskState(t, taskID, st)

			resp := b.do(t, request{method: http.MethodDelete, path: "/task/" + taskID, user: "admin"})
			if st == state.TaskRunning || st == state.TaskBlocked {
				require.Equal(t, http.StatusBadRequest, resp.status, st)
				require.Equal(t, `Task can't be deleted while in state "`+st+`"`, resp.errorMessage(t))
				require.Equal(t, st, b.task(t, taskID).State)

				continue
			}

			require.Equal(t, http.StatusNoContent, resp.status, st)
		}

		require.Len(t, b.allTasks(t), 2, "only the RUNNING and BLOCKED tasks remain")
	})
}

func TestStats(t *testing.T) {
	t.Parallel()

	b := setup(t, options{})
	stats := func(query string) (int, map[string]any) {
		t.Helper()

		resp := b.get(t, "", "/unsecured/stats"+query)
		if resp.status != http.StatusOK {
			return resp.status, map[string]any{"error": resp.errorMessage(t)}
		}

		body := resp.object(t)
		require.Len(t, body, 1, "body: %s", resp.body)
		counts, ok := body["task_states"].(map[string]any)
		require.True(t, ok, "body: %s", resp.body)

		return resp.status, counts
	}

	zero := map[string]any{}
	for _, st := range []string{"TODO", "BLOCKED", "RUNNING", "WONTFIX", "DONE", "CANCELLED"} {
		zero[st] = jsonNumber(0)
	}

	status, counts := stats("")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, zero, counts, "the usual states are always there")

	type fixture struct {
		state string
		tags  string
	}

	fixtures := []fixture{
		{state.TaskTodo, `{"team": "blue"}`},
		{state.TaskTodo, `{"team": "red"}`},
		{state.TaskDone, `{"team": "blue", "env": "prod"}`},
		{state.TaskWaiting, `{"team": "blue", "env": "prod"}`},
		{state.TaskWaiting, `{}`},
	}
	for _, f := range fixtures {
		task := b.createTask(t, "bob", `{"template_name": "manual", "tags": `+f.tags+`}`)
		b.setTaskState(t, task["id"].(string), f.state)
	}

	expect := func(pairs map[string]int) map[string]any {
		out := map[string]any{}
		for k, v := range zero {
			out[k] = v
		}

		for k, v := range pairs {
			out[k] = jsonNumber(v)
		}

		return out
	}

	for _, c := range []struct {
		name  string
		query string
		want  map[string]any
	}{
		{"All", "", expect(map[string]int{"TODO": 2, "DONE": 1, "WAITING": 2})},
		{"OneTag", "?tag=team=blue", expect(map[string]int{"TODO": 1, "DONE": 1, "WAITING": 1})},
		{"TwoTags", "?tag=team=blue&tag=env=prod", expect(map[string]int{"DONE": 1, "WAITING": 1})},
		{"NoMatch", "?tag=team=green", zero},
	} {
		status, counts := stats(c.query)
		require.Equal(t, http.StatusOK, status, c.name)
		require.Equal(t, c.want, counts, c.name)
	}

	for _, bad := range []string{"team", "=blue", "team=", "a=b=c"} {
		status, body := stats("?tag=" + bad)
		require.Equal(t, http.StatusBadRequest, status, bad)
		require.Equal(t, "invalid tag "+bad, body["error"], bad)
	}
}
