package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// The benchmarks measure whole execution cycles on the embedded store (every
// commit is durable), so they include the store's cost: what they watch is
// that the cost of a step or of a foreach item stays the same as the
// resolution grows.

// benchTemplate stores t as a template version and returns a function that
// creates a resolution of it, ready to run.
func benchTemplate(b *testing.B, bundle *testBundle, t *template.Template) func() string {
	b.Helper()
	ctx := context.Background()
	doc, err := json.Marshal(t)
	require.NoError(b, err)
	version, err := bundle.db.TemplateVersionPut(ctx, t.Name, doc)
	require.NoError(b, err)
	return func() string {
		now := bundle.clock.Now()
		task := &store.Task{
			PublicID: uuid.NewString(), TemplateName: t.Name, TemplateVersion: version, Title: t.TitleFormat,
			Created: now, LastActivity: now, State: state.TaskTodo, StepsTotal: len(t.Steps),
		}
		res := &store.Resolution{PublicID: uuid.NewString(), State: state.ResTodo, Created: now, RunMax: t.EffectiveRetryMax()}
		tx, err := bundle.db.Begin(ctx)
		require.NoError(b, err)
		require.NoError(b, tx.TaskInsert(ctx, task))
		res.TaskID = task.ID
		require.NoError(b, tx.ResolutionInsert(ctx, res))
		require.NoError(b, tx.Commit(ctx))
		return res.PublicID
	}
}

// echoStep is an echo step depending on deps.
func echoStep(output string, deps ...string) *template.Step {
	return &template.Step{
		Description:  "echo",
		Dependencies: deps,
		Action: template.Action{
			Type:          "echo",
			Configuration: json.RawMessage(`{"output": ` + strconv.Quote(output) + `}`),
		},
	}
}

// linearTemplate is a chain of n echo steps, each depending on the previous
// one and copying its output (so that every output has the same size). It is built directly rather than parsed from
// YAML: validating a 10,000-step chain is not what is measured.
func linearTemplate(n int) *template.Template {
	t := &template.Template{
		Name: fmt.Sprintf("linear-%d", n), Description: "a chain of echo steps", TitleFormat: "linear",
		Steps: make(map[string]*template.Step, n),
	}
	t.Steps["s0"] = echoStep("0")
	for i := 1; i < n; i++ {
		prev := "s" + strconv.Itoa(i-1)
		t.Steps["s"+strconv.Itoa(i)] = echoStep(`{{ .step.`+prev+`.output }}`, prev)
	}
	return t
}

// runCycle runs one cycle of a resolution with the benchmark timer running,
// checks that it ended DONE, and returns how long the cycle took.
func runCycle(b *testing.B, bundle *testBundle, id string) time.Duration {
	b.Helper()
	b.StartTimer()
	start := time.Now()
	err := bundle.engine.RunSync(context.Background(), id)
	elapsed := time.Since(start)
	b.StopTimer()
	require.NoError(b, err)
	res, err := bundle.db.ResolutionGet(context.Background(), id)
	require.NoError(b, err)
	require.Equal(b, state.ResDone, res.State)
	return elapsed
}

// BenchmarkLinear runs chains of echo steps, each depending on the previous
// one (committed together at the end of the cycle: echo has no effects). It
// reports the time per step, and the time per step beyond the first:
// measured against a one-step chain run as often, it leaves out what every
// cycle costs once (its start and its end, two commits).
func BenchmarkLinear(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			bundle := setup(b)
			create := benchTemplate(b, bundle, linearTemplate(n))
			single := benchTemplate(b, bundle, linearTemplate(1))
			b.ReportAllocs()
			b.ResetTimer()
			b.StopTimer()
			var elapsed, fixed time.Duration
			for range b.N {
				elapsed += runCycle(b, bundle, create())
				// Timed apart, out of ns/op.
				start := time.Now()
				require.NoError(b, bundle.engine.RunSync(context.Background(), single()))
				fixed += time.Since(start)
			}
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*n), "ns/step")
			b.ReportMetric(float64((elapsed-fixed).Nanoseconds())/float64(b.N*(n-1)), "ns/extra-step")
		})
	}
}

// foreachTemplate is one foreach step of n echo children, and a step that
// counts them.
func foreachTemplate(n int) *template.Template {
	loop := echoStep("item {{ .iterator }}")
	loop.Foreach = fmt.Sprintf("{{ until %d | toJson }}", n)
	loop.ForeachStrategy = template.ForeachParallel
	return &template.Template{
		Name: fmt.Sprintf("foreach-%d", n), Description: "a loop of echo children", TitleFormat: "foreach",
		Steps: map[string]*template.Step{
			"loop":  loop,
			"count": echoStep("{{ len .step.loop.children }}", "loop"),
		},
	}
}

// heapSampler records the peak of the live heap while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > h.peak {
			h.peak = v
		}
	}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-h.stop:
				read()
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop ends the sampling and returns the peak in bytes.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak
}

// BenchmarkForeach runs a foreach step of 1,000 and 10,000 echo children.
// MB-heap is the peak of the live heap during the cycle above the heap
// before it.
func BenchmarkForeach(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			bundle := setup(b)
			create := benchTemplate(b, bundle, foreachTemplate(n))
			b.ReportAllocs()
			b.ResetTimer()
			b.StopTimer()
			var elapsed time.Duration
			var peak uint64
			for range b.N {
				id := create()
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				h := startHeapSampler()
				elapsed += runCycle(b, bundle, id)
				top := h.Stop()
				runtime.ReadMemStats(&after)
				top = max(top, after.HeapAlloc)
				if top > before.HeapAlloc {
					peak = max(peak, top-before.HeapAlloc)
				}
				_, _, steps := bundle.read(b, id)
				require.Equal(b, strconv.Itoa(n), steps["count"].Output)
			}
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*n), "ns/item")
			b.ReportMetric(float64(peak)/(1<<20), "MB-heap")
		})
	}
}
