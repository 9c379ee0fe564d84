package values

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Condition operators, in upper case. Operators are matched case-insensitively.
const (
	OpEQ        = "EQ"        // OpEQ holds when both operands are the same string.
	OpNE        = "NE"        // OpNE holds when the operands differ.
	OpGT        = "GT"        // OpGT holds when the value integer is greater than the expected one.
	OpLT        = "LT"        // OpLT holds when the value integer is less than the expected one.
	OpGE        = "GE"        // OpGE holds when the value integer is greater than or equal to the expected one.
	OpLE        = "LE"        // OpLE holds when the value integer is less than or equal to the expected one.
	OpRegexp    = "REGEXP"    // OpRegexp holds when the expected expression matches the value.
	OpNotRegexp = "NOTREGEXP" // OpNotRegexp holds when the expected expression does not match the value.
	OpIn        = "IN"        // OpIn holds when the expected element is in the value list.
	OpNotIn     = "NOTIN"     // OpNotIn holds when the expected element is not in the value list.
)

// DefaultListSeparator splits the value of IN and NOTIN asserts without ListSeparator.
const DefaultListSeparator = ","

// noValue is what a missing key prints; conditions delete it from both operands.
const noValue = "<no value>"

// ErrUnknownOperator is returned by [Values.EvalAssert] for an operator that
// [ValidOperator] rejects.
var ErrUnknownOperator = errors.New("unknown condition operator") //nolint:gochecknoglobals // sentinel error

// Assert is one assertion of a step condition: Value and Expected are templates whose results
// are compared with Operator.
type Assert struct {
	// Value is the template of the left operand (the list, for IN and NOTIN).
	Value string `json:"value"`
	// Operator is one of the Op constants, in any case.
	Operator string `json:"operator"`
	// Expected is the template of the right operand (the element, for IN and NOTIN).
	Expected string `json:"expected"`
	// ListSeparator splits Value for IN and NOTIN. Defaults to [DefaultListSeparator].
	ListSeparator string `json:"list_separator,omitempty"`
	// Message ends the not-met text of EQ, NE and the ordering operators.
	Message string `json:"message,omitempty"`
}

// EvalAssert evaluates Value and Expected, deletes every "<no value>" from both results, then
// applies the operator, matched case-insensitively:
//
//   - EQ, NE: string equality;
//   - GT, LT, GE, LE: both operands must be base-10 32-bit integers, otherwise it is an error
//     (lower-case operators compare like upper-case ones);
//   - REGEXP, NOTREGEXP: Expected is an RE2 expression searched anywhere in Value; an invalid
//     expression is an error;
//   - IN, NOTIN: Value is split by ListSeparator, each piece trimmed of surrounding spaces, and
//     compared with Expected as it is.
//
// When the assert does not hold, met is false and reason is the not-met text. Templating
// errors, integer parse errors and unknown operators ([ErrUnknownOperator]) are errors.
func (v *Values) EvalAssert(a Assert, sc Scope) (met bool, reason string, err error) {
	val, err := v.Render(a.Value, sc)
	if err != nil {
		return false, "", err
	}

	exp, err := v.Render(a.Expected, sc)
	if err != nil {
		return false, "", err
	}

	val = strings.ReplaceAll(val, noValue, "")
	exp = strings.ReplaceAll(exp, noValue, "")

	switch op := strings.ToUpper(a.Operator); op {
	case OpEQ:
		return val == exp, fmt.Sprintf("Condition not met: expected '%s', got '%s': %s", exp, val, a.Message), nil
	case OpNE:
		return val != exp, fmt.Sprintf("Condition not met: expected a value different from '%s': %s", exp, a.Message), nil
	case OpGT, OpLT, OpGE, OpLE:
		return compareInts(op, val, exp, a.Message)
	case OpRegexp, OpNotRegexp:
		re, err := regexp.Compile(exp)
		if err != nil {
			return false, "", fmt.Errorf("compile condition expression: %w", err)
		}

		if op == OpRegexp {
			return re.MatchString(val), fmt.Sprintf("Condition not met: %s does not match regular expression %s", val, exp), nil
		}

		return !re.MatchString(val), fmt.Sprintf("Condition not met: %s match regular expression %s and expected that it shouldn't", val, exp), nil
	case OpIn:
		return inList(val, exp, a.ListSeparator), fmt.Sprintf("Condition not met: expected %s to be found in list of acceptable values", val), nil
	case OpNotIn:
		return !inList(val, exp, a.ListSeparator), fmt.Sprintf("Condition not met: expected %s not to be found in list of unacceptable values", val), nil
	default:
		return false, "", fmt.Errorf("%w: %q", ErrUnknownOperator, a.Operator)
	}
}

// ValidOperator reports whether op, in any case, is one of EQ, NE, GT, LT, GE, LE, REGEXP,
// NOTREGEXP, IN and NOTIN.
func ValidOperator(op string) bool {
	switch strings.ToUpper(op) {
	case OpEQ, OpNE, OpGT, OpLT, OpGE, OpLE, OpRegexp, OpNotRegexp, OpIn, OpNotIn:
		return true
	default:
		return false
	}
}

// compareInts applies the ordering operator op (upper case) to val and exp.
func compareInts(op, val, exp, msg string) (bool, string, error) {
	// The parse errors of strconv ("strconv.ParseInt: parsing "5.5": invalid syntax") are the
	// texts templates have always produced, so they are returned as they are.
	a, err := strconv.ParseInt(val, 10, 32)
	if err != nil {
		return false, "", err //nolint:wrapcheck // see above
	}

	b, err := strconv.ParseInt(exp, 10, 32)
	if err != nil {
		return false, "", err //nolint:wrapcheck // see above
	}

	var (
		met  bool
		sign string
	)

	switch op {
	case OpGT:
		met, sign = a > b, ">"
	case OpLT:
		met, sign = a < b, "<"
	case OpGE:
		met, sign = a >= b, ">="
	default:
		met, sign = a <= b, "<="
	}

	return met, fmt.Sprintf("Condition not met: expected %s %s %s: %s", val, sign, exp, msg), nil
}

// inList reports whether one of the pieces of list, split by sep and trimmed, equals elem.
func inList(list, elem, sep string) bool {
	if sep == "" {
		sep = DefaultListSeparator
	}

	for piece := range strings.SplitSeq(list, sep) {
		if strings.TrimSpace(piece) == elem {
			return true
		}
	}

	return false
}
