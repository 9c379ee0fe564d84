package values_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/utask/utask/values"
)

func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		"plain",
		"{{ .input.a }}",
		"{{ .input.a.b.c }}",
		"{{ .step.s.output.k }} {{ .step.this.state }}",
		"{{ .iterator.x }}",
		"{{ index .input.l 1 }}",
		"{{ range $k, $v := .input }}{{ $k }}={{ $v }};{{ end }}",
		"{{ eval `v` }} {{ evalCache `js` }} {{ eval `nope` }}",
		"{{ field `input` `m` `k` }} {{ .input.m | fieldFrom `k` }}",
		"{{ `{\"a\":1}` | fromJson | toJson }}",
		"{{ b64RawDec `!!` }} {{ b64RawEnc `x` }}",
		`{{ define "t" }}x{{ end }}{{ template "t" }}`,
		"{{ $_ := set . `input` 1 }}{{ .input }}",
		"{{ if and .input.a (eq .input.n 12) }}yes{{ end }}",
		"{{ add .input.n 1 | printf `%05d` }}",
		"{{",
		"{{ }}",
		"{{ .input.a | default `x` | upper | quote }}",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, text string) {
		v := values.New(values.Options{})
		v.SetInput(map[string]any{
			"a": "A",
			"n": json.Number("12"),
			"l": []any{"x", json.Number("2.5")},
			"m": map[string]any{"k": nil},
		})
		v.SetVariables([]values.Variable{
			{Name: "v", Value: "{{ .input.a }}"},
			{Name: "js", Expression: "{{ .input.n }} * 2"},
			{Name: "self", Value: "{{ eval `self` }}"},
		})
		v.SetStep("s", values.StepData{Output: map[string]any{"k": "v"}, State: "DONE"})

		for _, sc := range []values.Scope{{}, {This: "s", Iterator: map[string]any{"x": 1}, Attempt: true}} {
			got, err := v.Render(text, sc)
			if err != nil {
				if !errors.Is(err, values.ErrTemplating) {
					t.Fatalf("error %v does not wrap ErrTemplating", err)
				}

				continue
			}

			if !strings.Contains(text, "{{") && got != text {
				t.Fatalf("plain text %q changed into %q", text, got)
			}
		}
	})
}
