// Package procout holds the rules the script and ssh actions share to read
// a process's result: the timeout field, the output modes (last line,
// manual delimiters) and the unrecoverable exit-code ranges.
package procout

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNotObject is returned when the output candidate is JSON null, which
// decodes without error but is no object.
var ErrNotObject = errors.New("got null") //nolint:gochecknoglobals // sentinel error

// ParseTimeout parses a timeout field; it may be zero but not negative. An
// empty field is def.
func ParseTimeout(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("timeout %q: must not be negative", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse timeout: %w", err)
	}
	return d, nil
}

// CompileDelimiters builds the expression that captures the text between
// the last start followed by an end and the last end. The delimiters are
// inserted as written, so an alternation in one of them applies to the
// whole expression. It returns the index of the capture group.
func CompileDelimiters(delims []string) (*regexp.Regexp, int, error) {
	if len(delims) != 2 {
		return nil, 0, fmt.Errorf("output_manual_delimiters: expecting 2 regular expressions, got %d", len(delims))
	}
	start, err := regexp.Compile(delims[0])
	if err != nil {
		return nil, 0, fmt.Errorf("compile start delimiter: %w", err)
	}
	if _, err := regexp.Compile(delims[1]); err != nil {
		return nil, 0, fmt.Errorf("compile end delimiter: %w", err)
	}
	re, err := regexp.Compile("(?s)^.*" + delims[0] + "(.*)" + delims[1] + ".*$")
	if err != nil {
		return nil, 0, fmt.Errorf("compile output delimiters: %w", err)
	}
	return re, start.NumSubexp() + 1, nil
}

// CodeRange is an inclusive range of exit codes.
type CodeRange struct {
	Low, High int
}

// Contains reports whether code is in the range.
func (r CodeRange) Contains(code int) bool { return r.Low <= code && code <= r.High }

// ParseCodeRange parses "<n>" or "<a>-<b>" (digits only, b > a, a != 0).
func ParseCodeRange(entry string) (CodeRange, error) {
	bad := func(reason string) (CodeRange, error) {
		return CodeRange{}, fmt.Errorf("exit_codes_unrecoverable entry %q: %s", entry, reason)
	}
	lowText, highText, isRange := strings.Cut(entry, "-")
	low, ok := parseDigits(lowText)
	if !ok {
		return bad("expecting <code> or <low>-<high> with digits only")
	}
	if !isRange {
		return CodeRange{Low: low, High: low}, nil
	}
	high, ok := parseDigits(highText)
	if !ok {
		return bad("expecting <code> or <low>-<high> with digits only")
	}
	if low == 0 {
		return bad("a range cannot start at 0")
	}
	if high <= low {
		return bad("the end of a range must be greater than its start")
	}
	return CodeRange{Low: low, High: high}, nil
}

// parseDigits parses a non-empty string of ASCII digits.
func parseDigits(s string) (int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// LastLine returns the text after the last newline, trimmed; when that is
// empty, the line before it, trimmed. A text without any newline is
// returned whole and untrimmed.
func LastLine(out string) string {
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return out
	}
	if last := strings.TrimSpace(out[i+1:]); last != "" {
		return last
	}
	before := out[:i]
	return strings.TrimSpace(before[strings.LastIndexByte(before, '\n')+1:])
}

// ParseObject decodes an output candidate into a map; numbers become
// float64. An empty candidate is the empty object.
func ParseObject(text string) (map[string]any, error) {
	if text == "" {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, err //nolint:wrapcheck // the caller names the operation
	}
	if m == nil {
		return nil, ErrNotObject
	}
	return m, nil
}
