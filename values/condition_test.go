package values_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/utask/utask/values"
)

func TestEvalAssert(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		assert values.Assert
		met    bool
		reason string
	}{
		{"EqMet", values.Assert{Value: "{{ .input.s }}", Operator: "EQ", Expected: "foo"}, true, ""},
		{
			"EqNotMet", values.Assert{Value: "{{ .input.s }}", Operator: "EQ", Expected: "bar", Message: "m"}, false,
			"Condition not met: expected 'bar', got 'foo': m",
		},
		{"EqLowerCase", values.Assert{Value: "{{ .input.s }}", Operator: "eq", Expected: "foo"}, true, ""},
		{"EqNoValueStripped", values.Assert{Value: "{{ .input.missing }}", Operator: "EQ", Expected: ""}, true, ""},
		{"EqNoValueStrippedInside", values.Assert{Value: "a{{ .input.missing }}b", Operator: "EQ", Expected: "a<no value>b{{ .input.missing }}"}, true, ""},
		{"EqExpectedTemplated", values.Assert{Value: "12", Operator: "EQ", Expected: "{{ .input.n }}"}, true, ""},
		{"NeMet", values.Assert{Value: "a", Operator: "NE", Expected: "b"}, true, ""},
		{
			"NeNotMet", values.Assert{Value: "a", Operator: "Ne", Expected: "a", Message: "m"}, false,
			"Condition not met: expected a value different from 'a': m",
		},
		{"GtMet", values.Assert{Value: "{{ .input.n }}", Operator: "GT", Expected: "5"}, true, ""},
		{
			"GtNotMet", values.Assert{Value: "5", Operator: "GT", Expected: "10", Message: "m"}, false,
			"Condition not met: expected 5 > 10: m",
		},
		{
			"GtLowerCaseCompares", values.Assert{Value: "5", Operator: "gt", Expected: "10", Message: "m"}, false,
			"Condition not met: expected 5 > 10: m",
		},
		{"GtEqualNotMet", values.Assert{Value: "5", Operator: "GT", Expected: "5"}, false, "Condition not met: expected 5 > 5: "},
		{"LtMet", values.Assert{Value: "-3", Operator: "LT", Expected: "2"}, true, ""},
		{"LtLowerCaseCompares", values.Assert{Value: "3", Operator: "lt", Expected: "2"}, false, "Condition not met: expected 3 < 2: "},
		{"GeEqualMet", values.Assert{Value: "2147483647", Operator: "GE", Expected: "2147483647"}, true, ""},
		{"GeLowerCaseCompares", values.Assert{Value: "1", Operator: "ge", Expected: "2"}, false, "Condition not met: expected 1 >= 2: "},
		{"LeEqualMet", values.Assert{Value: "-2147483648", Operator: "LE", Expected: "-2147483648"}, true, ""},
		{"LeLowerCaseCompares", values.Assert{Value: "3", Operator: "le", Expected: "2"}, false, "Condition not met: expected 3 <= 2: "},
		{"RegexpUnanchored", values.Assert{Value: "a123b", Operator: "REGEXP", Expected: `\d+`}, true, ""},
		{
			"RegexpNotMet", values.Assert{Value: "abc", Operator: "regexp", Expected: "^b"}, false,
			"Condition not met: abc does not match regular expression ^b",
		},
		{"NotRegexpMet", values.Assert{Value: "abc", Operator: "NOTREGEXP", Expected: "^b"}, true, ""},
		{
			"NotRegexpNotMet", values.Assert{Value: "abc", Operator: "NOTREGEXP", Expected: "b"}, false,
			"Condition not met: abc match regular expression b and expected that it shouldn't",
		},
		{"InTrimsPieces", values.Assert{Value: "a, b ,c", Operator: "IN", Expected: "b"}, true, ""},
		{
			"InExpectedNotTrimmed", values.Assert{Value: "a, b ,c", Operator: "IN", Expected: " b"}, false,
			"Condition not met: expected a, b ,c to be found in list of acceptable values",
		},
		{"InSeparator", values.Assert{Value: "a|b", Operator: "in", Expected: "b", ListSeparator: "|"}, true, ""},
		{"InDefaultSeparatorOnly", values.Assert{Value: "a|b", Operator: "IN", Expected: "b"}, false, "Condition not met: expected a|b to be found in list of acceptable values"},
		{"InFromList", values.Assert{Value: "{{ .input.l | join `,` }}", Operator: "IN", Expected: "y"}, true, ""},
		{"NotInMet", values.Assert{Value: "a,b", Operator: "NOTIN", Expected: "c"}, true, ""},
		{
			"NotInNotMet", values.Assert{Value: "a,b", Operator: "notin", Expected: "a"}, false,
			"Condition not met: expected a,b not to be found in list of unacceptable values",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			v := values.New(values.Options{})
			v.SetInput(map[string]any{"s": "foo", "n": json.Number("12"), "l": []any{"x", "y"}})

			met, reason, err := v.EvalAssert(tt.assert, values.Scope{})
			require.NoError(t, err)
			require.Equal(t, tt.met, met)

			if !tt.met {
				require.Equal(t, tt.reason, reason)
			}
		})
	}
}

func TestEvalAssertErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		assert values.Assert
		want   string
		target error
	}{
		{"TemplatingValue", values.Assert{Value: "{{ .input.s.x }}", Operator: "EQ"}, "can't evaluate field x", values.ErrTemplating},
		{"TemplatingExpected", values.Assert{Expected: "{{", Operator: "EQ"}, "unclosed action", values.ErrTemplating},
		{"Decimal", values.Assert{Value: "5.5", Operator: "GT", Expected: "1"}, `strconv.ParseInt: parsing "5.5": invalid syntax`, nil},
		{"OutOfRange", values.Assert{Value: "1", Operator: "lt", Expected: "3000000000"}, `strconv.ParseInt: parsing "3000000000": value out of range`, nil},
		{"Padded", values.Assert{Value: " 1", Operator: "GE", Expected: "1"}, `strconv.ParseInt: parsing " 1": invalid syntax`, nil},
		{"EmptyFromNoValue", values.Assert{Value: "{{ .input.none }}", Operator: "LE", Expected: "1"}, `strconv.ParseInt: parsing "": invalid syntax`, nil},
		{"InvalidRegexp", values.Assert{Value: "a", Operator: "REGEXP", Expected: "{{ `[` }}"}, "missing closing ]", nil},
		{"InvalidNotRegexp", values.Assert{Value: "a", Operator: "NOTREGEXP", Expected: "(?P<"}, "invalid or unsupported Perl syntax", nil},
		{"UnknownOperator", values.Assert{Value: "a", Operator: "CONTAINS", Expected: "a"}, `unknown condition operator: "CONTAINS"`, values.ErrUnknownOperator},
		{"EmptyOperator", values.Assert{Value: "a", Expected: "a"}, "unknown condition operator", values.ErrUnknownOperator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			v := values.New(values.Options{})
			v.SetInput(map[string]any{"s": json.Number("1")})

			met, _, err := v.EvalAssert(tt.assert, values.Scope{})
			require.ErrorContains(t, err, tt.want)
			require.False(t, met)

			if tt.target != nil {
				require.ErrorIs(t, err, tt.target)
			}
		})
	}
}

func TestEvalAssertScope(t *testing.T) {
	t.Parallel()

	v := values.New(values.Options{})
	v.SetStep("s", values.StepData{State: "RUNNING"})

	met, _, err := v.EvalAssert(values.Assert{Value: "{{ .step.this.state }}-{{ .iterator.k }}", Operator: "EQ", Expected: "RUNNING-v"},
		values.Scope{This: "s", Iterator: map[string]any{"k": "v"}})
	require.NoError(t, err)
	require.True(t, met)
}

func TestValidOperator(t *testing.T) {
	t.Parallel()

	for _, op := range []string{"EQ", "ne", "Gt", "LT", "ge", "LE", "REGEXP", "notregexp", "IN", "NotIn"} {
		require.True(t, values.ValidOperator(op), op)
	}

	for _, op := range []string{"", "EQUAL", "==", "NOT IN", " EQ", "CONTAINS"} {
		require.False(t, values.ValidOperator(op), op)
	}
}
