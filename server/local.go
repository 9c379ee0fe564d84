package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/utask/utask/action"
	"github.com/utask/utask/auth"
	"github.com/utask/utask/crypt"
	"github.com/utask/utask/engine"
	"github.com/utask/utask/service"
	"github.com/utask/utask/state"
	"github.com/utask/utask/store/sqlite"
	"github.com/utask/utask/template"
	"github.com/utask/utask/values"
)

// LocalOptions is what RunLocal runs.
type LocalOptions struct {
	// Template is the file of the template to run.
	Template string
	// FunctionsPath is the directory of functions the template may use.
	FunctionsPath string
	// ScriptsPath is the directory of the script action.
	ScriptsPath string
	// Input holds the inputs as text (name → value); each is converted to
	// the type its input declares.
	Input map[string][]string
	// ResolverInput holds the resolver inputs as text, converted the same way.
	ResolverInput map[string][]string
	// Retries is how many more cycles to run, at once, while the resolution
	// ends in ERROR (a dry run does not wait for back-off delays).
	Retries int
	// Events is told of every step state change.
	Events func(engine.Event)
	// Logger receives the engine's logs.
	Logger *slog.Logger
	// Actions, when set, registers extra actions.
	Actions func(*action.Registry) error
}

// LocalResult is how a local run ended.
type LocalResult struct {
	State  string         // the resolution's final state
	Result map[string]any // the task's result (when DONE)
	Steps  map[string]*template.Step
}

// RunLocal runs one template once, in this process, on a throwaway store
// that is removed afterwards: a dry run for template authors.
func RunLocal(ctx context.Context, opts LocalOptions) (*LocalResult, error) {
	registry, err := OfflineActions(opts.ScriptsPath)
	if err != nil {
		return nil, err
	}
	if opts.Actions != nil {
		if err := opts.Actions(registry); err != nil {
			return nil, fmt.Errorf("register actions: %w", err)
		}
	}
	functions, err := template.LoadFunctions(opts.FunctionsPath, registry)
	if err != nil {
		return nil, fmt.Errorf("load functions: %w", err)
	}
	valuesCache := values.NewCache(1024)
	catalog := &template.Catalog{Actions: registry, Functions: functions, Templates: map[string]bool{}, Syntax: valuesCache.Check}
	data, err := os.ReadFile(opts.Template)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	tmpl, err := template.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", opts.Template, err)
	}
	catalog.Templates[tmpl.Name] = true
	if err := template.Validate(tmpl, catalog); err != nil {
		return nil, fmt.Errorf("template %s: %w", opts.Template, err)
	}
	input, err := typedInputs(tmpl.Inputs, opts.Input)
	if err != nil {
		return nil, err
	}
	resolverInput, err := typedInputs(tmpl.ResolverInputs, opts.ResolverInput)
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "utask-run-")
	if err != nil {
		return nil, fmt.Errorf("create work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	item, err := crypt.GenerateKeyItem(rand.Reader, time.Now().Unix())
	if err != nil {
		return nil, err
	}
	keyring, err := crypt.ParseKeyring([]string{item})
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "run.db"), Sealer: keyring, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer db.Close()
	doc, err := json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	version, err := db.TemplateVersionPut(ctx, tmpl.Name, doc)
	if err != nil {
		return nil, err
	}
	instanceID, err := db.InstanceRegister(ctx, time.Now())
	if err != nil {
		return nil, err
	}
	valuesOpts := values.Options{Cache: valuesCache}
	eng, err := engine.New(engine.Config{
		Store: db, Catalog: catalog, Logger: opts.Logger, InstanceID: instanceID,
		ValuesOptions: valuesOpts, SingleInstance: true, Events: opts.Events,
	})
	if err != nil {
		return nil, err
	}
	defer eng.Stop()
	launched := &localRunner{Engine: eng}
	svc := service.New(service.Config{
		Store:     db,
		Runner:    launched,
		Templates: service.NewTemplates([]*template.Template{tmpl}, map[string]int64{tmpl.Name: version}),
		Policy:    auth.Policy{AdminUsernames: []string{localUser}},
		Values:    func() *values.Values { return values.New(valuesOpts) },
		Logger:    opts.Logger,
	})
	id := auth.Identity{Username: localUser}
	task, err := svc.CreateTask(ctx, id, service.CreateTaskRequest{TemplateName: tmpl.Name, Input: input})
	if err != nil {
		return nil, err
	}
	resID := task.Resolution
	if resID == "" {
		res, err := svc.CreateResolution(ctx, id, service.CreateResolutionRequest{TaskID: task.ID, ResolverInputs: resolverInput})
		if err != nil {
			return nil, err
		}
		resID = res.ID
	}
	for attempt := 0; ; attempt++ {
		if err := eng.RunSync(ctx, resID); err != nil {
			return nil, err
		}
		res, err := db.ResolutionGet(ctx, resID)
		if err != nil {
			return nil, err
		}
		if res.State != state.ResError || attempt >= opts.Retries {
			t, err := db.TaskGet(ctx, task.ID)
			if err != nil {
				return nil, err
			}
			steps, err := eng.Steps(ctx, res)
			if err != nil {
				return nil, err
			}
			return &LocalResult{State: res.State, Result: t.Result, Steps: steps}, nil
		}
	}
}

const localUser = "local"

// localRunner lets the local run drive cycles itself: the service's
// launches are ignored.
type localRunner struct {
	*engine.Engine
}

func (localRunner) Launch(string) {}

// typedInputs converts text inputs to the types their definitions declare.
func typedInputs(inputs []template.Input, raw map[string][]string) (map[string]any, error) {
	defs := map[string]template.Input{}
	for _, in := range inputs {
		defs[in.Name] = in
	}
	out := map[string]any{}
	for name, vals := range raw {
		def, ok := defs[name]
		if !ok {
			return nil, fmt.Errorf("input %q: the template declares no such input", name)
		}
		conv := func(v string) (any, error) {
			switch def.Type {
			case template.InputTypeNumber:
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					return nil, fmt.Errorf("input %q: %q is not a number", name, v)
				}
				return json.Number(v), nil
			case template.InputTypeBool:
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, fmt.Errorf("input %q: %q is not a boolean", name, v)
				}
				return b, nil
			}
			return v, nil
		}
		if def.Collection {
			list := []any{}
			for _, v := range vals {
				for _, part := range strings.Split(v, ",") {
					c, err := conv(part)
					if err != nil {
						return nil, err
					}
					list = append(list, c)
				}
			}
			out[name] = list
			continue
		}
		if len(vals) != 1 {
			return nil, errors.New("input " + strconv.Quote(name) + ": given several times but not a collection")
		}
		c, err := conv(vals[0])
		if err != nil {
			return nil, err
		}
		out[name] = c
	}
	return out, nil
}
