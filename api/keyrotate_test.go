package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rotationLines returns the "key rotation: table resealed" log lines, by
// table.
func rotationLines(t *testing.T, logs string) map[string]map[string]any {
	t.Helper()

	out := map[string]map[string]any{}

	for line := range strings.Lines(logs) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "key rotation: table resealed" {
			continue
		}

		table, _ := m["table"].(string)
		out[table] = m
	}

	return out
}

func TestKeyRotate(t *testing.T) {
	t.Parallel()

	t.Run("OnlyAdministrators", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{})
		b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "bob"}}`)

		for _, user := range []string{"", "bob", "grace"} {
			resp := b.post(t, user, "/key-rotate", "")
			require.Equal(t, http.StatusUnauthorized, resp.status, "user %q", user)
		}

		require.Empty(t, rotationLines(t, b.logs.String()), "a refused call rotates nothing")
	})

	t.Run("AdministratorRotates", func(t *testing.T) {
		t.Parallel()

		for _, admin := range []string{"admin", "ada"} { // by name, by group
			b := setup(t, options{})
			task := b.createTask(t, "bob", `{"template_name": "greet", "input": {"name": "bob", "secret": "s3cr3t"}}`)
			taskID, _ := task["id"].(string)
			b.addComment(t, "bob", taskID, "a note")
			before := b.get(t, "admin", "/task/"+taskID)
			require.Equal(t, http.StatusOK, before.status)

			resp := b.post(t, admin, "/key-rotate", "")
			require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
			require.Empty(t, resp.body)

			lines := rotationLines(t, b.logs.String())
			require.Contains(t, lines, "task")
			require.Contains(t, lines, "comment")
			require.InDelta(t, 1, lines["task"]["resealed"], 0, "the one task is resealed")
			require.InDelta(t, 1, lines["comment"]["resealed"], 0)

			after := b.get(t, "admin", "/task/"+taskID)
			require.Equal(t, http.StatusOK, after.status)
			require.JSONEq(t, string(before.body), string(after.body), "a rotation changes nothing a client sees")
			require.Equal(t, "a note", b.comments(t, taskID)[0]["content"])
		}
	})

	t.Run("AllowedInMaintenance", func(t *testing.T) {
		t.Parallel()

		b := setup(t, options{maintenance: true})
		require.Equal(t, http.StatusMethodNotAllowed,
			b.post(t, "bob", "/task", `{"template_name": "greet", "input": {"name": "bob"}}`).status)

		resp := b.post(t, "admin", "/key-rotate", "")
		require.Equal(t, http.StatusOK, resp.status, "body: %s", resp.body)
		require.Equal(t, http.StatusUnauthorized, b.post(t, "bob", "/key-rotate", "").status)
	})
}
