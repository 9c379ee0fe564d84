package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// A foreach whose children have effects, restarted by RETRY_NOW while its
// children have rows, re-creates children of the same names: the rows of
// the new children, and the RUNNING mark of the one that starts, must be in
// the database when that child's action runs.
func TestForeachRestartKeepsNewChildrenRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var (
		mu    sync.Mutex
		calls int
		res   string
		seen  []map[string]string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		ctx := r.Context()
		stored, err := b.db.ResolutionGet(ctx, res)
		if err == nil {
			var rows []*store.Step
			rows, err = b.db.StepList(ctx, stored.ID)
			m := map[string]string{}
			for _, row := range rows {
				m[row.Name] = row.State
			}
			seen = append(seen, m)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"n":%d}`, calls)
	}))
	t.Cleanup(srv.Close)
	mu.Lock()
	_, res = b.create(t, `
name: loop-restart
description: a foreach restarted by its first child
title_format: loop restart
steps:
  loop:
    description: three calls in sequence
    foreach: '["a", "b", "c"]'
    foreach_strategy: sequence
    conditions:
      - type: check
        if:
          - {value: "{{.step.this.output.n}}", operator: EQ, expected: "1"}
        then: {loop: RETRY_NOW}
    action:
      type: http
      configuration:
        url: "`+srv.URL+`/{{.iterator}}"
        method: GET
`, nil)
	mu.Unlock()
	r, _, steps := b.run(t, res)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, state.ResDone, r.State)
	require.Len(t, steps["loop"].Children, 3)
	require.Greater(t, len(seen), 1)
	for i, m := range seen[1:] {
		// Every call after the restart runs one child: its row must exist.
		require.NotEmpty(t, m, "call %d saw no step rows", i+2)
		found := false
		for name, st := range m {
			if name != "loop" && st == state.Running {
				found = true
			}
		}
		require.True(t, found, "call %d: no RUNNING child row in the database: %v", i+2, m)
	}
}
