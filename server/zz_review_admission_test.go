package server_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReviewSlowBodyHoldsWriteSlots: the admission gate takes a write slot
// before the request body is read, and the HTTP server sets no read timeout
// for bodies, so a client that sends the headers of a POST and then stalls
// keeps its slot for as long as it likes. On the embedded store the write
// cap is 2: two stalled clients refuse every other write with 503, long
// after any reasonable time (here, beyond the 10 s header timeout).
func TestReviewSlowBodyHoldsWriteSlots(t *testing.T) {
	ts := startServer(t, t.TempDir())
	addr := strings.TrimPrefix(ts.base, "http://")

	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = c.Write([]byte("POST /task HTTP/1.1\r\nHost: x\r\nx-remote-user: alice\r\n" +
			"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"))
		require.NoError(t, err)
	}

	time.Sleep(12 * time.Second)

	status := ts.call(t, http.MethodPost, "/task", "bob",
		map[string]any{"template_name": "no-such-template"}, nil)
	require.NotEqual(t, http.StatusServiceUnavailable, status,
		"two stalled request bodies still hold every write slot after 12 s")
}
