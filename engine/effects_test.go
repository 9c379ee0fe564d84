package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/engine"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
)

// countingStore is a real store that counts the transactions committed
// through it.
type countingStore struct {
	store.Store
	commits atomic.Int64
}

func (s *countingStore) Begin(ctx context.Context) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, s: s}, nil
}

type countingTx struct {
	store.Tx
	s *countingStore
}

func (t *countingTx) Commit(ctx context.Context) error {
	err := t.Tx.Commit(ctx)
	if err == nil {
		t.s.commits.Add(1)
	}
	return err
}

// A chain of steps without effects is committed once at the start of the
// cycle (the resolution becomes RUNNING) and once at its end, not at each
// step.
func TestSideEffectFreeChainCommitsTwice(t *testing.T) {
	t.Parallel()
	counter := &countingStore{}
	b := setup(t, func(cfg *engine.Config) {
		counter.Store = cfg.Store
		cfg.Store = counter
	})
	_, res := b.create(t, `
name: echo-chain
description: five echo steps in a row
title_format: echo chain
result_format:
  last: "{{.step.e.output.num}}"
steps:
  a: {description: a, action: {type: echo, configuration: {output: {num: 1}}}}
  b: {description: b, dependencies: [a], action: {type: echo, configuration: {output: {num: "{{.step.a.output.num}}2"}}}}
  c: {description: c, dependencies: [b], action: {type: echo, configuration: {output: {num: "{{.step.b.output.num}}3"}}}}
  d: {description: d, dependencies: [c], action: {type: echo, configuration: {output: {num: "{{.step.c.output.num}}4"}}}}
  e: {description: e, dependencies: [d], action: {type: echo, configuration: {output: {num: "{{.step.d.output.num}}5"}}}}
`, nil)
	r, task, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.Equal(t, map[string]any{"last": "12345"}, task.Result)
	for name, s := range steps {
		require.Equal(t, state.Done, s.State, name)
	}
	require.Equal(t, int64(2), counter.commits.Load())
}

// A step with effects (here an http call) starts only once the results it
// depends on are committed, and its RUNNING mark is committed before it
// runs, even when those results come from steps without effects.
func TestEffectsWaitForDurableResults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var (
		mu   sync.Mutex
		seen map[string]string
		res  string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ctx := r.Context()
		stored, err := b.db.ResolutionGet(ctx, res)
		if err == nil {
			var rows []*store.Step
			rows, err = b.db.StepList(ctx, stored.ID)
			seen = map[string]string{}
			for _, row := range rows {
				seen[row.Name] = row.State
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	mu.Lock()
	_, res = b.create(t, `
name: echo-then-http
description: echo steps feed an http call
title_format: echo then http
steps:
  first: {description: first, action: {type: echo, configuration: {output: {path: /x}}}}
  second: {description: second, dependencies: [first], action: {type: echo, configuration: {output: {path: "{{.step.first.output.path}}"}}}}
  call:
    description: the call
    dependencies: [second]
    action:
      type: http
      configuration:
        url: "`+srv.URL+`{{.step.second.output.path}}"
        method: GET
  after: {description: after, dependencies: [call], action: {type: echo, configuration: {output: done}}}
`, nil)
	mu.Unlock()
	r, _, steps := b.run(t, res)
	require.Equal(t, state.ResDone, r.State)
	require.Equal(t, state.Done, steps["after"].State)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, state.Done, seen["first"])
	require.Equal(t, state.Done, seen["second"])
	require.Equal(t, state.Running, seen["call"])
}

// Foreach children leave no row once their parent collected them, whether
// their rows were written on the way (steps with effects) or never were
// (echo children, committed with the end of the cycle).
func TestForeachChildrenLeaveNoRows(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	for name, action := range map[string]string{
		"Echo": `{type: echo, configuration: {output: "{{.iterator}}"}}`,
		"HTTP": `{type: http, configuration: {url: "` + srv.URL + `/{{.iterator}}", method: GET}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, res := b.create(t, `
name: loop-rows
description: a foreach of three children
title_format: loop rows
steps:
  loop:
    description: three children
    foreach: '["a", "b", "c"]'
    action: `+action+`
`, nil)
			r, _, steps := b.run(t, res)
			require.Equal(t, state.ResDone, r.State)
			require.Len(t, steps["loop"].Children, 3)
			rows, err := b.db.StepList(context.Background(), r.ID)
			require.NoError(t, err)
			names := make([]string, 0, len(rows))
			for _, row := range rows {
				names = append(names, row.Name)
			}
			require.Equal(t, []string{"loop"}, names)
		})
	}
}
