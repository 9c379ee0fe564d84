package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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

// A result of the first expansion of a foreach, still in flight when the
// foreach is restarted by RETRY_NOW, belongs to a child that no longer
// exists: it is dropped, not applied to the new child of the same name.
func TestForeachRestartDropsResultsOfTheOldChildren(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var (
		mu         sync.Mutex
		aCalls     int
		bCalls     int
		newBCalled = make(chan struct{})
		oldBAnswd  = make(chan struct{})
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		mu.Lock()
		switch r.URL.Path {
		case "/a":
			aCalls++
			n := aCalls
			mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"n": %d}`, n)
		case "/b":
			bCalls++
			n := bCalls
			mu.Unlock()
			wait := newBCalled
			gen := "old"
			if n == 1 {
				// The first expansion's b answers once the foreach was
				// restarted and the new b runs.
			} else {
				close(newBCalled)
				// The new b answers after the old b's answer was handled.
				wait, gen = oldBAnswd, "new"
			}
			select {
			case <-wait:
			case <-r.Context().Done():
				return
			}
			if gen == "new" {
				time.Sleep(100 * time.Millisecond)
			}
			_, _ = fmt.Fprintf(w, `{"n": 0, "gen": %q}`, gen)
			if gen == "old" {
				close(oldBAnswd)
			}
		default:
			mu.Unlock()
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	_, res := b.create(t, `
name: loop-restart-in-flight
description: a foreach restarted while one of its children runs
title_format: loop restart in flight
steps:
  loop:
    description: two calls at once
    foreach: '["a", "b"]'
    foreach_strategy: parallel
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
	r, _, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	mu.Lock()
	require.Equal(t, 2, bCalls, "b ran once in each expansion")
	mu.Unlock()
	children, ok := steps["loop"].Children.([]any)
	require.True(t, ok, "children: %#v", steps["loop"].Children)
	require.Len(t, children, 2)
	second, ok := children[1].(map[string]any)
	require.True(t, ok, "child b: %#v", children[1])
	require.Equal(t, state.Done, second["state"])
	out, ok := second["output"].(map[string]any)
	require.True(t, ok, "child b: %#v", second)
	require.Equal(t, "new", out["gen"], "the new child b keeps its own result")
}
