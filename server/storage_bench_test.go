package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/server"
	"github.com/utask/utask/store/postgres/pgtest"
)

// storageSizes are the step counts of the storage benchmarks: the bytes
// written per step should stay the same from one to the next, that is the
// writes grow linearly with the number of steps.
var storageSizes = []int{100, 1000, 10000} //nolint:gochecknoglobals // constant list

// linearYAML is an auto-runnable template of n echo steps, each depending
// on the one before.
func linearYAML(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: linear-%d\ndescription: a chain of echo steps\ntitle_format: linear\nauto_runnable: true\n", n)
	b.WriteString("allow_all_resolver_usernames: true\nsteps:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%d:\n    description: one link\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    dependencies: [s%d]\n", i-1)
		}
		fmt.Fprintf(&b, "    action: {type: echo, configuration: {output: {step: %d}}}\n", i)
	}
	return b.String()
}

// foreachYAML is an auto-runnable template of one foreach step over n items
// and a step that counts its children.
func foreachYAML(n int) string {
	return fmt.Sprintf(`name: foreach-%d
description: a loop of echo children
title_format: foreach
auto_runnable: true
allow_all_resolver_usernames: true
steps:
  loop:
    description: one child per item
    foreach: '{{ until %d | toJson }}'
    action: {type: echo, configuration: {output: {item: '{{ .iterator }}'}}}
  count:
    description: counts the children
    dependencies: [loop]
    action: {type: echo, configuration: {output: {count: '{{ len .step.loop.children }}'}}}
`, n, n)
}

// storageTemplates writes the templates of the storage benchmarks into a
// new directory.
func storageTemplates(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	for _, n := range storageSizes {
		require.NoError(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("linear-%d.yaml", n)), []byte(linearYAML(n)), 0o600))
		require.NoError(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("foreach-%d.yaml", n)), []byte(foreachYAML(n)), 0o600))
	}
	return dir
}

// writeMeter measures the bytes a database received between two points.
type writeMeter interface {
	// mark returns the counters now.
	mark(b *testing.B) []int64
}

// embeddedMeter measures the embedded store in workDir: bytes this
// process wrote to disk (/proc/self/io write_bytes: the WAL frames and the
// checkpoints; the test writes nothing else meanwhile), and the growth of
// the database file and its WAL.
type embeddedMeter struct{ workDir string }

func (m embeddedMeter) mark(b *testing.B) []int64 {
	b.Helper()
	io, err := os.ReadFile("/proc/self/io")
	require.NoError(b, err)
	var written int64 = -1
	for line := range strings.SplitSeq(string(io), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			written, err = strconv.ParseInt(v, 10, 64)
			require.NoError(b, err)
		}
	}
	require.NotEqual(b, int64(-1), written, "no write_bytes in /proc/self/io")
	var size int64
	for _, name := range []string{server.DefaultDatabaseFile, server.DefaultDatabaseFile + "-wal"} {
		info, err := os.Stat(filepath.Join(m.workDir, name))
		if err == nil {
			size += info.Size()
		}
	}
	return []int64{written, size}
}

// postgresMeter measures the WAL the PostgreSQL server wrote
// (pg_wal_lsn_diff between two pg_current_wal_lsn). The benchmark must be
// alone on that server for the figure to be its own.
type postgresMeter struct{ conn *pgx.Conn }

func (m postgresMeter) mark(b *testing.B) []int64 {
	b.Helper()
	var lsn int64
	require.NoError(b, m.conn.QueryRow(context.Background(),
		`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&lsn))
	return []int64{lsn}
}

// BenchmarkStorageBytesPerStep runs one task at a time of a linear template
// and of a foreach template of 100, 1,000 and 10,000 steps (or items) to
// DONE, and reports the bytes written to the database per step. On the
// embedded store: B/step is what the process wrote to disk, growth-B/step
// the growth of the database file and its WAL (which undercounts once the
// WAL is checkpointed and reused). On PostgreSQL (UTASK_TEST_DATABASE_URL):
// WAL-B/step is the WAL written, from pg_current_wal_lsn.
func BenchmarkStorageBytesPerStep(b *testing.B) {
	templates := storageTemplates(b)
	b.Run("Embedded", func(b *testing.B) {
		if _, err := os.Stat("/proc/self/io"); err != nil {
			b.Skip("no /proc/self/io to count the bytes written:", err)
		}
		workDir := b.TempDir()
		ts := startWithTemplates(b, workDir, templates, &logBuffer{})
		benchStorage(b, ts, embeddedMeter{workDir: workDir}, []string{"B/step", "growth-B/step"})
	})
	b.Run("Postgres", func(b *testing.B) {
		url := pgtest.FreshSchema(b)
		conn, err := pgx.Connect(context.Background(), url)
		require.NoError(b, err)
		b.Cleanup(func() { _ = conn.Close(context.Background()) })
		ts := startWithTemplates(b, b.TempDir(), templates, &logBuffer{}, "CFG_DATABASE="+url, "CFG_ENCRYPTION_KEY="+testKey)
		benchStorage(b, ts, postgresMeter{conn: conn}, []string{"WAL-B/step"})
	})
}

func benchStorage(b *testing.B, ts *testServer, meter writeMeter, units []string) {
	for _, kind := range []string{"linear", "foreach"} {
		for _, n := range storageSizes {
			b.Run(fmt.Sprintf("%s-%d", kind, n), func(b *testing.B) {
				total := make([]int64, len(units))
				for range b.N {
					before := meter.mark(b)
					runToDone(b, ts, fmt.Sprintf("%s-%d", kind, n))
					after := meter.mark(b)
					for i := range total {
						total[i] += after[i] - before[i]
					}
				}
				for i, unit := range units {
					b.ReportMetric(float64(total[i])/float64(b.N*n), unit)
				}
			})
		}
	}
}

// runToDone creates a task of the template and waits until it is DONE.
func runToDone(b *testing.B, ts *testServer, templateName string) {
	b.Helper()
	body, err := json.Marshal(map[string]any{"template_name": templateName})
	require.NoError(b, err)
	req, err := http.NewRequest(http.MethodPost, ts.base+"/task", bytes.NewReader(body))
	require.NoError(b, err)
	req.Header.Set("x-remote-user", "bench")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	var created taskView
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	require.Equal(b, http.StatusCreated, resp.StatusCode)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		req, err := http.NewRequest(http.MethodGet, ts.base+"/task/"+created.ID, nil)
		require.NoError(b, err)
		req.Header.Set("x-remote-user", "bench")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		var tv taskView
		require.NoError(b, json.NewDecoder(resp.Body).Decode(&tv))
		resp.Body.Close()
		if tv.State == "DONE" {
			return
		}
		require.Contains(b, []string{"TODO", "RUNNING"}, tv.State)
		require.True(b, time.Now().Before(deadline), "task %s still %s", created.ID, tv.State)
		time.Sleep(20 * time.Millisecond)
	}
}
