package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
)

// marker returns a string that appears nowhere by chance.
func marker(t *testing.T, what string) string {
	t.Helper()
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return what + "-" + hex.EncodeToString(b)
}

func sealBehaviours() []behaviour {
	return []behaviour{
		{"DumpHasNoPlaintext", func(t *testing.T, b *bundle) {
			if b.opts.Dump == nil {
				t.Skip("the backend gives no dump")
			}
			titleMarker := marker(t, "clear-title")
			secrets := map[string]string{}
			for _, what := range []string{
				"input-key", "input-value", "result", "resolver-input", "step-output", "step-metadata",
				"step-children", "step-error", "step-item", "step-child-name", "step-tag", "step-definition",
				"updated-output", "updated-error", "comment", "updated-comment",
			} {
				secrets[what] = marker(t, what)
			}

			task := b.newTask(func(t *store.Task) {
				t.Title = titleMarker
				t.Input = map[string]any{secrets["input-key"]: secrets["input-value"]}
				t.Result = map[string]any{"r": []any{secrets["result"]}}
			})
			b.insertTasks(t, task)
			r := b.newResolution(task, func(r *store.Resolution) {
				r.ResolverInput = map[string]any{"x": secrets["resolver-input"]}
			})
			b.insertResolutions(t, r)
			b.upsertSteps(t, r, &store.Step{Name: "s", State: "DONE", Data: store.StepData{
				Output:        map[string]any{"o": secrets["step-output"]},
				Metadata:      secrets["step-metadata"],
				Children:      []any{secrets["step-children"]},
				Error:         secrets["step-error"],
				Item:          secrets["step-item"],
				ChildrenSteps: []string{secrets["step-child-name"]},
				Tags:          map[string]string{"t": secrets["step-tag"]},
				Definition:    []byte(`{"description":"` + secrets["step-definition"] + `"}`),
			}})
			b.upsertSteps(t, r, &store.Step{Name: "s", State: "SERVER_ERROR", Data: store.StepData{
				Output: secrets["updated-output"],
				Error:  secrets["updated-error"],
			}})

			comment := b.newComment(task, func(c *store.Comment) { c.Content = "note " + secrets["comment"] })
			edited := b.newComment(task, func(c *store.Comment) { c.Content = "first draft" })
			b.insertComments(t, comment, edited)
			edited.Content = "note " + secrets["updated-comment"]
			b.inTx(t, func(tx store.Tx) { require.NoError(t, tx.CommentUpdate(b.ctx, edited)) })

			dump := b.opts.Dump(t, b.s)
			require.True(t, bytes.Contains(dump, []byte(titleMarker)),
				"the dump must hold what the store wrote: the title, stored in clear, is missing")
			for what, secret := range secrets {
				require.False(t, bytes.Contains(dump, []byte(secret)), "%s found in clear in the dump", what)
			}
		}},
	}
}
