package sqlite

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/store"
	"github.com/utask/utask/store/storetest"
)

// synchronousModes are the PRAGMA synchronous settings the benchmarks
// compare: FULL (the store's, durable at commit) and NORMAL (durable at the
// next checkpoint in WAL mode).
func synchronousModes() []string { return []string{"FULL", "NORMAL"} }

// benchStore opens a store in a temporary directory with the given
// synchronous mode, with one task and one resolution.
func benchStore(b *testing.B, synchronous string) (*Store, *store.Task, *store.Resolution) {
	b.Helper()
	ctx := b.Context()
	s, err := open(ctx, Config{
		Path:   filepath.Join(b.TempDir(), "utask.db"),
		Sealer: storetest.NewSealer(b),
		Logger: slog.New(slog.DiscardHandler),
	}, synchronous)
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
	for _, sync := range synchronousModes() {
		b.Run("Synchronous="+sync, func(b *testing.B) {
			ctx := b.Context()
			s, _, r := benchStore(b, sync)
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
		})
	}
}

// BenchmarkStepUpsert measures a commit of one step row: the cost of one step
// changing state.
func BenchmarkStepUpsert(b *testing.B) { benchStepUpsert(b, 1) }

// BenchmarkStepUpsertBatch10 measures a commit of ten step rows: parallel
// steps finishing together, or a foreach expanding.
func BenchmarkStepUpsertBatch10(b *testing.B) { benchStepUpsert(b, 10) }

// BenchmarkTaskInsert measures a commit of one new task.
func BenchmarkTaskInsert(b *testing.B) {
	for _, sync := range synchronousModes() {
		b.Run("Synchronous="+sync, func(b *testing.B) {
			ctx := b.Context()
			s, task, _ := benchStore(b, sync)
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
		})
	}
}
