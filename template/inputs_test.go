package template

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func strPtr(s string) *string { return &s }

func TestValidateInputs(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 100001)
	cases := []struct {
		name    string
		defs    []Input
		values  map[string]any
		want    map[string]any
		wantErr string
	}{
		{
			name:    "MissingRequired",
			defs:    []Input{{Name: "x"}},
			values:  map[string]any{},
			wantErr: "Missing input 'x'",
		},
		{
			name:    "NilValuesMissingRequired",
			defs:    []Input{{Name: "x"}},
			wantErr: "Missing input 'x'",
		},
		{
			name:    "NullIsMissing",
			defs:    []Input{{Name: "x"}},
			values:  map[string]any{"x": nil},
			wantErr: "Missing input 'x'",
		},
		{
			name:    "EmptyStringIsMissing",
			defs:    []Input{{Name: "x"}},
			values:  map[string]any{"x": ""},
			wantErr: "Missing input 'x'",
		},
		{
			name:   "OptionalAbsentStaysAbsent",
			defs:   []Input{{Name: "x", Optional: true}},
			values: map[string]any{},
			want:   map[string]any{},
		},
		{
			name:   "OptionalEmptyStaysEmpty",
			defs:   []Input{{Name: "x", Optional: true}},
			values: map[string]any{"x": ""},
			want:   map[string]any{"x": ""},
		},
		{
			name:   "DefaultReplacesAbsent",
			defs:   []Input{{Name: "x", Default: "d"}},
			values: nil,
			want:   map[string]any{"x": "d"},
		},
		{
			name:   "DefaultReplacesEmptyString",
			defs:   []Input{{Name: "x", Default: "d"}},
			values: map[string]any{"x": ""},
			want:   map[string]any{"x": "d"},
		},
		{
			name:   "DefaultReplacesNull",
			defs:   []Input{{Name: "x", Default: json.Number("3"), Type: InputTypeNumber}},
			values: map[string]any{"x": nil},
			want:   map[string]any{"x": json.Number("3")},
		},
		{
			name:   "EmptyStringDefaultCountsAsSet",
			defs:   []Input{{Name: "x", Default: ""}},
			values: map[string]any{},
			want:   map[string]any{"x": ""},
		},
		{
			name:   "DefaultNotCheckedAgainstLegalValues",
			defs:   []Input{{Name: "x", Default: "zzz", LegalValues: []any{"a"}}},
			values: map[string]any{},
			want:   map[string]any{"x": "zzz"},
		},
		{
			name:   "UndeclaredKeysDropped",
			defs:   []Input{{Name: "x"}},
			values: map[string]any{"x": "v", "other": "dropped"},
			want:   map[string]any{"x": "v"},
		},
		{
			name:    "DeclarationOrderFirstError",
			defs:    []Input{{Name: "a", Type: InputTypeBool}, {Name: "b"}},
			values:  map[string]any{"a": "true"},
			wantErr: "Invalid value 'a': expected a boolean",
		},
		{
			name:    "StringRejectsNumber",
			defs:    []Input{{Name: "x"}},
			values:  map[string]any{"x": json.Number("1")},
			wantErr: "Invalid value 'x': expected a string",
		},
		{
			name:    "PasswordRejectsBool",
			defs:    []Input{{Name: "x", Type: InputTypePassword}},
			values:  map[string]any{"x": true},
			wantErr: "Invalid value 'x': expected a string",
		},
		{
			name:   "PasswordAcceptsString",
			defs:   []Input{{Name: "x", Type: InputTypePassword}},
			values: map[string]any{"x": "s3cret"},
			want:   map[string]any{"x": "s3cret"},
		},
		{
			name:    "BoolRejectsStringTrue",
			defs:    []Input{{Name: "x", Type: InputTypeBool}},
			values:  map[string]any{"x": "true"},
			wantErr: "Invalid value 'x': expected a boolean",
		},
		{
			name:   "BoolAcceptsFalse",
			defs:   []Input{{Name: "x", Type: InputTypeBool}},
			values: map[string]any{"x": false},
			want:   map[string]any{"x": false},
		},
		{
			name:    "NumberRejectsString",
			defs:    []Input{{Name: "x", Type: InputTypeNumber}},
			values:  map[string]any{"x": "12"},
			wantErr: "Invalid value 'x': expected a number",
		},
		{
			name:   "NumberAcceptsExactDecimal",
			defs:   []Input{{Name: "x", Type: InputTypeNumber}},
			values: map[string]any{"x": json.Number("12345678901234567")},
			want:   map[string]any{"x": json.Number("12345678901234567")},
		},
		{
			name:   "NumberAcceptsFloat",
			defs:   []Input{{Name: "x", Type: InputTypeNumber}},
			values: map[string]any{"x": 1.5},
			want:   map[string]any{"x": 1.5},
		},
		{
			name:    "CollectionNeedsList",
			defs:    []Input{{Name: "x", Collection: true}},
			values:  map[string]any{"x": "a"},
			wantErr: "Input 'x' is expected to be an array",
		},
		{
			name:    "CollectionChecksEachElement",
			defs:    []Input{{Name: "x", Collection: true, LegalValues: []any{"a", "b"}}},
			values:  map[string]any{"x": []any{"a", "c"}},
			wantErr: "Invalid input 'x': 'c' is not a legal value ([a b])",
		},
		{
			name:    "CollectionElementType",
			defs:    []Input{{Name: "x", Collection: true, Type: InputTypeNumber}},
			values:  map[string]any{"x": []any{json.Number("1"), "2"}},
			wantErr: "Invalid value 'x': expected a number",
		},
		{
			name:   "CollectionValid",
			defs:   []Input{{Name: "x", Collection: true}},
			values: map[string]any{"x": []any{"a", "b"}},
			want:   map[string]any{"x": []any{"a", "b"}},
		},
		{
			name:   "EmptyCollectionIsPresent",
			defs:   []Input{{Name: "x", Collection: true}},
			values: map[string]any{"x": []any{}},
			want:   map[string]any{"x": []any{}},
		},
		{
			name:    "ValueTooLong",
			defs:    []Input{{Name: "x"}},
			values:  map[string]any{"x": long},
			wantErr: "Invalid input 'x': value can't be longer than 100000",
		},
		{
			name:   "ValueAtLengthLimit",
			defs:   []Input{{Name: "x"}},
			values: map[string]any{"x": long[1:]},
			want:   map[string]any{"x": long[1:]},
		},
		{
			name:    "NotALegalValue",
			defs:    []Input{{Name: "x", LegalValues: []any{"a", json.Number("1"), true}}},
			values:  map[string]any{"x": "z"},
			wantErr: "Invalid input 'x': 'z' is not a legal value ([a 1 true])",
		},
		{
			name:   "LegalValueMatches",
			defs:   []Input{{Name: "x", LegalValues: []any{"a", "b"}}},
			values: map[string]any{"x": "b"},
			want:   map[string]any{"x": "b"},
		},
		{
			name:    "LegalNumberNeedsSameText",
			defs:    []Input{{Name: "x", Type: InputTypeNumber, LegalValues: []any{json.Number("1")}}},
			values:  map[string]any{"x": json.Number("1.0")},
			wantErr: "Invalid input 'x': '1.0' is not a legal value ([1])",
		},
		{
			name:    "LegalNumberNeedsSameType",
			defs:    []Input{{Name: "x", Type: InputTypeNumber, LegalValues: []any{json.Number("1")}}},
			values:  map[string]any{"x": float64(1)},
			wantErr: "Invalid input 'x': '1' is not a legal value ([1])",
		},
		{
			name:   "LegalNumberSameText",
			defs:   []Input{{Name: "x", Type: InputTypeNumber, LegalValues: []any{json.Number("1.0")}}},
			values: map[string]any{"x": json.Number("1.0")},
			want:   map[string]any{"x": json.Number("1.0")},
		},
		{
			name:   "LegalValueAllowsDoubleQuote",
			defs:   []Input{{Name: "x", LegalValues: []any{`a"b`}}},
			values: map[string]any{"x": `a"b`},
			want:   map[string]any{"x": `a"b`},
		},
		{
			name:   "RegexIsUnanchored",
			defs:   []Input{{Name: "x", Regex: strPtr(`\d+`)}},
			values: map[string]any{"x": "a1b"},
			want:   map[string]any{"x": "a1b"},
		},
		{
			name:    "RegexMismatch",
			defs:    []Input{{Name: "x", Regex: strPtr(`^\d+$`)}},
			values:  map[string]any{"x": "a1b"},
			wantErr: `Invalid input 'x': 'a1b' doesnt comply with regex '^\d+$'`,
		},
		{
			name:    "RegexOnNumberText",
			defs:    []Input{{Name: "x", Type: InputTypeNumber, Regex: strPtr(`^\d+$`)}},
			values:  map[string]any{"x": json.Number("1.5")},
			wantErr: `Invalid input 'x': '1.5' doesnt comply with regex '^\d+$'`,
		},
		{
			name:   "RegexAllowsDoubleQuote",
			defs:   []Input{{Name: "x", Regex: strPtr(`.`)}},
			values: map[string]any{"x": `say "hi"`},
			want:   map[string]any{"x": `say "hi"`},
		},
		{
			name:    "DoubleQuoteRejectedWithoutConstraint",
			defs:    []Input{{Name: "x"}},
			values:  map[string]any{"x": `say "hi"`},
			wantErr: "Invalid input 'x': cannot contain double quotes",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ValidateInputs(tc.defs, tc.values)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.ErrorIs(t, err, ErrInvalidInput)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestValidateInputsDoesNotModifyValues(t *testing.T) {
	t.Parallel()
	values := map[string]any{"x": "", "extra": 1}
	got, err := ValidateInputs([]Input{{Name: "x", Default: "d"}, {Name: "y", Default: "e"}}, values)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"x": "d", "y": "e"}, got)
	require.Equal(t, map[string]any{"x": "", "extra": 1}, values)
}

