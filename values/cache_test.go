package values_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/values"
)

func TestCacheBounded(t *testing.T) {
	t.Parallel()

	c := values.NewCache(3)
	v := values.New(values.Options{Cache: c})

	for i := range 10 {
		got, err := v.Render(fmt.Sprintf("{{ %d }}", i), values.Scope{})
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i), got)
		require.LessOrEqual(t, c.Len(), 3)
	}

	require.Equal(t, 3, c.Len())
	require.Equal(t, values.CacheStats{Misses: 10}, c.Stats())

	_, err := v.Render("{{ .bad", values.Scope{})
	require.Error(t, err)
	_, err = v.Render("{{ .bad", values.Scope{})
	require.ErrorContains(t, err, "Templating error: template: tmpl:1: unclosed action")
	require.Equal(t, 3, c.Len())
	require.Equal(t, values.CacheStats{Hits: 1, Misses: 11}, c.Stats(), "parse errors are cached")

	_, err = v.Render("{{ 0 }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, values.CacheStats{Hits: 1, Misses: 12}, c.Stats(), "evicted template parsed again")

	require.Equal(t, 0, values.NewCache(0).Len())
}

func TestCacheSharedByValues(t *testing.T) {
	t.Parallel()

	c := values.NewCache(0)
	text := "{{ eval `v` }}-{{ field `input` `who` }}-{{ .input.who }}"

	a := values.New(values.Options{Cache: c})
	a.SetInput(map[string]any{"who": "a"})
	a.SetVariables([]values.Variable{{Name: "v", Value: "{{ .input.who }}!"}})

	b := values.New(values.Options{Cache: c})
	b.SetInput(map[string]any{"who": "b"})
	b.SetVariables([]values.Variable{{Name: "v", Expression: "'js ' + '{{ .input.who }}'"}})

	for range 3 {
		got, err := a.Render(text, values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "a!-a-a", got)

		got, err = b.Render(text, values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "js b-b-b", got)
	}

	// The outer text plus the variable templates of a and b: each parsed once, although the
	// outer text runs bound to two different Values.
	require.Equal(t, 3, c.Len())
	require.Equal(t, values.CacheStats{Hits: 3*2*2 - 3, Misses: 3}, c.Stats())
}

func TestCacheConcurrentValues(t *testing.T) {
	t.Parallel()

	c := values.NewCache(16)
	texts := []string{
		"{{ .input.n }}",
		"{{ eval `double` }}",
		"{{ evalCache `double` }}|{{ field `input` `n` }}",
		"{{ .step.this.output.n }}",
	}

	const workers = 8

	var wg sync.WaitGroup
	errs := make(chan error, workers)

	for w := range workers {
		wg.Go(func() {
			v := values.New(values.Options{Cache: c})
			v.SetInput(map[string]any{"n": w})
			v.SetVariables([]values.Variable{{Name: "double", Expression: "{{ .input.n }} * 2"}})
			v.SetStep("s", values.StepData{Output: map[string]any{"n": w}})

			want := []string{strconv.Itoa(w), strconv.Itoa(2 * w), fmt.Sprintf("%d|%d", 2*w, w), strconv.Itoa(w)}
			for i := range 200 {
				// A distinct text per round also exercises evictions under concurrency.
				extra := fmt.Sprintf("{{ %d }}", i%40)
				if _, err := v.Render(extra, values.Scope{}); err != nil {
					errs <- err

					return
				}

				k := i % len(texts)
				got, err := v.Render(texts[k], values.Scope{This: "s"})
				if err != nil {
					errs <- err

					return
				}

				if got != want[k] {
					errs <- fmt.Errorf("worker %d: %q gave %q, want %q", w, texts[k], got, want[k])

					return
				}
			}
		})
	}

	wg.Wait()
	close(errs)

	for err := range errs {
		require.NoError(t, err)
	}

	require.LessOrEqual(t, c.Len(), 16)
}

func TestCacheCheck(t *testing.T) {
	t.Parallel()
	c := values.NewCache(16)
	require.NoError(t, c.Check("plain"))
	require.NoError(t, c.Check("{{ .input.x | upper }} {{ eval `v` }}"))
	require.ErrorContains(t, c.Check("{{ .input.x"), "unclosed action")
	require.ErrorContains(t, c.Check("{{ nosuchfunc 1 }}"), `function "nosuchfunc" not defined`)
	require.ErrorIs(t, c.Check("{{ end }}"), values.ErrTemplating)
}

// Texts parsed one after the other keep their own trees, and a text that
// defines a named template does not lend it to another one.
func TestCacheTextsStayApart(t *testing.T) {
	t.Parallel()

	c := values.NewCache(0)
	v := values.New(values.Options{Cache: c})
	v.SetInput(map[string]any{"who": "ada"})
	texts := map[string]string{
		"{{ .input.who | upper }}":                      "ADA",
		"{{ .input.who }}-{{ 1 }}":                      "ada-1",
		`{{ define "x" }}X{{ end }}{{ template "x" }}`:  "X",
		`{{ define "x" }}Y{{ end }}{{ template "x" }}!`: "Y!",
		"{{ .input.who | title }}":                      "Ada",
		`{{ block "b" . }}{{ .input.who }}{{ end }}`:    "ada",
		"{{ printf `%s/%d` .input.who 2 }}":             "ada/2",
		`{{ template "x" }}`:                            "",
	}
	for range 2 {
		for text, want := range texts {
			got, err := v.Render(text, values.Scope{})
			if want == "" {
				require.Error(t, err, "no template of another text is reachable: %s", text)
				continue
			}
			require.NoError(t, err, text)
			require.Equal(t, want, got, text)
		}
	}
}
