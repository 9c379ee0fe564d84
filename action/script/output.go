package script

import (
	"encoding/json"
	"errors"
	"strings"
)

// errNotObject is returned when the output candidate is JSON null, which
// decodes without error but is no object.
var errNotObject = errors.New("got null")

// candidate returns the text of the combined output that should hold the
// step output as a JSON object, per the plan's output mode. An empty
// candidate means the output is {}.
func (p *plan) candidate(out string) string {
	switch p.mode {
	case ModeDisabled:
		return ""
	case ModeDelimiters:
		m := p.delimiters.FindStringSubmatch(out)
		if m == nil {
			return ""
		}
		return m[p.group]
	default:
		return lastLine(out)
	}
}

// lastLine returns the text after the last newline, trimmed; when that is
// empty, the line before it, trimmed. A text without any newline is
// returned whole and untrimmed.
func lastLine(out string) string {
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

// parseCandidate decodes a candidate into a map; numbers become float64.
// An empty candidate is the empty object.
func parseCandidate(text string) (map[string]any, error) {
	if text == "" {
		return map[string]any{}, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, err //nolint:wrapcheck // the caller names the operation
	}
	if m == nil {
		return nil, errNotObject
	}
	return m, nil
}
