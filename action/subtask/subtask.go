// Package subtask is the subtask action: a step that creates a task of
// another template and waits until it ends.
//
// The first run creates the child task on behalf of the parent task's
// requester, tagged with the parent's id; later runs find it again through
// the step's previous output. The step's state follows the child's: DONE
// when the child is DONE, CLIENT_ERROR when it was cancelled, refused or is
// blocked, WAITING while it waits for a human or runs. The engine wakes the
// parent as soon as the child's resolution ends a cycle in a final or
// blocked state.
package subtask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/utask/utask/action"
	"github.com/utask/utask/state"
)

// Name is the action type.
const Name = "subtask"

// ParentTag is the tag that links a child task to its parent.
const ParentTag = "_utask_parent_task_id"

// CreateRequest is a child task to create.
type CreateRequest struct {
	ParentTaskID      string
	Template          string
	Input             map[string]any
	RequesterUsername string
	RequesterGroups   []string
	ResolverUsernames []string
	ResolverGroups    []string
	WatcherUsernames  []string
	WatcherGroups     []string
	Delay             *string
	Tags              map[string]string
}

// Child is what the action sees of a child task.
type Child struct {
	ID                string
	State             string
	Result            map[string]any
	ResolverUsername  string
	RequesterUsername string
	HasResolution     bool
}

// Tasks creates and reads child tasks (the service implements it).
type Tasks interface {
	CreateSubtask(ctx context.Context, req CreateRequest) (string, error)
	Subtask(ctx context.Context, id string) (*Child, error)
}

// New returns the subtask action.
func New(tasks Tasks) action.Action {
	return &subtask{tasks: tasks}
}

type subtask struct {
	tasks Tasks
}

type config struct {
	Template          string            `json:"template"`
	Input             map[string]any    `json:"input"`
	JSONInput         string            `json:"json_input"`
	ResolverUsernames string            `json:"resolver_usernames"`
	ResolverGroups    string            `json:"resolver_groups"`
	WatcherUsernames  string            `json:"watcher_usernames"`
	WatcherGroups     string            `json:"watcher_groups"`
	Delay             *string           `json:"delay"`
	Tags              map[string]string `json:"tags"`
}

func (s *subtask) decode(base, raw json.RawMessage) (*config, error) {
	var c config
	if err := action.Overlay(base, raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// ValidateConfig checks the configuration without the known templates.
func (s *subtask) ValidateConfig(base, raw json.RawMessage) error {
	return s.ValidateConfigWithTemplates(base, raw, nil)
}

// ValidateConfigWithTemplates also checks that the child template exists
// (when templates is not nil).
func (s *subtask) ValidateConfigWithTemplates(base, raw json.RawMessage, templates map[string]bool) error {
	c, err := s.decode(base, raw)
	if err != nil {
		return err
	}
	if c.Template == "" {
		return errors.New("subtask: missing template name")
	}
	if templates != nil && !templates[c.Template] && !strings.Contains(c.Template, "{{") {
		return fmt.Errorf("subtask: template %q not found", c.Template)
	}
	if _, ok := c.Tags[ParentTag]; ok {
		return fmt.Errorf("subtask: tag name %q not allowed", ParentTag)
	}
	return nil
}

// Resources: none.
func (s *subtask) Resources(_, _ json.RawMessage) []string { return nil }

// Context asks the engine for the parent task and the child created by a
// previous run of this step.
func (s *subtask) Context(stepName string) map[string]any {
	return map[string]any{
		"parent_task_id":     "{{ .task.task_id }}",
		"task_id":            `{{ with index .step "` + stepName + `" }}{{ with .output }}{{ if kindIs "map" . }}{{ with index . "id" }}{{ . }}{{ end }}{{ end }}{{ end }}{{ end }}`,
		"requester_username": "{{ .task.requester_username }}",
		"requester_groups":   `{{ with .task.requester_groups }}{{ . }}{{ end }}`,
	}
}

// Run creates the child on the first run, reads it on later runs, and maps
// its state to the step's.
func (s *subtask) Run(ctx context.Context, req action.Request) action.Result {
	c, err := s.decode(req.BaseConfig, req.Config)
	if err != nil {
		return action.Result{Err: err}
	}
	str := func(k string) string {
		v, _ := req.Context[k].(string)
		return v
	}
	id := str("task_id")
	if id == "" {
		id, err = s.create(ctx, c, str("parent_task_id"), str("requester_username"), str("requester_groups"))
		if err != nil {
			return action.Result{Err: err}
		}
	}
	child, err := s.tasks.Subtask(ctx, id)
	if err != nil {
		return action.Result{Err: fmt.Errorf("load subtask %s: %w", id, err)}
	}
	out := map[string]any{
		"id":                 child.ID,
		"state":              child.State,
		"result":             child.Result,
		"requester_username": child.RequesterUsername,
		"resolver_username":  nil,
	}
	if child.ResolverUsername != "" {
		out["resolver_username"] = child.ResolverUsername
	}
	return action.Result{Output: out, Err: stateError(child)}
}

func (s *subtask) create(ctx context.Context, c *config, parent, requester, groups string) (string, error) {
	input := map[string]any{}
	for k, v := range c.Input {
		input[k] = v
	}
	if c.JSONInput != "" {
		var extra map[string]any
		if err := json.Unmarshal([]byte(c.JSONInput), &extra); err != nil {
			return "", fmt.Errorf("decode json_input: %w", err)
		}
		for k, v := range extra {
			input[k] = v
		}
	}
	req := CreateRequest{
		ParentTaskID:      parent,
		Template:          c.Template,
		Input:             input,
		RequesterUsername: requester,
		Delay:             c.Delay,
		Tags:              c.Tags,
	}
	if groups != "" {
		req.RequesterGroups = strings.Split(groups, ",")
	}
	for _, f := range []struct {
		name string
		raw  string
		dst  *[]string
	}{
		{"resolver_usernames", c.ResolverUsernames, &req.ResolverUsernames},
		{"resolver_groups", c.ResolverGroups, &req.ResolverGroups},
		{"watcher_usernames", c.WatcherUsernames, &req.WatcherUsernames},
		{"watcher_groups", c.WatcherGroups, &req.WatcherGroups},
	} {
		if f.raw == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return "", fmt.Errorf("decode %s: %w", f.name, err)
		}
	}
	id, err := s.tasks.CreateSubtask(ctx, req)
	if err != nil {
		return "", fmt.Errorf("create subtask: %w", err)
	}
	return id, nil
}

// stateError maps a child's state to the step's error class.
func stateError(c *Child) error {
	switch c.State {
	case state.TaskDone:
		return nil
	case state.TaskCancelled, state.TaskWontfix, state.TaskBlocked:
		return action.Clientf("Task '%s' changed state: %s", c.ID, strings.ToLower(c.State))
	case state.TaskTodo:
		if !c.HasResolution {
			return action.WaitingError(fmt.Errorf("Task %q is waiting for human validation", c.ID)) //nolint:staticcheck // µTask's text
		}
		return action.WaitingError(fmt.Errorf("Task %q will start shortly", c.ID)) //nolint:staticcheck // µTask's text
	case state.TaskRunning:
		// µTask retries a running child with back-off (TO_RETRY); the child
		// wakes its parent when it ends, so waiting is enough and cheaper.
		return action.WaitingError(fmt.Errorf("Task %q is currently RUNNING", c.ID)) //nolint:staticcheck // µTask's text
	}
	return action.WaitingError(fmt.Errorf("Task %q not done yet (current state is %s)", c.ID, c.State)) //nolint:staticcheck // µTask's text
}
