package server

import (
	"context"
	"errors"
	"sync"

	"github.com/utask/utask/action/subtask"
)

// lateTasks is the subtask action's access to tasks. Actions are registered
// before the templates load (validation needs them), and the service exists
// only once the engine does, so the service is plugged in afterwards.
type lateTasks struct {
	mu    sync.RWMutex
	tasks subtask.Tasks
}

var errNotReady = errors.New("subtasks are not available yet")

func (l *lateTasks) set(t subtask.Tasks) {
	l.mu.Lock()
	l.tasks = t
	l.mu.Unlock()
}

func (l *lateTasks) get() (subtask.Tasks, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.tasks == nil {
		return nil, errNotReady
	}
	return l.tasks, nil
}

func (l *lateTasks) CreateSubtask(ctx context.Context, req subtask.CreateRequest) (string, error) {
	t, err := l.get()
	if err != nil {
		return "", err
	}
	return t.CreateSubtask(ctx, req)
}

func (l *lateTasks) Subtask(ctx context.Context, id string) (*subtask.Child, error) {
	t, err := l.get()
	if err != nil {
		return nil, err
	}
	return t.Subtask(ctx, id)
}
