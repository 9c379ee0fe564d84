package script

import "github.com/utask/utask/action/internal/procout"

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
		return procout.LastLine(out)
	}
}
