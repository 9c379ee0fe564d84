package values_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/utask/utask/values"
)

// benchConfig is a small http-like configuration with five templated leaves.
const benchConfig = `{
	"url": "http://127.0.0.1:{{ .config.port }}/api/items/{{ .input.id }}",
	"method": "POST",
	"headers": [{"name": "X-Token", "value": "{{ .resolver_input.token }}"}, {"name": "Accept", "value": "application/json"}],
	"body": "{{ .input.payload | toJson }}",
	"timeout": "30s",
	"query": {"previous": "{{ .step.s1.output.id }}", "limit": 10}
}`

// benchValues returns Values with the handles the benchmarks use and n steps.
func benchValues(b *testing.B, n int) *values.Values {
	b.Helper()

	v := values.New(values.Options{Cache: values.NewCache(0)})
	v.SetInput(map[string]any{"x": "hello", "id": json.Number("42"), "payload": map[string]any{"a": json.Number("1"), "b": []any{"c"}}})
	v.SetResolverInput(map[string]any{"token": "t0k3n"})
	v.SetConfig(map[string]any{"port": json.Number("8080")})
	v.SetVariables([]values.Variable{{Name: "greet", Value: "Hello {{ .input.x }}"}})
	v.SetStep("s1", values.StepData{Output: map[string]any{"id": "abc"}, State: "DONE"})

	for i := range n {
		v.SetStep("step"+strconv.Itoa(i), values.StepData{Output: map[string]any{"i": i}, State: "DONE"})
	}

	return v
}

// forStepCounts runs fn as sub-benchmarks with no extra step and with 10,000 steps.
func forStepCounts(b *testing.B, fn func(b *testing.B, v *values.Values)) {
	b.Helper()

	for _, n := range []int{0, 10000} {
		b.Run(fmt.Sprintf("Steps%d", n), func(b *testing.B) {
			fn(b, benchValues(b, n))
		})
	}
}

func BenchmarkRenderPlain(b *testing.B) {
	forStepCounts(b, func(b *testing.B, v *values.Values) {
		b.ReportAllocs()

		for b.Loop() {
			if _, err := v.Render("a plain string without any action", values.Scope{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRenderInput(b *testing.B) {
	forStepCounts(b, func(b *testing.B, v *values.Values) {
		b.ReportAllocs()

		for b.Loop() {
			if _, err := v.Render("{{.input.x}}", values.Scope{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRenderStepThis(b *testing.B) {
	forStepCounts(b, func(b *testing.B, v *values.Values) {
		b.ReportAllocs()

		for b.Loop() {
			if _, err := v.Render("{{.step.this.output.id}}", values.Scope{This: "s1", Attempt: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRenderEval(b *testing.B) {
	forStepCounts(b, func(b *testing.B, v *values.Values) {
		b.ReportAllocs()

		for b.Loop() {
			if _, err := v.Render("{{ eval `greet` }}", values.Scope{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRenderJSONConfig(b *testing.B) {
	doc, err := values.DecodeJSON([]byte(benchConfig))
	if err != nil {
		b.Fatal(err)
	}

	forStepCounts(b, func(b *testing.B, v *values.Values) {
		b.ReportAllocs()

		for b.Loop() {
			if _, err := v.RenderJSON(doc, values.Scope{Attempt: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRenderParallelSharedCache(b *testing.B) {
	c := values.NewCache(0)

	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		v := values.New(values.Options{Cache: c})
		v.SetInput(map[string]any{"x": "hello"})
		v.SetVariables([]values.Variable{{Name: "greet", Value: "Hello {{ .input.x }}"}})

		for pb.Next() {
			if _, err := v.Render("{{ .input.x }} {{ eval `greet` }}", values.Scope{}); err != nil {
				b.Error(err)

				return
			}
		}
	})
}
