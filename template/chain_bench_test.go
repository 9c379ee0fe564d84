package template

import (
	"fmt"
	"testing"
)

// BenchmarkValidateChain validates linear chains of steps: the cost per
// step must stay flat as the chain grows.
func BenchmarkValidateChain(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := testCatalog(b)
			for b.Loop() {
				b.StopTimer()
				tmpl := &Template{Name: "chain", Description: "a chain", TitleFormat: "chain", Steps: map[string]*Step{}}
				for i := range n {
					s := &Step{Description: "s", Action: Action{Type: "test", Configuration: []byte(`{}`)}}
					if i > 0 {
						s.Dependencies = []string{fmt.Sprintf("s%d", i-1)}
					}
					tmpl.Steps[fmt.Sprintf("s%d", i)] = s
				}
				b.StartTimer()
				if err := Validate(tmpl, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/step")
		})
	}
}
