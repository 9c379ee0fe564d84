package values

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// ErrTrailingData is returned by [DecodeJSON] when data follows the JSON value.
var ErrTrailingData = errors.New("invalid character after top-level value") //nolint:gochecknoglobals // sentinel error

// DecodeJSON decodes the JSON document b, keeping numbers as json.Number (their exact decimal
// text). Objects decode to map[string]any and arrays to []any.
func DecodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()

	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}

	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode json: %w", ErrTrailingData)
	}

	return v, nil
}

// ParseYAML parses the YAML 1.1 document text (so yes, no, on and off are booleans and 010 is
// 8) into the same types as [DecodeJSON], numbers included.
func ParseYAML(text string) (any, error) {
	// JSON is decoded as JSON: every number keeps its digits, where the
	// YAML reading goes through float64 for wide integers and decimals.
	if b := bytes.TrimSpace([]byte(text)); json.Valid(b) {
		return DecodeJSON(b)
	}
	b, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("convert yaml: %w", err)
	}

	return DecodeJSON(b)
}
