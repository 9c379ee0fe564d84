// Package callback is the callback action: a step that hands out a one-shot
// URL (create), and a step that waits until that URL has been called (wait).
//
// A call to the URL (POST /unsecured/callback/{id}?t=<token>, served by the
// API) stores the JSON body it carries, once, and makes the resolution that
// waits for it run. The token is a random secret kept sealed in the store;
// an optional JSON schema given at creation is checked against the body
// before it is accepted.
package callback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/utask/utask/action"
	"github.com/utask/utask/template"
)

// Name is the action type.
const Name = "callback"

// Actions of the configuration.
const (
	ActionCreate = "create"
	ActionWait   = "wait"
)

// DefaultPathPrefix is the path of the callback route, under which the
// advertised URLs are built when no path prefix is configured.
const DefaultPathPrefix = "/unsecured/callback"

// Callback is what the action sees of a stored callback.
type Callback struct {
	ID     string
	Secret string
	// Called is when the URL was called; nil until then.
	Called *time.Time
	// Body is the JSON text of the body received (null when the call had
	// none); nil until called.
	Body []byte
}

// Store creates and reads callbacks (the service implements it).
type Store interface {
	// CreateCallback stores a new callback, with a new id and a new random
	// secret, for the resolution of task taskID, with its normalised JSON
	// schema (nil when none).
	CreateCallback(ctx context.Context, taskID string, schema []byte) (*Callback, error)
	// Callback reads a callback by id.
	Callback(ctx context.Context, id string) (*Callback, error)
}

// URLs builds the public URLs of callbacks: BaseURL, then the path prefix,
// then "/" and the id, then "?t=" and the token.
type URLs struct {
	// BaseURL is the public URL of the server; a trailing "/" is ignored.
	BaseURL string
	// PathPrefix is the path the callback route is published under, for a
	// reverse proxy in front of the server to map: "" is
	// DefaultPathPrefix, "/" none at all. A leading "/" is added and a
	// trailing one removed. It does not move the route itself.
	PathPrefix string
}

// URL returns the URL of callback id with its token.
func (u URLs) URL(id, token string) string {
	prefix := DefaultPathPrefix
	if u.PathPrefix != "" {
		prefix = "/" + strings.Trim(u.PathPrefix, "/")
		if prefix == "/" {
			prefix = ""
		}
	}
	return strings.TrimSuffix(u.BaseURL, "/") + prefix + "/" + id + "?t=" + token
}

// New returns the callback action, which advertises URLs built by urls.
func New(store Store, urls URLs) action.Action {
	return &callbackAction{store: store, urls: urls}
}

type callbackAction struct {
	store Store
	urls  URLs
}

type config struct {
	Action string `json:"action"`
	Schema string `json:"schema"`
	ID     string `json:"id"`
}

func decode(base, raw json.RawMessage) (*config, error) {
	var c config
	if err := action.Overlay(base, raw, &c); err != nil {
		return nil, err
	}
	c.Action = strings.ToLower(c.Action)
	return &c, nil
}

// ValidateConfig checks the action and, for wait, that an id is given.
func (a *callbackAction) ValidateConfig(base, raw json.RawMessage) error {
	c, err := decode(base, raw)
	if err != nil {
		return err
	}
	switch c.Action {
	case ActionCreate:
	case ActionWait:
		if c.ID == "" {
			return errors.New("callback: id is required with action wait")
		}
	default:
		return fmt.Errorf("callback: unknown action %q: want %q or %q", c.Action, ActionCreate, ActionWait)
	}
	return nil
}

// Resources: none.
func (a *callbackAction) Resources(_, _ json.RawMessage) []string { return nil }

// Context asks the engine for the task and the step.
func (a *callbackAction) Context(stepName string) map[string]any {
	return map[string]any{
		"step":               stepName,
		"task_id":            "{{ .task.task_id }}",
		"requester_username": "{{ .task.requester_username }}",
	}
}

// Run creates a callback, or reports whether one has been called.
func (a *callbackAction) Run(ctx context.Context, req action.Request) action.Result {
	c, err := decode(req.BaseConfig, req.Config)
	if err != nil {
		return action.Result{Err: err}
	}
	switch c.Action {
	case ActionCreate:
		taskID, _ := req.Context["task_id"].(string)
		return a.create(ctx, taskID, c.Schema)
	case ActionWait:
		return a.wait(ctx, c.ID)
	}
	return action.Result{Err: action.Clientf("callback: unknown action %q", c.Action)}
}

func (a *callbackAction) create(ctx context.Context, taskID, schemaText string) action.Result {
	var (
		schema    []byte
		schemaOut any
	)
	if schemaText != "" {
		var err error
		if schema, err = NormalizeSchema(schemaText); err != nil {
			return action.Result{Err: action.ClientError(err)}
		}
		if schemaOut, err = decodeJSON(schema); err != nil {
			return action.Result{Err: action.ClientError(err)}
		}
	}
	cb, err := a.store.CreateCallback(ctx, taskID, schema)
	if err != nil {
		return action.Result{Err: fmt.Errorf("create callback: %w", err)}
	}
	return action.Result{Output: map[string]any{
		"id":     cb.ID,
		"url":    a.urls.URL(cb.ID, cb.Secret),
		"token":  cb.Secret,
		"schema": schemaOut,
	}}
}

func (a *callbackAction) wait(ctx context.Context, id string) action.Result {
	if id == "" {
		return action.Result{Err: errors.New("callback: id is required with action wait")}
	}
	cb, err := a.store.Callback(ctx, id)
	if err != nil {
		return action.Result{Err: fmt.Errorf("load callback %s: %w", id, err)}
	}
	if cb.Called == nil {
		return action.Result{Err: action.WaitingError(errors.New("task is waiting for a callback"))}
	}
	body, err := decodeJSON(cb.Body)
	if err != nil {
		return action.Result{Err: fmt.Errorf("decode body of callback %s: %w", id, err)}
	}
	return action.Result{Output: map[string]any{
		"id":   cb.ID,
		"date": cb.Called.UTC().Format(time.RFC3339Nano),
		"body": body,
	}}
}

// NormalizeSchema checks that text is a usable JSON schema and returns it
// with its dialect made explicit: draft-07 unless it names one with $schema
// or a numeric version (4, 6 or 7).
func NormalizeSchema(text string) ([]byte, error) {
	schema, err := template.NormalizeSchema(json.RawMessage(text))
	if err != nil {
		return nil, fmt.Errorf("invalid schema: %w", err)
	}
	if _, err := template.CompileSchema("callback", schema); err != nil {
		return nil, fmt.Errorf("invalid schema: %w", err)
	}
	return schema, nil
}

// ValidateBody checks body (the JSON text of a call's body) against a
// normalised schema made by NormalizeSchema.
func ValidateBody(schema, body []byte) error {
	compiled, err := template.CompileSchema("callback", schema)
	if err != nil {
		return fmt.Errorf("compile schema: %w", err)
	}
	v, err := decodeJSON(body)
	if err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return compiled.Validate(v)
}

// decodeJSON decodes one JSON value, numbers kept exact (json.Number, which
// the schema validator also understands).
func decodeJSON(text []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
