package service

import (
	"context"

	"github.com/utask/utask/action/subtask"
	"github.com/utask/utask/auth"
)

// Subtasks lets the subtask action create and read child tasks through the
// service, with the same validation and auto-run rules as the API.
type Subtasks struct{ s *Service }

// Subtasks returns the service as the subtask action's Tasks.
func (s *Service) Subtasks() Subtasks { return Subtasks{s: s} }

// CreateSubtask creates a child task on behalf of the parent task's
// requester, tagged with the parent's id.
func (st Subtasks) CreateSubtask(ctx context.Context, req subtask.CreateRequest) (string, error) {
	id := auth.Identity{Username: req.RequesterUsername, Groups: req.RequesterGroups}
	creq := CreateTaskRequest{
		TemplateName:      req.Template,
		Input:             req.Input,
		WatcherUsernames:  req.WatcherUsernames,
		WatcherGroups:     req.WatcherGroups,
		ResolverUsernames: req.ResolverUsernames,
		ResolverGroups:    req.ResolverGroups,
		Tags:              req.Tags,
	}
	if req.Delay != nil {
		creq.Delay = *req.Delay
		if creq.Delay == "" {
			creq.Delay = "0s"
		}
	}
	// The template, not the requester, sets the resolvers of a subtask: the
	// owner check of the API does not apply.
	t, err := st.s.createTaskAs(ctx, id, creq, req.ParentTaskID)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// Subtask reads a child task.
func (st Subtasks) Subtask(ctx context.Context, id string) (*subtask.Child, error) {
	t, err := st.s.cfg.Store.TaskGet(ctx, id)
	if err != nil {
		return nil, wrap(KindNotFound, "load subtask", err)
	}
	return &subtask.Child{
		ID:                t.PublicID,
		State:             t.State,
		Result:            t.Result,
		ResolverUsername:  t.ResolverUsername,
		RequesterUsername: t.RequesterUsername,
		HasResolution:     t.ResolutionPublicID != "",
	}, nil
}
