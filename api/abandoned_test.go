package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A request its caller abandoned fails on the cancelled context, which is
// no failure of the server's: 499 and an info line, not a 500 and an
// error line.
func TestAbandonedRequestIsNotAnInternalError(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/task",
		strings.NewReader(`{"template_name": "greet", "input": {"name": "ada"}}`))
	req.Header.Set("X-Remote-User", "alice")
	rec := httptest.NewRecorder()
	b.server.Config.Handler.ServeHTTP(rec, req)

	require.Equal(t, 499, rec.Code, rec.Body.String())
	logs := b.logs.String()
	require.Contains(t, logs, "api request abandoned by its caller")
	require.NotContains(t, logs, "api internal error")
	require.Empty(t, b.allTasks(t), "nothing stored")
}
