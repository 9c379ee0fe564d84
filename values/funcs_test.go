package values_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/Masterminds/sprig/v3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/utask/utask/values"
)

func TestFunctionsSprigAvailable(t *testing.T) {
	t.Parallel()

	v := values.New(values.Options{})
	names := make([]string, 0, len(sprig.TxtFuncMap()))
	for name := range sprig.TxtFuncMap() {
		names = append(names, name)
	}
	sort.Strings(names)
	require.Greater(t, len(names), 100)

	for _, name := range append(names, "field", "fieldFrom", "eval", "evalCache", "fromJson", "mustFromJson", "uuid", "b64RawEnc", "b64RawDec") {
		// Parsing fails on an unknown function; the branch is never executed.
		_, err := v.Render("{{ if false }}{{ "+name+" }}{{ end }}", values.Scope{})
		require.NoError(t, err, name)
	}

	got, err := v.Render("{{ list 1 2 | rest | first }} {{ `a` | upper }} {{ sha1sum `x` }} {{ coalesce .input.no `c` }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "2 A 11f6ad8ec52a2984abaafd7c3b516503785c2072 c", got)
}

func TestFunctionsField(t *testing.T) {
	t.Parallel()

	payload := `{"common-name":"utask.example.org","id":32,"foo":{"bar":1}}`
	setup := func(t *testing.T) *values.Values {
		t.Helper()

		v := values.New(values.Options{})
		v.SetStep("first", values.StepData{Output: map[string]any{"result": map[string]any{"my-payload": payload}}})
		v.SetInput(map[string]any{"s": map[string]string{"a.b": "dotted"}, "n": 3})

		return v
	}

	tests := []struct {
		name string
		text string
		want string
	}{
		{"Walk", "{{ field `step` `first` `output` `result` `my-payload` }}", payload},
		{"FromJSONFieldFrom", "{{ field `step` `first` `output` `result` `my-payload` | fromJson | fieldFrom `common-name` }}", "utask.example.org"},
		{"FromJSONFieldFromDeep", "{{ field `step` `first` `output` `result` `my-payload` | fromJson | fieldFrom `foo` `bar` }}", "1"},
		{"FieldFromMissingDefault", "{{ `{\"common-name\":\"utask.example.org\",\"id\":32}` | fromJson | fieldFrom `invalid` | default `example.org` }}", "example.org"},
		{"StringMap", "{{ field `input` `s` `a.b` }}", "dotted"},
		{"Missing", "{{ field `input` `nope` `deeper` }}", "<no value>"},
		{"NonMapIntermediate", "{{ field `input` `n` `x` }}", "<no value>"},
		{"MissingDefault", "{{ field `input` `nope` | default `d` }}", "d"},
		{"SeesThis", "{{ field `step` `this` `output` `result` | len }}", "1"},
		{"SeesIterator", "{{ field `iterator` `k` }}", "it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := setup(t).Render(tt.text, values.Scope{This: "first", Iterator: map[string]any{"k": "it"}})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFunctionsFieldFromErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want string
	}{
		{"TooFewArguments", "{{ dict `a` 1 | fieldFrom }}", "error calling fieldFrom: invalid number of parameters given"},
		{"NotAMap", "{{ list 1 | fieldFrom `a` }}", "error calling fieldFrom: unable to cast given data to a map[string]"},
		{"NilData", "{{ .input.none | fieldFrom `a` }}", "error calling fieldFrom: unable to cast given data to a map[string]"},
		{"NonStringKey", "{{ dict `a` 1 | fieldFrom 1 }}", "error calling fieldFrom: foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := values.New(values.Options{}).Render(tt.text, values.Scope{})
			require.ErrorIs(t, err, values.ErrTemplating)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestFunctionsJSON(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want string
	}{
		{"BinaryFloats", "{{ `{\"id\":1619464078}` | fromJson | fieldFrom `id` }}", "1.619464078e+09"},
		{"SmallFloat", "{{ `0.5` | fromJson }}", "0.5"},
		{"HugeFloat", "{{ `1000000000000000000000` | fromJson }}", "1e+21"},
		{"InvalidIsNoValue", "{{ `{nope` | fromJson }}", "<no value>"},
		{"InvalidIsFalsy", "{{ `{nope` | fromJson | default `d` }}", "d"},
		{"MustValid", "{{ (`{\"a\":[1,\"b\"]}` | mustFromJson).a }}", "[1 b]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := values.New(values.Options{}).Render(tt.text, values.Scope{})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("MustInvalid", func(t *testing.T) {
		t.Parallel()

		_, err := values.New(values.Options{}).Render("{{ `{nope` | mustFromJson }}", values.Scope{})
		require.ErrorContains(t, err, "error calling mustFromJson: invalid character 'n' looking for beginning of object key string")
	})
}

func TestFunctionsBase64AndUUID(t *testing.T) {
	t.Parallel()

	v := values.New(values.Options{})

	got, err := v.Render("{{ b64RawEnc `raw message` }}|{{ b64RawDec `cmF3IG1lc3NhZ2U` }}|{{ b64RawDec `cmF3IG1lc3NhZ2U=` }}|{{ b64RawDec `!` }}", values.Scope{})
	require.NoError(t, err)
	require.Equal(t, "cmF3IG1lc3NhZ2U|raw message|illegal base64 data at input byte 15|illegal base64 data at input byte 0", got)

	got, err = v.Render("{{ uuid }} {{ uuid }}", values.Scope{})
	require.NoError(t, err)

	ids := strings.Fields(got)
	require.Len(t, ids, 2)
	require.NotEqual(t, ids[0], ids[1])

	for _, id := range ids {
		u, err := uuid.Parse(id)
		require.NoError(t, err)
		require.Equal(t, uuid.Version(4), u.Version())
	}
}

func TestFunctionsEnv(t *testing.T) {
	t.Parallel()

	// Any variable of the test process will do; tests run in parallel, so none is set here.
	var name, value string
	for _, kv := range os.Environ() {
		if k, val, ok := strings.Cut(kv, "="); ok && k != "" && val != "" && !strings.ContainsAny(k, "`$") {
			name, value = k, val

			break
		}
	}
	require.NotEmpty(t, name, "the test process has no environment variable")

	text := "{{ env `" + name + "` }}|{{ expandenv `<$" + name + ">` }}"

	t.Run("Denied", func(t *testing.T) {
		t.Parallel()

		got, err := values.New(values.Options{}).Render(text, values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "|<>", got)
	})

	t.Run("Allowed", func(t *testing.T) {
		t.Parallel()

		got, err := values.New(values.Options{AllowEnv: true}).Render(text, values.Scope{})
		require.NoError(t, err)
		require.Equal(t, value+"|<"+value+">", got)
	})

	t.Run("SharedCacheKeepsThemApart", func(t *testing.T) {
		t.Parallel()

		c := values.NewCache(0)
		allowed := values.New(values.Options{Cache: c, AllowEnv: true})
		denied := values.New(values.Options{Cache: c})

		got, err := allowed.Render(text, values.Scope{})
		require.NoError(t, err)
		require.Equal(t, value+"|<"+value+">", got)

		got, err = denied.Render(text, values.Scope{})
		require.NoError(t, err)
		require.Equal(t, "|<>", got)
	})
}
