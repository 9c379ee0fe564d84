package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/textproto"
	"strings"

	"github.com/utask/utask/action"
)

// Metadata keys of an http step.
const (
	// MetadataStatus holds the response status code (int).
	MetadataStatus = "HTTPStatus"
	// MetadataHeaders holds the first value of every response header, keyed
	// by canonical header name (map[string]string).
	MetadataHeaders = "HTTPHeaders"
	// MetadataCookies holds the value of every cookie the response sets,
	// keyed by cookie name (map[string]string).
	MetadataCookies = "HTTPCookies"
)

// trimPrefix removes prefix once from the start of body.
func trimPrefix(body []byte, prefix string) []byte {
	return bytes.TrimPrefix(body, []byte(prefix))
}

// responseResult turns a response and its body into the step result.
func responseResult(res *nethttp.Response, body []byte) action.Result {
	metadata := responseMetadata(res)

	var output any = string(body)
	mediaType, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	if mediaType == "application/json" && len(body) > 0 {
		parsed, err := decodeExact(body)
		if err != nil {
			return action.Result{Metadata: metadata, Err: fmt.Errorf("can't unmarshal body: %w", err)}
		}
		output = parsed
	}

	result := action.Result{Output: output, Metadata: metadata}
	switch code := res.StatusCode; {
	case code >= 200 && code <= 299:
	case code >= 400 && code <= 499:
		// The capitalised prefix is part of the step error text users match.
		result.Err = action.ClientError(fmt.Errorf("Client error: failed api request: %d: %s", code, body)) //nolint:staticcheck,revive // see above
	default:
		result.Err = fmt.Errorf("failed api request: %d: %s", code, body)
	}
	return result
}

// responseMetadata returns the status, first header values and cookies.
func responseMetadata(res *nethttp.Response) map[string]any {
	headers := make(map[string]string, len(res.Header))
	for name, values := range res.Header {
		if len(values) == 0 {
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if _, seen := headers[key]; !seen || name == key {
			headers[key] = values[0]
		}
	}
	cookies := map[string]string{}
	for _, cookie := range res.Cookies() {
		cookies[cookie.Name] = cookie.Value
	}
	return map[string]any{
		MetadataStatus:  res.StatusCode,
		MetadataHeaders: headers,
		MetadataCookies: cookies,
	}
}

// decodeExact decodes exactly one JSON value, keeping numbers as
// json.Number so that large integers keep their exact text.
func decodeExact(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err //nolint:wrapcheck // the caller names the operation
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid data after top-level value")
	}
	return v, nil
}
