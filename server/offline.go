package server

import (
	"context"
	"errors"

	"github.com/utask/utask/action"
	"github.com/utask/utask/action/batch"
	"github.com/utask/utask/action/callback"
	"github.com/utask/utask/action/subtask"
)

// errNeedsServer is what the subtask, batch and callback actions answer in
// a local run: they create and read tasks and callbacks, which only a
// server keeps.
var errNeedsServer = errors.New("this action needs a utask server: it is not available in a local run")

// OfflineActions returns the builtin actions (BuiltinActions) plus subtask,
// batch and callback, whose configurations validate as on a server but
// whose runs fail with a server error: what `utask validate` and
// `utask run` use.
func OfflineActions(scriptsPath string) (*action.Registry, error) {
	registry, err := BuiltinActions(scriptsPath)
	if err != nil {
		return nil, err
	}
	var none offline
	for name, a := range map[string]action.Action{
		subtask.Name:  subtask.New(none),
		batch.Name:    batch.New(none),
		callback.Name: callback.New(none, callback.URLs{BaseURL: "http://localhost"}),
	} {
		if err := registry.Register(name, a); err != nil {
			return nil, err
		}
	}
	return registry, nil
}

// offline is the task and callback access of the actions in a local run:
// every operation fails with errNeedsServer.
type offline struct{}

func (offline) CreateSubtask(context.Context, subtask.CreateRequest) (string, error) {
	return "", errNeedsServer
}

func (offline) Subtask(context.Context, string) (*subtask.Child, error) { return nil, errNeedsServer }

func (offline) PopulateBatch(context.Context, batch.PopulateRequest) error { return errNeedsServer }

func (offline) RunningTasks(context.Context, string) (int, error) { return 0, errNeedsServer }

func (offline) ExtendRunMax(context.Context, string, string) error { return errNeedsServer }

func (offline) CreateCallback(context.Context, string, []byte) (*callback.Callback, error) {
	return nil, errNeedsServer
}

func (offline) Callback(context.Context, string) (*callback.Callback, error) {
	return nil, errNeedsServer
}
