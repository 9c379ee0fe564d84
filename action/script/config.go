package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/utask/utask/action/internal/procout"
)

// defaultTimeout bounds a run when the timeout field is empty.
const defaultTimeout = 2 * time.Minute

// Output modes accepted by the output_mode field.
const (
	// ModeLastLine reads the output from the last line the script printed.
	ModeLastLine = "manual-lastline"
	// ModeDelimiters reads the output between two regular expressions.
	ModeDelimiters = "manual-delimiters"
	// ModeDisabled ignores what the script printed: the output is {}.
	ModeDisabled = "disabled"
)

// config is the configuration of one script step.
type config struct {
	// FilePath is the script, relative to the scripts folder.
	FilePath string `json:"file_path"`
	// Argv holds the arguments given to the script.
	Argv []string `json:"argv"`
	// Stdin is written to the script's standard input.
	Stdin string `json:"stdin"`
	// Environment holds extra environment variables; values are converted
	// to text with %v.
	Environment map[string]any `json:"environment"`
	// Timeout is a Go duration; empty means defaultTimeout.
	Timeout string `json:"timeout"`
	// OutputMode is one of the Mode constants; empty means ModeLastLine.
	OutputMode string `json:"output_mode"`
	// OutputManualDelimiters holds the start and end regular expressions
	// of ModeDelimiters.
	OutputManualDelimiters []string `json:"output_manual_delimiters"`
	// ExitCodesUnrecoverable lists the exit codes ("3") and ranges
	// ("10-19") that make the step a client error.
	ExitCodesUnrecoverable []string `json:"exit_codes_unrecoverable"`
}

// plan is a configuration checked and compiled for one run.
type plan struct {
	timeout     time.Duration
	mode        string
	delimiters  *regexp.Regexp // ModeDelimiters only
	group       int            // index of the output capture in delimiters
	unrecovered []procout.CodeRange
}

// compile checks every field whose value must be literal and returns the
// run plan. file_path is checked separately, against the scripts folder.
func (c *config) compile() (*plan, error) {
	p := &plan{mode: c.OutputMode}

	var err error
	if p.timeout, err = procout.ParseTimeout(c.Timeout, defaultTimeout); err != nil {
		return nil, err
	}

	switch c.OutputMode {
	case "":
		p.mode = ModeLastLine
	case ModeLastLine, ModeDelimiters, ModeDisabled:
	default:
		return nil, fmt.Errorf("unknown output_mode %q: expecting %s, %s or %s",
			c.OutputMode, ModeLastLine, ModeDelimiters, ModeDisabled)
	}

	if p.mode == ModeDelimiters {
		if p.delimiters, p.group, err = procout.CompileDelimiters(c.OutputManualDelimiters); err != nil {
			return nil, err
		}
	} else if len(c.OutputManualDelimiters) > 0 {
		return nil, fmt.Errorf("output_manual_delimiters requires output_mode %s", ModeDelimiters)
	}

	for _, entry := range c.ExitCodesUnrecoverable {
		r, err := procout.ParseCodeRange(entry)
		if err != nil {
			return nil, err
		}
		p.unrecovered = append(p.unrecovered, r)
	}
	return p, nil
}

// unrecoverable reports whether code is listed in exit_codes_unrecoverable.
func (p *plan) unrecoverable(code int) bool {
	for _, r := range p.unrecovered {
		if r.Contains(code) {
			return true
		}
	}
	return false
}

// decodeConfig decodes base then cfg into c, so that the keys of cfg
// override those of base. Numbers landing in untyped fields (environment
// values) keep their exact text.
func decodeConfig(base, cfg json.RawMessage, c *config) error {
	if len(base) > 0 && string(base) != "null" {
		if err := decodeExact(base, c); err != nil {
			return fmt.Errorf("unmarshal base configuration: %w", err)
		}
	}
	if len(cfg) == 0 {
		return errors.New("unmarshal configuration: EOF")
	}
	if err := decodeExact(cfg, c); err != nil {
		return fmt.Errorf("unmarshal configuration: %w", err)
	}
	return nil
}

// decodeExact decodes exactly one JSON value from data into v, keeping
// numbers in untyped fields as json.Number.
func decodeExact(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err //nolint:wrapcheck // the caller names the operation
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid data after top-level value")
	}
	return nil
}
