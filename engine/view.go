package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/utask/utask/state"
	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// Steps returns the steps of a resolution as µTask shows them: each step's
// definition with its state, output, metadata, children, error and counters.
// Steps that never ran are TODO.
func (e *Engine) Steps(ctx context.Context, r *store.Resolution) (map[string]*template.Step, error) {
	task, err := e.taskOf(ctx, r)
	if err != nil {
		return nil, err
	}
	p, err := e.plan(ctx, e.cfg.Store, task.TemplateVersion)
	if err != nil {
		return nil, err
	}
	rows, err := e.cfg.Store.StepList(ctx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	if p, err = p.withOverrides(rows, e.cfg.Catalog); err != nil {
		return nil, err
	}
	byName := make(map[string]*store.Step, len(rows))
	for _, row := range rows {
		byName[row.Name] = row
	}
	out := make(map[string]*template.Step, len(rows))
	add := func(def *stepDef, row *store.Step) {
		s := *def.step
		s.Name = row.Name
		s.State = row.State
		s.TryCount = row.TryCount
		s.MaxRetries = row.MaxRetries
		s.LastRun = row.LastRun
		if s.LastRun == nil {
			s.LastRun = &time.Time{} // µTask shows 0001-01-01T00:00:00Z for a step that never ran
		}
		s.Output = row.Data.Output
		s.Metadata = row.Data.Metadata
		s.Children = row.Data.Children
		s.Error = row.Data.Error
		s.Item = row.Data.Item
		s.Tags = row.Data.Tags
		s.ChildrenSteps = row.Data.ChildrenSteps
		s.Dependencies = nil
		for _, d := range def.deps {
			s.Dependencies = append(s.Dependencies, depString(d))
		}
		if len(row.Data.ChildrenSteps) > 0 {
			s.ChildrenStepsMap = make(map[string]bool, len(row.Data.ChildrenSteps))
			for _, c := range row.Data.ChildrenSteps {
				s.ChildrenStepsMap[c] = true
				s.Dependencies = append(s.Dependencies, c+":"+state.Any)
			}
		}
		out[row.Name] = &s
	}
	for _, name := range p.names {
		def := p.steps[name]
		row := byName[name]
		if row == nil {
			row = &store.Step{Name: name, State: state.Todo, MaxRetries: def.step.MaxRetries}
		}
		add(def, row)
		for i, cname := range row.Data.ChildrenSteps {
			crow := byName[cname]
			if crow == nil {
				crow = &store.Step{Name: cname, State: state.Todo, MaxRetries: def.step.MaxRetries}
			}
			add(def.child(i), crow)
		}
	}
	return out, nil
}

func depString(d template.Dependency) string {
	if len(d.States) == 1 && d.States[0] == state.Done {
		return d.Step
	}
	return d.Step + ":" + strings.Join(d.States, ",")
}

func (e *Engine) taskOf(ctx context.Context, r *store.Resolution) (*store.Task, error) {
	if r.TaskPublicID == "" {
		return nil, fmt.Errorf("resolution %s: task unknown", r.PublicID)
	}
	t, err := e.cfg.Store.TaskGet(ctx, r.TaskPublicID)
	if err != nil {
		return nil, fmt.Errorf("load task: %w", err)
	}
	return t, nil
}