// TestValidateInputsDecodedJSON feeds values as the API decodes them (exact
// numbers), so that legal number values compare by their text.
func TestValidateInputsDecodedJSON(t *testing.T) {
	t.Parallel()
	tmpl, err := Parse([]byte("inputs:\n  - name: num\n    type: number\n    legal_values: [1, 2.5]\n"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{name: "Integer", body: `{"num": 1}`},
		{name: "Decimal", body: `{"num": 2.5}`},
		{name: "SameValueOtherText", body: `{"num": 1.0}`, wantErr: "Invalid input 'num': '1.0' is not a legal value ([1 2.5])"},
		{name: "Missing", body: `{}`, wantErr: "Missing input 'num'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, err := decodeExact([]byte(tc.body))
			require.NoError(t, err)
			_, err = ValidateInputs(tmpl.Inputs, doc.(map[string]any))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.wantErr)
		})
	}
}

// TestCollectionNeverHasDefault shows that a collection input accepts no
// non-null default: a list fails the type check of a single value, a single
// value fails the list check.
func TestCollectionNeverHasDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		def     any
		wantErr string
	}{
		{name: "ListDefault", def: []any{"a"}, wantErr: "Invalid value 'ids': expected a string"},
		{name: "ScalarDefault", def: "a", wantErr: "Input 'ids' is expected to be an array"},
		{name: "EmptyListDefault", def: []any{}, wantErr: "Invalid value 'ids': expected a string"},
		{name: "NullDefault", def: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := validateDefinition(Input{Name: "ids", Collection: true, Default: tc.def})
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.wantErr)
		})
	}
}
