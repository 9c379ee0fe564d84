package postgres

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

// benchStore opens a store in a fresh schema of the test database, with one
// task and one resolution.
func benchStore(b *testing.B) (*Store, *store.Task, *store.Resolution) {
	b.Helper()
	ctx := b.Context()
	s, err := Open(ctx, Config{
		URL:      freshSchema(b),
		Sealer:   storetest.NewSealer(b),
		Logger:   slog.New(slog.DiscardHandler),
		MaxConns: testMaxConns,
	})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, s.Close()) })

	version, err := s.TemplateVersionPut(ctx, "bench", []byte(`{}`))
	require.NoError(b, err)
	task := benchTask(version)
	r := &store.Resolution{PublicID: uuid.NewString(), State: "RUNNING", RunMax: 10}
	tx, err := s.Begin(ctx)
	require.NoError(b, err)
	require.NoError(b, tx.TaskInsert(ctx, task))
	r.TaskID = task.ID
	require.NoError(b, tx.ResolutionInsert(ctx, r))
	require.NoError(b, tx.Commit(ctx))
	return s, task, r
}

// benchTask is a task of a typical size.
func benchTask(version int64) *store.Task {
	return &store.Task{
		PublicID:          uuid.NewString(),
		TemplateName:      "bench",
		TemplateVersion:   version,
		Title:             "Deploy service to production",
		RequesterUsername: "alice",
		WatcherUsernames:  []string{"bob"},
		ResolverGroups:    []string{"ops"},
		State:             "TODO",
		StepsTotal:        5,
		Tags:              map[string]string{"env": "prod"},
		Input:             map[string]any{"service": "api", "version": "1.2.3", "replicas": 3},
	}
}

// benchStepUpsert commits rows step rows per transaction.
func benchStepUpsert(b *testing.B, rows int) {
	ctx := b.Context()
	s, _, r := benchStore(b)
	steps := make([]*store.Step, rows)
	for i := range steps {
		steps[i] = &store.Step{
			Name:  fmt.Sprintf("step-%02d", i),
			State: "DONE",
			Data: store.StepData{Output: map[string]any{
				"status": 200, "body": "a response body of a typical size, a few dozen bytes",
			}},
		}
	}
	for b.Loop() {
		for _, st := range steps {
			st.TryCount++
		}
		tx, err := s.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.StepUpsert(ctx, r, steps); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

// BenchmarkStepUpsert measures a commit of one step row: the cost of one step
// changing state.
func BenchmarkStepUpsert(b *testing.B) { benchStepUpsert(b, 1) }

// BenchmarkStepUpsertBatch10 measures a commit of ten step rows: parallel
// steps finishing together, or a foreach expanding.
func BenchmarkStepUpsertBatch10(b *testing.B) { benchStepUpsert(b, 10) }

// BenchmarkTaskInsert measures a commit of one new task.
func BenchmarkTaskInsert(b *testing.B) {
	ctx := b.Context()
	s, task, _ := benchStore(b)
	for b.Loop() {
		t := benchTask(task.TemplateVersion)
		tx, err := s.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.TaskInsert(ctx, t); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaimRunnable measures one claim of ten runnable resolutions
// among a thousand finished ones (and the claimed ones of earlier rounds).
func BenchmarkClaimRunnable(b *testing.B) {
	ctx := b.Context()
	s, task, _ := benchStore(b)
	insert := func(n int, state string) {
		b.Helper()
		tx, err := s.Begin(ctx)
		require.NoError(b, err)
		for range n {
			t := benchTask(task.TemplateVersion)
			require.NoError(b, tx.TaskInsert(ctx, t))
			require.NoError(b, tx.ResolutionInsert(ctx, &store.Resolution{
				PublicID: uuid.NewString(), TaskID: t.ID, State: state, RunMax: 10,
			}))
		}
		require.NoError(b, tx.Commit(ctx))
	}
	insert(1000, "DONE")
	for b.Loop() {
		b.StopTimer()
		insert(10, "TO_AUTORUN")
		b.StartTimer()
		claimed, err := s.ResolutionClaimRunnable(ctx, 1, task.Created, 10)
		if err != nil {
			b.Fatal(err)
		}
		if len(claimed) != 10 {
			b.Fatalf("claimed %d resolutions, want 10", len(claimed))
		}
	}
}
