package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// ErrInvalidInput matches (errors.Is) every error of ValidateInputs: the
// values a requester or resolver gave do not fit the declared inputs.
var ErrInvalidInput = errors.New("invalid input")

// inputError carries one of µTask's input error texts as it is, while
// matching ErrInvalidInput.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func (e *inputError) Is(target error) bool { return target == ErrInvalidInput }

func inputErrorf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// maxInputLength is the longest textual form of an input value.
const maxInputLength = 100000

// inputTypes lists the valid input types, in the order the error shows.
func inputTypes() []string {
	return []string{InputTypeString, InputTypePassword, InputTypeBool, InputTypeNumber}
}

// validateDefinition checks an input declaration at template time.
func validateDefinition(in Input) error {
	if in.Regex != nil && len(in.LegalValues) > 0 {
		return fmt.Errorf("Invalid input '%s': both regex and legal value list configured", in.Name) //nolint:staticcheck // exact µTask text
	}
	if in.Regex != nil {
		if _, err := regexp.Compile(*in.Regex); err != nil {
			return fmt.Errorf("Invalid regex for input '%s'", in.Name) //nolint:staticcheck // exact µTask text
		}
	}
	if in.Type != "" && !slices.Contains(inputTypes(), in.Type) {
		return fmt.Errorf("Invalid input type '%s': must be either %v", in.Type, inputTypes()) //nolint:staticcheck // exact µTask text
	}
	for _, lv := range in.LegalValues {
		if err := typeCheck(in, lv); err != nil {
			return err
		}
	}
	if in.Default != nil {
		if err := typeCheck(in, in.Default); err != nil {
			return err
		}
		if err := checkValue(in, in.Default); err != nil {
			return err
		}
	}
	return nil
}

// ValidateInputs checks values against the declared inputs defs, in
// declaration order, and returns a new map holding only the declared inputs,
// with defaults written in for missing ones. A value is missing when its key
// is absent, null or the empty string; a missing input takes its default, or
// is an error unless optional. Present values are type-checked (no
// coercion: numbers are json.Number or Go numbers, booleans are bool), then
// checked against legal_values (same dynamic type and same text), else
// against regex (an unanchored search in the value's text), else must hold
// no double quote. Errors match ErrInvalidInput and carry µTask's texts.
// values may be nil; it is not modified, and defaults are shared with defs.
func ValidateInputs(defs []Input, values map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(defs))
	for _, in := range defs {
		v, present := values[in.Name]
		if !present || v == nil || v == "" {
			switch {
			case in.Default != nil:
				out[in.Name] = in.Default
			case !in.Optional:
				return nil, inputErrorf("Missing input '%s'", in.Name)
			case present:
				out[in.Name] = v
			}
			continue
		}
		if err := checkValue(in, v); err != nil {
			return nil, err
		}
		out[in.Name] = v
	}
	return out, nil
}

// checkValue checks a present value: a list of single values for a
// collection, else one single value.
func checkValue(in Input, v any) error {
	if !in.Collection {
		return checkSingle(in, v)
	}
	list, ok := v.([]any)
	if !ok {
		return inputErrorf("Input '%s' is expected to be an array", in.Name)
	}
	for _, e := range list {
		if err := checkSingle(in, e); err != nil {
			return err
		}
	}
	return nil
}

// checkSingle checks one value: type, length, then legal values, regex or
// the double quote rule.
func checkSingle(in Input, v any) error {
	if err := typeCheck(in, v); err != nil {
		return err
	}
	text := fmt.Sprintf("%v", v)
	if len(text) > maxInputLength {
		return inputErrorf("Invalid input '%s': value can't be longer than %d", in.Name, maxInputLength)
	}
	switch {
	case len(in.LegalValues) > 0:
		for _, lv := range in.LegalValues {
			if reflect.DeepEqual(lv, v) {
				return nil
			}
		}
		return inputErrorf("Invalid input '%s': '%v' is not a legal value (%v)", in.Name, v, in.LegalValues)
	case in.Regex != nil:
		re, err := regexp.Compile(*in.Regex)
		if err != nil {
			return inputErrorf("Invalid regex for input '%s'", in.Name)
		}
		if !re.MatchString(text) {
			return inputErrorf("Invalid input '%s': '%s' doesnt comply with regex '%s'", in.Name, text, *in.Regex)
		}
	case strings.Contains(text, `"`):
		return inputErrorf("Invalid input '%s': cannot contain double quotes", in.Name)
	}
	return nil
}

// typeCheck checks the dynamic type of a value against the input type; null
// values pass.
func typeCheck(in Input, v any) error {
	if v == nil {
		return nil
	}
	switch in.Type {
	case "", InputTypeString, InputTypePassword:
		if _, ok := v.(string); !ok {
			return inputErrorf("Invalid value '%s': expected a string", in.Name)
		}
	case InputTypeBool:
		if _, ok := v.(bool); !ok {
			return inputErrorf("Invalid value '%s': expected a boolean", in.Name)
		}
	case InputTypeNumber:
		if !isNumber(v) {
			return inputErrorf("Invalid value '%s': expected a number", in.Name)
		}
	}
	return nil
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}
