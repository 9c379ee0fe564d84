// Package tag implements the builtin action "tag": it adds, changes or
// removes tags on the task that runs it.
//
// The action only describes the change; the engine applies it to the task
// when the step result is committed. A tag whose value is empty (or null in
// the template) is removed; the other tags of the task are left untouched.
package tag

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/utask/utask/action"
)

// Name is the action type under which tag is registered.
const Name = "tag"

// ReservedKey is the tag that links a child task to its parent. Only the
// subtask and batch actions set it, so a tag step may not name it.
const ReservedKey = "_utask_parent_task_id"

// ErrReservedTag is returned when the configuration names ReservedKey.
var ErrReservedTag = fmt.Errorf("tag name %q not allowed", ReservedKey)

// config is the configuration of one tag step.
type config struct {
	// Tags maps each tag to its new value; an empty value (or null)
	// removes the tag.
	Tags map[string]string `json:"tags"`
}

type tagAction struct{}

// New returns the tag action.
func New() action.Action {
	return tagAction{}
}

// ValidateConfig checks the raw configuration: it must decode (every value a
// string or null) and must not name the reserved parent tag.
func (tagAction) ValidateConfig(base, cfg json.RawMessage) error {
	var c config
	if err := action.Overlay(base, cfg, &c); err != nil {
		return err //nolint:wrapcheck // Overlay names the operation
	}
	return c.validate()
}

// Run returns the configured tag changes as the result's tags, with a null
// output and metadata. The engine merges them into the task's tags.
func (tagAction) Run(_ context.Context, req action.Request) action.Result {
	var c config
	if err := action.Overlay(req.BaseConfig, req.Config, &c); err != nil {
		return action.Result{Err: err}
	}
	// Keys are never templated, so a validated configuration cannot reach
	// this; checking again keeps an edited resolution from forging the
	// parent link.
	if err := c.validate(); err != nil {
		return action.Result{Err: action.ClientError(err)}
	}
	tags := make(map[string]string, len(c.Tags))
	maps.Copy(tags, c.Tags)
	return action.Result{Tags: tags}
}

// Resources returns no resource: tag does no I/O.
func (tagAction) Resources(_, _ json.RawMessage) []string {
	return nil
}

// validate refuses the reserved parent tag.
func (c *config) validate() error {
	if _, ok := c.Tags[ReservedKey]; ok {
		return ErrReservedTag
	}
	return nil
}
