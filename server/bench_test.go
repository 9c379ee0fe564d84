package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store/postgres/pgtest"
)

// BenchmarkCreateToDone measures, through the HTTP API, the time from the
// POST /task of an auto-runnable three-echo-step template to the moment
// GET /task/{id} first answers DONE. It reports the median and the 95th
// percentile besides the mean (ns/op).
func BenchmarkCreateToDone(b *testing.B) {
	benchCreateToDone(b)
}

// BenchmarkCreateToDonePostgres is BenchmarkCreateToDone on the PostgreSQL
// store (UTASK_TEST_DATABASE_URL).
func BenchmarkCreateToDonePostgres(b *testing.B) {
	benchCreateToDone(b, "CFG_DATABASE="+pgtest.FreshSchema(b), "CFG_ENCRYPTION_KEY="+testKey)
}

func benchCreateToDone(b *testing.B, environ ...string) {
	ts := startServer(b, b.TempDir(), environ...)
	client := &http.Client{}
	body, _ := json.Marshal(map[string]any{"template_name": "three-echo", "input": map[string]any{"who": "bench"}})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, ts.base+"/task", bytes.NewReader(body))
		req.Header.Set("x-remote-user", "bench")
		resp, err := client.Do(req)
		require.NoError(b, err)
		var created taskView
		require.NoError(b, json.NewDecoder(resp.Body).Decode(&created))
		resp.Body.Close()
		require.Equal(b, http.StatusCreated, resp.StatusCode)
		for {
			req, _ := http.NewRequest(http.MethodGet, ts.base+"/task/"+created.ID, nil)
			req.Header.Set("x-remote-user", "bench")
			resp, err := client.Do(req)
			require.NoError(b, err)
			var tv taskView
			require.NoError(b, json.NewDecoder(resp.Body).Decode(&tv))
			resp.Body.Close()
			if tv.State == "DONE" {
				break
			}
			require.Contains(b, []string{"TODO", "RUNNING"}, tv.State)
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95_ms")
}
