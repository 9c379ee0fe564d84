// Package echo implements the builtin action "echo": it returns the output,
// metadata and, optionally, the error its configuration describes. Templates
// use it to shape or aggregate data and tests use it to simulate failures.
package echo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"

	"github.com/utask/utask/action"
)

// Name is the action type under which echo is registered.
const Name = "echo"

// Error types accepted by the error_type field.
const (
	errorTypeClient = "client"
	errorTypeServer = "server"
)

// ErrWrongErrorType is returned by ValidateConfig when error_type is neither
// "client", "server" nor empty.
var ErrWrongErrorType = errors.New("Wrong error type: expecting 'client' or 'server'") //nolint:staticcheck // user-visible text fixed by the specification

// config is the configuration of one echo step.
type config struct {
	// Output is returned as the step output.
	Output any `json:"output"`
	// Metadata is returned as the step metadata.
	Metadata any `json:"metadata"`
	// Unmarshal, when true, makes Output a YAML or JSON text to parse.
	Unmarshal bool `json:"unmarshal"`
	// ErrorMessage, when not empty, makes the step fail with this text.
	ErrorMessage string `json:"error_message"`
	// ErrorType is "client", "server" or empty (server).
	ErrorType string `json:"error_type"`
}

type echoAction struct{}

// SideEffectFree marks echo as an action that changes nothing outside the
// resolution.
func (echoAction) SideEffectFree() {}

// New returns the echo action.
func New() action.Action {
	return echoAction{}
}

// ValidateConfig checks the raw configuration: it must decode and its
// error_type must be "client", "server" or empty.
func (echoAction) ValidateConfig(base, cfg json.RawMessage) error {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return err
	}
	switch c.ErrorType {
	case "", errorTypeClient, errorTypeServer:
		return nil
	default:
		return ErrWrongErrorType
	}
}

// Run returns the configured output and metadata, and the configured error
// if any. Numbers keep their exact textual form (json.Number).
func (echoAction) Run(_ context.Context, req action.Request) action.Result {
	var c config
	if err := decodeOverlay(req.BaseConfig, req.Config, &c); err != nil {
		return action.Result{Err: err}
	}

	output := c.Output
	if c.Unmarshal {
		text, ok := c.Output.(string)
		if !ok {
			return action.Result{Err: fmt.Errorf("cannot unmarshal: invalid data type (%T)", c.Output)}
		}
		parsed, err := parseText(text)
		if err != nil {
			return action.Result{Err: fmt.Errorf("failed to unmarshal output: %w", err)}
		}
		output = parsed
	}

	res := action.Result{Output: output, Metadata: c.Metadata}
	if c.ErrorMessage != "" {
		res.Err = errors.New(c.ErrorMessage)
		if c.ErrorType == errorTypeClient {
			res.Err = action.ClientError(res.Err)
		}
	}
	return res
}

// Resources returns no resource: echo does no I/O.
func (echoAction) Resources(_, _ json.RawMessage) []string {
	return nil
}

// decodeOverlay decodes base then cfg into v like action.Overlay, but keeps
// numbers landing in untyped fields as json.Number.
func decodeOverlay(base, cfg json.RawMessage, v any) error {
	if len(base) > 0 && string(base) != "null" {
		if err := decodeExact(base, v); err != nil {
			return fmt.Errorf("unmarshal base configuration: %w", err)
		}
	}
	if len(cfg) == 0 {
		return errors.New("unmarshal configuration: EOF")
	}
	if err := decodeExact(cfg, v); err != nil {
		return fmt.Errorf("unmarshal configuration: %w", err)
	}
	return nil
}

// parseText parses a YAML or JSON document into a generic value whose
// numbers are json.Number. A JSON document is decoded as JSON, so that every
// number keeps its digits (the YAML reading goes through float64 for
// integers wider than 64 bits and for decimals).
func parseText(text string) (any, error) {
	if b := bytes.TrimSpace([]byte(text)); json.Valid(b) {
		var v any
		if err := decodeExact(b, &v); err != nil {
			return nil, err
		}
		return v, nil
	}
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, err //nolint:wrapcheck // the caller names the operation
	}
	var v any
	if err := decodeExact(js, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeExact decodes exactly one JSON value from data into v, keeping
// numbers in untyped fields as json.Number.
func decodeExact(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid data after top-level value")
	}
	return nil
}
